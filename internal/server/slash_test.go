package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/server/servertest"
)

// TestTrailingSlashIsTheAPIs404: gin used to answer a path with one slash too many (or too few)
// with a redirect and an HTML body (301 for GET, 307 for POST), which no client of a JSON API
// can read. The API answers those paths as any unknown path, with its JSON 404; only the
// console's own /console is redirected to /console/, with no body.
func TestTrailingSlashIsTheAPIs404(t *testing.T) {
	env := servertest.New(t)
	staff, _ := env.Staff(auth.RoleStaff, "")
	for _, r := range []servertest.Request{
		{Method: http.MethodGet, Path: "/api/v1/admin/campaigns/", Token: staff},
		{Method: http.MethodGet, Path: "/api/v1/villages/"},
		{Method: http.MethodGet, Path: "/healthz/"},
		{Method: http.MethodPost, Path: "/api/v1/auth/login/", Body: map[string]string{"username": "x", "password": "y"}},
	} {
		w := env.Do(r)
		if w.Code != http.StatusNotFound || w.ErrorCode() != "NOT_FOUND" || w.Header.Get("Location") != "" ||
			!strings.HasPrefix(w.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d Location %q %q %s, want the API's JSON 404", r.Method, r.Path, w.Code,
				w.Header.Get("Location"), w.Header.Get("Content-Type"), w.Body)
		}
	}
	w := env.Do(servertest.Request{Method: http.MethodGet, Path: "/console"})
	if w.Code != http.StatusMovedPermanently || w.Header.Get("Location") != "/console/" || len(w.Body) != 0 {
		t.Errorf("/console: %d Location %q body %q, want 301 to /console/ with no body", w.Code, w.Header.Get("Location"), w.Body)
	}
	w = env.Do(servertest.Request{Method: http.MethodGet, Path: "/console?from=bookmark"})
	if w.Code != http.StatusMovedPermanently || w.Header.Get("Location") != "/console/?from=bookmark" {
		t.Errorf("/console?from=bookmark: %d Location %q", w.Code, w.Header.Get("Location"))
	}
}
