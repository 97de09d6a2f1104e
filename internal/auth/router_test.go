package auth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/canbao/canbao/internal/auth"
)

// TestRouterIdempotent: the Idempotency-Key middleware comes from the router every area
// registers its routes on; a router built without one refuses a route that asks for it, as it
// refuses a route without a policy.
func TestRouterIdempotent(t *testing.T) {
	ran := false
	idem := func(c *gin.Context) { ran = true; c.Next() }
	e := gin.New()
	r := auth.NewRouter(e, nil, idem)
	r.Handle(http.MethodGet, "/x", auth.Public(), r.Idempotent(), func(c *gin.Context) { c.Status(http.StatusNoContent) })
	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x", nil))
	if w.Code != http.StatusNoContent || !ran {
		t.Fatalf("status %d, middleware ran %v", w.Code, ran)
	}

	defer func() {
		if recover() == nil {
			t.Fatal("a router without the middleware handed out none")
		}
	}()
	auth.NewRouter(gin.New(), nil, nil).Idempotent()
}
