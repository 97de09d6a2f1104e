package auth

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/web"
)

// Middleware authenticates bearer tokens and checks roles.
type Middleware struct {
	tokens   *Tokens
	subjects *Subjects
}

// NewMiddleware wires the token verifier and the subjects' current state.
func NewMiddleware(t *Tokens, s *Subjects) *Middleware { return &Middleware{tokens: t, subjects: s} }

var errTokenInvalid = errs.New(errs.TokenInvalid, "登录已失效，请重新登录")

// Authenticate requires a valid, current access token and puts the principal in the context.
func (m *Middleware) Authenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.GetHeader("Authorization")
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || token == "" {
			web.Fail(c, errs.ErrUnauthenticated)
			return
		}
		p, err := m.tokens.Parse(strings.TrimSpace(token))
		if err != nil {
			web.Fail(c, errTokenInvalid)
			return
		}
		st, err := m.subjects.Current(c.Request.Context(), p.Kind, p.ID)
		if errors.Is(err, errs.ErrNotFound) {
			web.Fail(c, errTokenInvalid)
			return
		}
		if err != nil {
			web.Fail(c, err)
			return
		}
		if st.Disabled || st.Version != p.Version {
			web.Fail(c, errTokenInvalid)
			return
		}
		// Role and village come from the database, so a change applies at once.
		p.Role, p.Village = st.Role, st.Village
		c.Set(principalKey, p)
		c.Next()
	}
}

// Require lets through only the listed roles; others get 403.
func Require(roles ...Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := FromContext(c)
		if !ok {
			web.Fail(c, errs.ErrUnauthenticated)
			return
		}
		if !slices.Contains(roles, p.Role) {
			web.Fail(c, errs.ErrForbidden)
			return
		}
		c.Next()
	}
}

// Policy declares who may call a route. Every route has one; the router refuses to start
// with a route that has none.
type Policy struct {
	Public bool
	Roles  []Role
	// Cacheable marks a public route whose answers hold no personal data and may be kept by
	// clients and proxies (the handler sets its own Cache-Control). Every other route answers
	// Cache-Control: no-store, so a route that answers personal data cannot forget it.
	Cacheable bool
}

// Public is the policy of routes anyone may call.
func Public() Policy { return Policy{Public: true} }

// PublicCacheable is Public for reference data anyone may cache (villages, tiers, policies).
func PublicCacheable() Policy { return Policy{Public: true, Cacheable: true} }

// Allow is the policy of routes for the listed roles. Village-bound roles are further limited
// to their village by the handlers, from the principal, never from the request.
func Allow(roles ...Role) Policy { return Policy{Roles: roles} }

// Authenticated allows any signed-in caller.
func Authenticated() Policy { return Allow(AllRoles...) }

// Router registers routes with their policies. Every area registers its routes the same way,
// with a method Routes(r *Router); a route that honours Idempotency-Key puts r.Idempotent()
// before its handler.
type Router struct {
	engine   *gin.Engine
	mw       *Middleware
	idem     gin.HandlerFunc
	policies map[string]Policy
}

// NewRouter wraps engine; idem is the Idempotency-Key middleware (nil when no route uses it).
func NewRouter(engine *gin.Engine, mw *Middleware, idem gin.HandlerFunc) *Router {
	return &Router{engine: engine, mw: mw, idem: idem, policies: map[string]Policy{}}
}

// Idempotent is the Idempotency-Key middleware, for the routes that honour the header. It
// panics, as a route without a policy does, when the router was built without one.
func (r *Router) Idempotent() gin.HandlerFunc {
	if r.idem == nil {
		panic("auth: a route asks for the Idempotency-Key middleware and the router has none")
	}
	return r.idem
}

// Handle registers a route with its policy; authentication and role checks run first.
func (r *Router) Handle(method, path string, p Policy, h ...gin.HandlerFunc) {
	if !p.Public && len(p.Roles) == 0 {
		panic(fmt.Sprintf("auth: route %s %s has an empty policy", method, path))
	}
	if p.Cacheable && !p.Public {
		panic(fmt.Sprintf("auth: route %s %s is cacheable but not public", method, path))
	}
	key := method + " " + path
	if _, dup := r.policies[key]; dup {
		panic("auth: route declared twice: " + key)
	}
	r.policies[key] = p
	chain := make([]gin.HandlerFunc, 0, len(h)+3)
	if !p.Cacheable {
		chain = append(chain, noStore)
	}
	if !p.Public {
		chain = append(chain, r.mw.Authenticate(), Require(p.Roles...))
	}
	r.engine.Handle(method, path, append(chain, h...)...)
}

// noStore keeps answers out of browser and proxy caches; it runs before authentication, so
// 401 and 403 answers carry it too.
func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Next()
}

// Policy returns the declared policy of a route.
func (r *Router) Policy(method, path string) (Policy, bool) {
	p, ok := r.policies[method+" "+path]
	return p, ok
}

// Verify fails when the engine serves a route that was not declared with a policy.
func (r *Router) Verify() error {
	var missing []string
	for _, rt := range r.engine.Routes() {
		if _, ok := r.policies[rt.Method+" "+rt.Path]; !ok {
			missing = append(missing, rt.Method+" "+rt.Path)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("auth: routes without a declared policy: %s", strings.Join(missing, ", "))
	}
	return nil
}
