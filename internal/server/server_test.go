package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/pii/keycheck"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/deadaddr"
	"github.com/canbao/canbao/internal/server"
	"github.com/canbao/canbao/internal/server/servertest"
)

// TestEveryRouteHasAPolicyAndLowerRolesGet403 walks engine.Routes(): each route has a declared
// policy, anonymous callers of protected routes get 401, and every role outside the policy 403.
func TestEveryRouteHasAPolicyAndLowerRolesGet403(t *testing.T) {
	env := servertest.New(t)
	env.SkipContract = true // bodies are empty on purpose: only the gate is under test
	// Fresh tokens per route: some routes (logout) revoke the caller's tokens.
	tokensFor := func() map[auth.Role]string {
		tokens := map[auth.Role]string{}
		for _, r := range auth.StaffRoles {
			village := ""
			if r.VillageBound() {
				village = "zhenxing"
			}
			tokens[r], _ = env.Staff(r, village)
		}
		tokens[auth.RoleResident], _ = env.Resident()
		return tokens
	}

	routes := env.Server.Engine.Routes()
	if len(routes) < 5 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, rt := range routes {
		p, ok := env.Server.Router.Policy(rt.Method, rt.Path)
		if !ok {
			t.Errorf("%s %s has no policy", rt.Method, rt.Path)
			continue
		}
		if p.Public {
			continue
		}
		path := strings.NewReplacer(":id", "1", ":slug", "x").Replace(rt.Path)
		if w := env.Do(servertest.Request{Method: rt.Method, Path: path}); w.Code != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: %d, want 401", rt.Method, rt.Path, w.Code)
		}
		for role, tok := range tokensFor() {
			allowed := false
			for _, a := range p.Roles {
				allowed = allowed || a == role
			}
			w := env.Do(servertest.Request{Method: rt.Method, Path: path, Token: tok})
			if !allowed && w.Code != http.StatusForbidden {
				t.Errorf("%s %s as %s: %d, want 403", rt.Method, rt.Path, role, w.Code)
			}
			if allowed && (w.Code == http.StatusForbidden || w.Code == http.StatusUnauthorized) {
				t.Errorf("%s %s as %s: %d, want it let through", rt.Method, rt.Path, role, w.Code)
			}
		}
	}
}

// TestSpecAndEngineAgree: every served route is in api/openapi.yaml with the same roles as its
// declared policy, and every documented route is served (campaign routes arrive with the engine).
func TestSpecAndEngineAgree(t *testing.T) {
	env := servertest.New(t)
	v := servertest.Contract(t)
	served := map[string]bool{}
	for _, rt := range env.Server.Engine.Routes() {
		path := rt.Path
		for _, seg := range strings.Split(rt.Path, "/") {
			if strings.HasPrefix(seg, ":") || strings.HasPrefix(seg, "*") { // *x: the console's catch-all
				path = strings.Replace(path, seg, "{"+seg[1:]+"}", 1)
			}
		}
		served[rt.Method+" "+path] = true
		roles := v.Roles(rt.Method, path)
		if roles == nil {
			t.Errorf("%s %s is served but not in the spec", rt.Method, path)
			continue
		}
		p, _ := env.Server.Router.Policy(rt.Method, rt.Path)
		var want []string
		if p.Public {
			want = []string{"public"}
		}
		for _, r := range p.Roles {
			want = append(want, string(r))
		}
		slices.Sort(want)
		got := slices.Clone(roles)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s %s: spec x-roles %v, policy %v", rt.Method, path, got, want)
		}
	}
	for _, r := range v.Routes() {
		if !served[r[0]+" "+r[1]] && !strings.HasPrefix(r[1], "/api/v1/admin/campaigns") {
			t.Errorf("%s %s is in the spec but not served", r[0], r[1])
		}
	}
}

func TestRouteWithoutPolicyFailsStartup(t *testing.T) {
	env := servertest.New(t)
	env.Server.Engine.GET("/sneaky", func(c *gin.Context) {})
	if err := env.Server.Router.Verify(); err == nil || !strings.Contains(err.Error(), "/sneaky") {
		t.Fatalf("Verify: %v", err)
	}
}

