package auth_test

import (
	"errors"
	"testing"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/server/servertest"
)

func refreshCall(env *servertest.Env, token string) *servertest.Response {
	return env.Do(servertest.Request{Method: "POST", Path: "/api/v1/auth/refresh", Body: map[string]string{"refresh_token": token}})
}

// TestRefreshReuseRevokesTheFamily: replaying a rotated refresh token is a theft signal; the
// whole family dies at once and the replay is audited, while another login's family lives on.
func TestRefreshReuseRevokesTheFamily(t *testing.T) {
	env := servertest.New(t)
	createUser(t, env, "vol3", auth.RoleVolunteer, "zhenxing")
	var first, other session
	if w := login(env, "vol3", goodPassword); w.Code != 200 {
		t.Fatalf("login: %d", w.Code)
	} else {
		w.JSON(t, &first)
	}
	if w := login(env, "vol3", goodPassword); w.Code != 200 {
		t.Fatalf("second login: %d", w.Code)
	} else {
		w.JSON(t, &other)
	}
	w := refreshCall(env, first.RefreshToken) // A -> B
	if w.Code != 200 {
		t.Fatalf("refresh: %d %s", w.Code, w.Body)
	}
	var b session
	w.JSON(t, &b)

	if w := refreshCall(env, first.RefreshToken); w.Code != 401 || w.ErrorCode() != "TOKEN_INVALID" {
		t.Fatalf("replayed A: %d %s", w.Code, w.Body)
	}
	if w := refreshCall(env, b.RefreshToken); w.Code != 401 || w.ErrorCode() != "TOKEN_INVALID" {
		t.Fatalf("B after A's replay: %d %s, want 401 TOKEN_INVALID", w.Code, w.Body)
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'auth.refresh_reuse' AND object_type = 'staff' AND result = 'denied'`); n != 1 {
		t.Fatalf("refresh_reuse audit rows: %d", n)
	}
	if w := refreshCall(env, other.RefreshToken); w.Code != 200 {
		t.Fatalf("the other login's family: %d %s", w.Code, w.Body)
	}
	// Replaying again after the family is dead is refused and audited again.
	if w := refreshCall(env, first.RefreshToken); w.Code != 401 {
		t.Fatalf("second replay: %d", w.Code)
	}
}

// TestResidentRefreshReuse: the mini-program's refresh tokens form families too.
func TestResidentRefreshReuse(t *testing.T) {
	env := servertest.New(t)
	_, id := env.Resident()
	p := auth.Principal{Kind: auth.KindResident, ID: id, Role: auth.RoleResident, Version: 1}
	ctx, actx := servertest.Ctx(), audit.System("test")
	a, err := env.Server.Auth.IssueFor(ctx, actx, "auth.wechat_login", p)
	if err != nil {
		t.Fatal(err)
	}
	other, err := env.Server.Auth.IssueFor(ctx, actx, "auth.wechat_login", p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.Server.Auth.Refresh(ctx, actx, a.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	invalid := func(err error) bool {
		var e *errs.Error
		return errors.As(err, &e) && e.Code == errs.TokenInvalid
	}
	if _, err := env.Server.Auth.Refresh(ctx, actx, a.RefreshToken); !invalid(err) {
		t.Fatalf("replayed A: %v", err)
	}
	if _, err := env.Server.Auth.Refresh(ctx, actx, b.RefreshToken); !invalid(err) {
		t.Fatalf("B after A's replay: %v, want TOKEN_INVALID", err)
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'auth.refresh_reuse' AND object_type = 'resident'`); n != 1 {
		t.Fatalf("refresh_reuse audit rows: %d", n)
	}
	if _, err := env.Server.Auth.Refresh(ctx, actx, other.RefreshToken); err != nil {
		t.Fatalf("the other family: %v", err)
	}
}
