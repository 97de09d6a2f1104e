package auth_test

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/config"
	"github.com/canbao/canbao/internal/server/servertest"
	"github.com/canbao/canbao/internal/village"
)

const goodPassword = "Village-Staff-2019"

func createUser(t *testing.T, env *servertest.Env, username string, role auth.Role, villageCode string) int64 {
	t.Helper()
	id, err := auth.CreateStaffUser(servertest.Ctx(), env.DB, village.NewStore(env.DB), auth.NewStaffUser{Username: username, Password: goodPassword, Role: role, VillageCode: villageCode})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

type session struct {
	Token        string `json:"token"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	User         struct {
		ID          int64   `json:"id"`
		Username    string  `json:"username"`
		Role        string  `json:"role"`
		VillageCode *string `json:"village_code"`
	} `json:"user"`
}

func login(env *servertest.Env, username, password string) *servertest.Response {
	return env.Do(servertest.Request{Method: "POST", Path: "/api/v1/auth/staff", Body: map[string]string{"username": username, "password": password}})
}

func TestStaffLoginTokenWorksAndCarriesNoSecrets(t *testing.T) {
	env := servertest.New(t)
	createUser(t, env, "admin1", auth.RoleAdmin, "")
	createUser(t, env, "vol1", auth.RoleVolunteer, "zhenxing")
	w := login(env, "admin1", goodPassword)
	if w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	var s session
	w.JSON(t, &s)
	if s.Token == "" || s.RefreshToken == "" || s.ExpiresIn != 1800 || s.User.Role != "admin" || s.User.VillageCode != nil {
		t.Fatalf("session: %+v", s)
	}
	if w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/users", Token: s.Token}); w.Code != 200 {
		t.Fatalf("admin route with the new token: %d %s", w.Code, w.Body)
	}
	w = login(env, "VOL1", goodPassword) // usernames are case-insensitive
	var v session
	w.JSON(t, &v)
	if w.Code != 200 || v.User.VillageCode == nil || *v.User.VillageCode != "zhenxing" {
		t.Fatalf("volunteer login: %d %s", w.Code, w.Body)
	}
	if w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/users", Token: v.Token}); w.Code != 403 {
		t.Fatalf("volunteer on an admin route: %d", w.Code)
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login' AND result = 'success'`); n != 2 {
		t.Fatalf("audit rows for logins: %d", n)
	}
}

func TestUnknownUserAndWrongPasswordLookTheSame(t *testing.T) {
	env := servertest.New(t)
	createUser(t, env, "alice", auth.RoleStaff, "")
	a := login(env, "alice", "Wrong-Password-1")
	b := login(env, "nobody", "Wrong-Password-1")
	if a.Code != 401 || b.Code != 401 || string(a.Body) != string(b.Body) {
		t.Fatalf("answers differ: %d %s / %d %s", a.Code, a.Body, b.Code, b.Body)
	}
	if a.ErrorCode() != "INVALID_CREDENTIALS" {
		t.Fatalf("code %s", a.ErrorCode())
	}
}