func TestHealthReadyMetricsVillages(t *testing.T) {
	env := servertest.New(t)
	if w := env.Do(servertest.Request{Method: "GET", Path: "/healthz"}); w.Code != 200 {
		t.Fatalf("healthz %d", w.Code)
	}
	if w := env.Do(servertest.Request{Method: "GET", Path: "/readyz"}); w.Code != 200 {
		t.Fatalf("readyz %d %s", w.Code, w.Body)
	}
	w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/villages"})
	var list struct {
		Items []struct{ Code, Name string }
		Total int
	}
	w.JSON(t, &list)
	if w.Code != 200 || list.Total != 2 || list.Items[0].Code != "zhenxing" || list.Items[0].Name != "振兴村" {
		t.Fatalf("villages: %d %s", w.Code, w.Body)
	}
	m := env.Do(servertest.Request{Method: "GET", Path: "/metrics"})
	if m.Code != 200 || !strings.Contains(string(m.Body), `canbao_http_requests_total{method="GET",route="/api/v1/villages",status="200"} 1`) {
		t.Fatalf("metrics: %d\n%s", m.Code, m.Body)
	}
	nf := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/nowhere"})
	if nf.Code != 404 || nf.ErrorCode() != "NOT_FOUND" {
		t.Fatalf("unknown route: %d %s", nf.Code, nf.Body)
	}
}

// TestReadyzIs503WhenABackingServiceIsDown points the server at closed ports.
func TestReadyzIs503WhenABackingServiceIsDown(t *testing.T) {
	env := servertest.New(t)
	deadDB := sqlx.MustOpen("mysql", "root@tcp("+deadaddr.Refused(t)+")/x?timeout=200ms")
	defer deadDB.Close()
	deadRedis := redis.NewClient(&redis.Options{Addr: deadaddr.Refused(t), DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer deadRedis.Close()
	for name, deps := range map[string]server.Deps{
		"mysql down": {DB: deadDB, Redis: env.Redis},
		"redis down": {DB: env.DB, Redis: deadRedis},
	} {
		t.Run(name, func(t *testing.T) {
			deps.Config, deps.Keyring, deps.Rules = env.Config, env.Keyring, env.Rules
			deps.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
			srv, err := server.New(deps)
			if err != nil {
				t.Fatal(err)
			}
			e2 := *env
			e2.Server = srv
			w := e2.Do(servertest.Request{Method: "GET", Path: "/readyz"})
			if w.Code != 503 || w.Header.Get("Retry-After") == "" {
				t.Fatalf("readyz: %d %s", w.Code, w.Body)
			}
		})
	}
}

var _ = context.Background
var _ = database.Now

// TestReadyzFailsWhenThePIIKeyCheckFails: a database whose key check value for the key id in
// use is another key's makes /readyz fail, naming the setting.
func TestReadyzFailsWhenThePIIKeyCheckFails(t *testing.T) {
	env := servertest.New(t)
	if err := keycheck.Ensure(context.Background(), env.DB, env.Keyring); err != nil {
		t.Fatal(err)
	}
	w := env.Do(servertest.Request{Method: "GET", Path: "/readyz"})
	if w.Code != 200 || !strings.Contains(string(w.Body), `"pii_key":"ok"`) {
		t.Fatalf("readyz with the right key: %d %s", w.Code, w.Body)
	}
	env.Exec(`UPDATE pii_key_checks SET check_value = UNHEX(REPEAT('cd', 32)) WHERE key_id = 'k1'`)
	w = env.Do(servertest.Request{Method: "GET", Path: "/readyz"})
	if w.Code != 503 || !strings.Contains(string(w.Body), "CANBAO_PII_KEY") || !strings.Contains(string(w.Body), `\"k1\"`) {
		t.Fatalf("readyz with another key's check value: %d %s", w.Code, w.Body)
	}
}
