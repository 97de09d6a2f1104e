package server_test

import (
	"io/fs"
	"net/http"
	"strings"
	"testing"

	"github.com/canbao/canbao/internal/console"
	"github.com/canbao/canbao/internal/server/servertest"
	webui "github.com/canbao/canbao/web"
)

// TestConsoleIsServed drives the embedded console through the whole gin engine: cache headers,
// deep links, the redirect from /, the CSP, 404 for unknown assets, and the API's own 404
// answer left alone.
func TestConsoleIsServed(t *testing.T) {
	env := servertest.New(t)
	get := func(path string, hdr map[string]string) *servertest.Response {
		t.Helper()
		return env.Do(servertest.Request{Method: http.MethodGet, Path: path, Header: hdr})
	}
	index, err := fs.ReadFile(webui.DistFS, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	assets, _ := fs.Glob(webui.DistFS, "assets/*.js")
	if len(assets) == 0 {
		t.Fatal("web/dist has no assets/*.js: run make web")
	}

	w := get("/", nil)
	if w.Code != http.StatusFound || w.Header.Get("Location") != "/console/" {
		t.Fatalf("/: %d Location %q", w.Code, w.Header.Get("Location"))
	}

	for _, p := range []string{"/console/", "/console/index.html", "/console/campaigns/12", "/console/roster"} {
		w := get(p, nil)
		if w.Code != 200 || string(w.Body) != string(index) {
			t.Errorf("%s: %d, want index.html (%d bytes, got %d)", p, w.Code, len(index), len(w.Body))
		}
		if cc := w.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s: Cache-Control %q", p, cc)
		}
		if ct := w.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("%s: Content-Type %q", p, ct)
		}
		csp := w.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self';", "frame-ancestors 'none'", "object-src 'none'", "connect-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-eval") || strings.Contains(w.Header.Get("Content-Security-Policy"), "script-src 'self' 'unsafe-inline'") {
			t.Errorf("%s: CSP allows eval or inline scripts: %q", p, csp)
		}
		if w.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", p)
		}
	}

	asset := "/console/" + assets[0]
	w = get(asset, nil)
	if w.Code != 200 || len(w.Body) == 0 {
		t.Fatalf("%s: %d", asset, w.Code)
	}
	if cc := w.Header.Get("Cache-Control"); cc != console.CacheImmutable {
		t.Errorf("%s: Cache-Control %q", asset, cc)
	}
	if ct := w.Header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("%s: Content-Type %q", asset, ct)
	}
	if w.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("%s: no CSP", asset)
	}
	// Revalidation of an unchanged file.
	if w2 := get(asset, map[string]string{"If-None-Match": w.Header.Get("ETag")}); w2.Code != http.StatusNotModified {
		t.Errorf("%s with its ETag: %d, want 304", asset, w2.Code)
	}
	// Compressed for browsers that accept it, the same file once inflated.
	if w2 := get(asset, map[string]string{"Accept-Encoding": "gzip, deflate, br"}); len(w.Body) > 1024 &&
		(w2.Header.Get("Content-Encoding") != "gzip" || len(w2.Body) >= len(w.Body)) {
		t.Errorf("%s gzip: encoding %q, %d bytes of %d", asset, w2.Header.Get("Content-Encoding"), len(w2.Body), len(w.Body))
	}

	for _, p := range []string{"/console/assets/nope-123.js", "/console/assets/", "/console/favicon-missing.ico", "/console/../go.mod"} {
		w := get(p, nil)
		if w.Code != http.StatusNotFound || w.ErrorCode() != "NOT_FOUND" {
			t.Errorf("%s: %d %s, want 404 NOT_FOUND", p, w.Code, w.Body)
		}
	}

	// The API keeps its JSON 404.
	w = get("/api/v1/nope", nil)
	if w.Code != http.StatusNotFound || w.ErrorCode() != "NOT_FOUND" || w.Header.Get("Content-Security-Policy") != "" {
		t.Errorf("/api/v1/nope: %d %s", w.Code, w.Body)
	}
	w = get("/console", nil) // the console redirects its folder itself
	if w.Code != http.StatusMovedPermanently || w.Header.Get("Location") != "/console/" {
		t.Errorf("/console: %d %q", w.Code, w.Header.Get("Location"))
	}
}