func TestLockoutAfterRepeatedFailures(t *testing.T) {
	env := servertest.New(t)
	createUser(t, env, "bob", auth.RoleStaff, "")
	for i := 0; i < 4; i++ {
		if w := login(env, "bob", "Wrong-Password-1"); w.Code != 401 {
			t.Fatalf("failure %d: %d", i+1, w.Code)
		}
	}
	w := login(env, "bob", "Wrong-Password-1")
	if w.Code != 429 || w.ErrorCode() != "ACCOUNT_LOCKED" || w.Header.Get("Retry-After") == "" {
		t.Fatalf("5th failure: %d %s", w.Code, w.Body)
	}
	if w := login(env, "bob", goodPassword); w.Code != 429 {
		t.Fatalf("the right password while locked: %d", w.Code)
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'auth.lockout'`); n != 1 {
		t.Fatalf("lockout audit rows: %d", n)
	}
	// An unknown name locks the same way, so lockout does not reveal which names exist.
	for i := 0; i < 4; i++ {
		login(env, "ghost", "Wrong-Password-1")
	}
	if w := login(env, "ghost", "Wrong-Password-1"); w.Code != 429 || w.ErrorCode() != "ACCOUNT_LOCKED" {
		t.Fatalf("unknown user after 5 failures: %d %s", w.Code, w.Body)
	}
}

func TestLoginRateLimitPerIP(t *testing.T) {
	env := servertest.New(t, func(c *config.Config) { c.Auth.LoginRatePerIP = 3 })
	for i := 0; i < 3; i++ {
		if w := login(env, fmt.Sprintf("user%d", i), "x"); w.Code != 401 {
			t.Fatalf("attempt %d: %d %s", i, w.Code, w.Body)
		}
	}
	w := login(env, "user9", "x")
	if w.Code != 429 || w.Header.Get("Retry-After") == "" {
		t.Fatalf("4th attempt from one IP: %d", w.Code)
	}
	// Another IP is not limited; X-Forwarded-For from an untrusted peer is ignored.
	if w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/auth/staff", Remote: "198.51.100.7:5555",
		Body: map[string]string{"username": "x1", "password": "y"}}); w.Code != 401 {
		t.Fatalf("other IP: %d", w.Code)
	}
	if w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/auth/staff", Header: map[string]string{"X-Forwarded-For": "203.0.113.9"},
		Body: map[string]string{"username": "x2", "password": "y"}}); w.Code != 429 {
		t.Fatalf("a spoofed X-Forwarded-For escaped the limit: %d", w.Code)
	}
}

func TestRevocationTakesEffectAtOnce(t *testing.T) {
	env := servertest.New(t)
	adminTok, _ := env.Staff(auth.RoleAdmin, "")
	volID := createUser(t, env, "vol2", auth.RoleVolunteer, "zhenxing")
	fresh := func() session {
		var s session
		w := login(env, "vol2", goodPassword)
		if w.Code != 200 {
			t.Fatalf("login: %d %s", w.Code, w.Body)
		}
		w.JSON(t, &s)
		return s
	}
	usable := func(tok string) int {
		return env.Do(servertest.Request{Method: "POST", Path: "/api/v1/auth/logout", Token: tok}).Code
	}
	id := strconv.FormatInt(volID, 10)

	t.Run("disable", func(t *testing.T) {
		s := fresh()
		// warm the subject cache so the test proves invalidation, not a cold read
		env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/users", Token: s.Token})
		w := env.Do(servertest.Request{Method: "PATCH", Path: "/api/v1/admin/users/" + id, Token: adminTok, Body: map[string]any{"disabled": true}})
		if w.Code != 200 {
			t.Fatalf("disable: %d %s", w.Code, w.Body)
		}
		if code := usable(s.Token); code != 401 {
			t.Fatalf("a disabled volunteer's old token: %d, want 401", code)
		}
		if w := login(env, "vol2", goodPassword); w.Code != 401 {
			t.Fatalf("a disabled volunteer logs in: %d", w.Code)
		}
		if w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/auth/refresh", Body: map[string]string{"refresh_token": s.RefreshToken}}); w.Code != 401 {
			t.Fatalf("a disabled volunteer refreshes: %d", w.Code)
		}
		env.Exec(`UPDATE staff_users SET disabled = 0, failed_logins = 0, locked_until = NULL WHERE id = ?`, volID)
		_ = env.Server.Subjects.Invalidate(servertest.Ctx(), auth.KindStaff, volID)
	})
	t.Run("password change", func(t *testing.T) {
		s := fresh()
		w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/users/" + id + "/password", Token: adminTok, Body: map[string]string{"password": "Another-Pass-42"}})
		if w.Code != 204 {
			t.Fatalf("set password: %d %s", w.Code, w.Body)
		}
		if code := usable(s.Token); code != 401 {
			t.Fatalf("token after password change: %d", code)
		}
		env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/users/" + id + "/password", Token: adminTok, Body: map[string]string{"password": goodPassword}})
	})
	t.Run("logout and refresh rotation", func(t *testing.T) {
		s := fresh()
		w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/auth/refresh", Body: map[string]string{"refresh_token": s.RefreshToken}})
		if w.Code != 200 {
			t.Fatalf("refresh: %d %s", w.Code, w.Body)
		}
		var s2 session
		w.JSON(t, &s2)
		if s2.RefreshToken == s.RefreshToken || s2.User.Username != "vol2" {
			t.Fatalf("refresh did not rotate: %+v", s2)
		}
		if w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/auth/refresh", Body: map[string]string{"refresh_token": s.RefreshToken}}); w.Code != 401 {
			t.Fatalf("a spent refresh token was accepted: %d", w.Code)
		}
		if code := usable(s2.Token); code != 204 {
			t.Fatalf("logout: %d", code)
		}
		if code := usable(s2.Token); code != 401 {
			t.Fatalf("token after logout: %d", code)
		}
		if w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/auth/refresh", Body: map[string]string{"refresh_token": s2.RefreshToken}}); w.Code != 401 {
			t.Fatalf("refresh after logout: %d", w.Code)
		}
	})
	t.Run("role change applies at once", func(t *testing.T) {
		s := fresh()
		w := env.Do(servertest.Request{Method: "PATCH", Path: "/api/v1/admin/users/" + id, Token: adminTok, Body: map[string]any{"role": "admin"}})
		if w.Code != 200 {
			t.Fatalf("promote: %d %s", w.Code, w.Body)
		}
		var u struct {
			Role        string  `json:"role"`
			VillageCode *string `json:"village_code"`
		}
		w.JSON(t, &u)
		if u.Role != "admin" || u.VillageCode != nil {
			t.Fatalf("promoted user: %s", w.Body)
		}
		if code := usable(s.Token); code != 401 {
			t.Fatalf("token from before the role change: %d", code)
		}
	})
}

func TestUserAdminValidationChangesNothing(t *testing.T) {
	env := servertest.New(t)
	adminTok, adminID := env.Staff(auth.RoleAdmin, "")
	before := env.Count(`SELECT COUNT(*) FROM staff_users`)
	auditBefore := env.Count(`SELECT COUNT(*) FROM audit_log`)
	cases := []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"weak password", map[string]any{"username": "carol", "password": "password12", "role": "staff"}, 400, "PASSWORD_TOO_WEAK", "password"},
		{"bad role", map[string]any{"username": "carol", "password": goodPassword, "role": "king"}, 400, "", "role"},
		{"volunteer without village", map[string]any{"username": "carol", "password": goodPassword, "role": "volunteer"}, 400, "INVALID_INPUT", "village_code"},
		{"unknown village", map[string]any{"username": "carol", "password": goodPassword, "role": "volunteer", "village_code": "atlantis"}, 400, "VILLAGE_UNKNOWN", "village_code"},
		{"staff with village", map[string]any{"username": "carol", "password": goodPassword, "role": "staff", "village_code": "zhenxing"}, 400, "INVALID_INPUT", "village_code"},
		{"bad username", map[string]any{"username": "C", "password": goodPassword, "role": "staff"}, 400, "", "username"},
		{"server-owned field", map[string]any{"username": "carol", "password": goodPassword, "role": "staff", "disabled": false}, 400, "UNKNOWN_FIELD", "disabled"},
		{"malformed", "{", 400, "MALFORMED_JSON", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/users", Token: adminTok, Body: tc.body})
			if w.Code != tc.status || (tc.code != "" && w.ErrorCode() != tc.code) || w.ErrorField() != tc.field {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
		})
	}
	if n := env.Count(`SELECT COUNT(*) FROM staff_users`); n != before {
		t.Fatalf("bad input wrote users: %d -> %d", before, n)
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log`); n != auditBefore {
		t.Fatalf("bad input wrote audit rows: %d -> %d", auditBefore, n)
	}
	ok := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/users", Token: adminTok,
		Body: map[string]any{"username": "carol", "password": goodPassword, "role": "village_admin", "village_code": "luoxi"}})
	if ok.Code != 201 {
		t.Fatalf("create: %d %s", ok.Code, ok.Body)
	}
	dup := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/users", Token: adminTok,
		Body: map[string]any{"username": "carol", "password": goodPassword, "role": "staff"}})
	if dup.Code != 409 || dup.ErrorCode() != "USERNAME_TAKEN" {
		t.Fatalf("duplicate: %d %s", dup.Code, dup.Body)
	}
	self := env.Do(servertest.Request{Method: "PATCH", Path: "/api/v1/admin/users/" + strconv.FormatInt(adminID, 10), Token: adminTok, Body: map[string]any{"disabled": true}})
	if self.Code != 422 || self.ErrorCode() != "CANNOT_CHANGE_SELF" {
		t.Fatalf("self-disable: %d %s", self.Code, self.Body)
	}
	if w := env.Do(servertest.Request{Method: "PATCH", Path: "/api/v1/admin/users/999999", Token: adminTok, Body: map[string]any{"disabled": true}}); w.Code != 404 {
		t.Fatalf("unknown user: %d", w.Code)
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'user.create'`); n != 1 {
		t.Fatalf("user.create audit rows: %d", n)
	}
}

func TestIdempotencyKeyOnCreate(t *testing.T) {
	env := servertest.New(t)
	adminTok, _ := env.Staff(auth.RoleAdmin, "")
	body := map[string]any{"username": "dave", "password": goodPassword, "role": "staff"}
	post := func(key string, b any) *servertest.Response {
		return env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/users", Token: adminTok, Body: b, Header: map[string]string{"Idempotency-Key": key}})
	}
	first := post("k-1", body)
	again := post("k-1", body)
	if first.Code != 201 || again.Code != 201 || string(first.Body) != string(again.Body) {
		t.Fatalf("replay differs: %d %s / %d %s", first.Code, first.Body, again.Code, again.Body)
	}
	if again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("replay not marked")
	}
	other := post("k-1", map[string]any{"username": "erin", "password": goodPassword, "role": "staff"})
	if other.Code != 422 || other.ErrorCode() != "IDEMPOTENCY_KEY_REUSED" {
		t.Fatalf("same key, other body: %d %s", other.Code, other.Body)
	}
	if n := env.Count(`SELECT COUNT(*) FROM staff_users WHERE username IN ('dave','erin')`); n != 1 {
		t.Fatalf("rows: %d", n)
	}

	// 20 concurrent identical POSTs: one row, twenty identical answers.
	env.SkipContract = false
	var wg sync.WaitGroup
	answers := make([]*servertest.Response, 20)
	conc := map[string]any{"username": "frank", "password": goodPassword, "role": "staff"}
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = post("k-concurrent", conc)
		}()
	}
	wg.Wait()
	for i, a := range answers {
		if a.Code != 201 || string(a.Body) != string(answers[0].Body) {
			t.Errorf("answer %d: %d %s", i, a.Code, a.Body)
		}
	}
	if n := env.Count(`SELECT COUNT(*) FROM staff_users WHERE username = 'frank'`); n != 1 {
		t.Fatalf("concurrent identical POSTs created %d rows", n)
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'user.create'`); n != 2 {
		t.Fatalf("audit rows for 2 creations: %d", n)
	}
	if w := post(string(make([]byte, 0))+"bad key with spaces", body); w.Code != 400 {
		t.Fatalf("bad key: %d", w.Code)
	}
	_ = http.MethodPost
}
