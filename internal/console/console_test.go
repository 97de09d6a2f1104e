package console

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gin-gonic/gin"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/platform/web"
)

func TestServeRules(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	big := strings.Repeat("console.log('全民参保');\n", 200)
	fsys := fstest.MapFS{
		"index.html":          {Data: []byte("<!doctype html><div id=app></div>")},
		"favicon.svg":         {Data: []byte("<svg/>")},
		"assets/app-AbC12.js": {Data: []byte(big)},
	}
	engine := gin.New()
	engine.Use(web.Errors(slog.New(slog.NewTextHandler(io.Discard, nil)))) // renders 404 as the API does
	r := auth.NewRouter(engine, auth.NewMiddleware(nil, nil), nil)
	New(fsys).Routes(r)
	if err := r.Verify(); err != nil {
		t.Fatal(err)
	}
	get := func(p string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, p, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		engine.ServeHTTP(w, req)
		return w
	}
	cases := []struct {
		path, cache string
		code        int
		index       bool
	}{
		{"/console/", CacheNoCache, 200, true},
		{"/console/campaigns/12", CacheNoCache, 200, true},
		{"/console/roster?village=luoxi", CacheNoCache, 200, true},
		{"/console/favicon.svg", CacheNoCache, 200, false},
		{"/console/assets/app-AbC12.js", CacheImmutable, 200, false},
		{"/console/assets/app-old.js", "", 404, false},
		{"/console/assets", "", 404, false},
		{"/console/robots.txt", "", 404, false},
	}
	for _, c := range cases {
		w := get(c.path)
		if w.Code != c.code || w.Header().Get("Cache-Control") != c.cache {
			t.Errorf("%s: %d %q, want %d %q", c.path, w.Code, w.Header().Get("Cache-Control"), c.code, c.cache)
		}
		if c.index != strings.Contains(w.Body.String(), "id=app") {
			t.Errorf("%s: index.html = %v, want %v", c.path, !c.index, c.index)
		}
		if w.Header().Get("Content-Security-Policy") != CSP {
			t.Errorf("%s: CSP %q", c.path, w.Header().Get("Content-Security-Policy"))
		}
	}
	if w := get("/"); w.Code != http.StatusFound || w.Header().Get("Location") != Prefix || w.Body.Len() != 0 {
		t.Errorf("/: %d %q %q", w.Code, w.Header().Get("Location"), w.Body.String())
	}
	w := get("/console/assets/app-AbC12.js", "Accept-Encoding", "gzip")
	if w.Header().Get("Content-Encoding") != "gzip" || w.Header().Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip: %v", w.Header())
	}
	zr, err := gzip.NewReader(bytes.NewReader(w.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if string(plain) != big || w.Body.Len() >= len(big) {
		t.Errorf("gzip body: %d bytes inflating to %d", w.Body.Len(), len(plain))
	}
	if w := get("/console/assets/app-AbC12.js", "Accept-Encoding", "gzip;q=0"); w.Header().Get("Content-Encoding") != "" {
		t.Error("gzip sent although refused")
	}
}
