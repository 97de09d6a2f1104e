package auth_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/server/servertest"
)

// refreshCookie finds the console's refresh cookie in an answer.
func refreshCookie(t *testing.T, w *servertest.Response) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: w.Header}).Cookies() {
		if c.Name == auth.RefreshCookie {
			return c
		}
	}
	return nil
}

func cookieRefresh(env *servertest.Env, value string, hdr map[string]string) *servertest.Response {
	h := map[string]string{"Cookie": auth.RefreshCookie + "=" + value}
	for k, v := range hdr {
		h[k] = v
	}
	return env.Do(servertest.Request{Method: "POST", Path: auth.RefreshPath, Body: map[string]string{}, Header: h})
}

func TestConsoleCookieSession(t *testing.T) {
	env := servertest.New(t)
	createUser(t, env, "office", auth.RoleAdmin, "")

	w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/auth/staff",
		Body: map[string]string{"username": "office", "password": goodPassword, "session": "cookie"}})
	if w.Code != 200 {
		t.Fatalf("cookie login: %d %s", w.Code, w.Body)
	}
	if strings.Contains(string(w.Body), "refresh_token") {
		t.Fatalf("a cookie login must not put the refresh token in the answer: %s", w.Body)
	}
	ck := refreshCookie(t, w)
	if ck == nil || ck.Value == "" {
		t.Fatalf("no refresh cookie: %v", w.Header["Set-Cookie"])
	}
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != auth.RefreshPath || ck.MaxAge <= 0 {
		t.Fatalf("cookie attributes: %+v", ck)
	}
	if !ck.Secure { // servertest runs in production mode
		t.Fatalf("production must mark the cookie Secure: %+v", ck)
	}

	// Refresh from the cookie: a new access token, a rotated cookie, no token in the body.
	r := cookieRefresh(env, ck.Value, map[string]string{"Origin": "http://example.com"})
	if r.Code != 200 || strings.Contains(string(r.Body), "refresh_token") {
		t.Fatalf("cookie refresh: %d %s", r.Code, r.Body)
	}
	var s session
	r.JSON(t, &s)
	if s.Token == "" || s.User.Username != "office" {
		t.Fatalf("refresh answer: %s", r.Body)
	}
	next := refreshCookie(t, r)
	if next == nil || next.Value == ck.Value {
		t.Fatalf("cookie not rotated: %+v", next)
	}

	// Replaying the first cookie revokes the family: the rotated cookie stops working too.
	if r := cookieRefresh(env, ck.Value, nil); r.Code != 401 || r.ErrorCode() != "TOKEN_INVALID" {
		t.Fatalf("replayed cookie: %d %s", r.Code, r.Body)
	} else if c := refreshCookie(t, r); c == nil || c.MaxAge >= 0 {
		t.Fatalf("a refused cookie must be cleared: %+v", c)
	}
	if r := cookieRefresh(env, next.Value, nil); r.Code != 401 {
		t.Fatalf("successor after a replay: %d %s", r.Code, r.Body)
	}
}

func TestConsoleCookieRefreshIsCSRFSafe(t *testing.T) {
	env := servertest.New(t)
	createUser(t, env, "office", auth.RoleAdmin, "")
	w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/auth/staff",
		Body: map[string]string{"username": "office", "password": goodPassword, "session": "cookie"}})
	ck := refreshCookie(t, w)
	if ck == nil {
		t.Fatalf("no cookie: %d %s", w.Code, w.Body)
	}
	// Another site's page: a foreign Origin is refused, and the cookie still works afterwards.
	if r := cookieRefresh(env, ck.Value, map[string]string{"Origin": "https://evil.example"}); r.Code != 403 {
		t.Fatalf("foreign origin: %d %s", r.Code, r.Body)
	}
	// A form post (text/plain or urlencoded) never reaches the refresh.
	r := env.Do(servertest.Request{Method: "POST", Path: auth.RefreshPath, Body: "{}",
		Header: map[string]string{"Cookie": auth.RefreshCookie + "=" + ck.Value, "Content-Type": "text/plain"}})
	if r.Code != 415 {
		t.Fatalf("text/plain refresh: %d %s", r.Code, r.Body)
	}
	if r := cookieRefresh(env, ck.Value, nil); r.Code != 200 {
		t.Fatalf("the cookie must be untouched by refused attempts: %d %s", r.Code, r.Body)
	}
	// No cookie and no token: 401.
	if r := env.Do(servertest.Request{Method: "POST", Path: auth.RefreshPath, Body: map[string]string{}}); r.Code != 401 {
		t.Fatalf("no token at all: %d %s", r.Code, r.Body)
	}
	// An unknown session mode is a 400 with the field.
	w = env.Do(servertest.Request{Method: "POST", Path: "/api/v1/auth/staff",
		Body: map[string]string{"username": "office", "password": goodPassword, "session": "jar"}})
	if w.Code != 400 || w.ErrorField() != "session" {
		t.Fatalf("bad session mode: %d %s", w.Code, w.Body)
	}
}

func TestLogoutClearsTheConsoleCookie(t *testing.T) {
	env := servertest.New(t)
	createUser(t, env, "office", auth.RoleAdmin, "")
	w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/auth/staff",
		Body: map[string]string{"username": "office", "password": goodPassword, "session": "cookie"}})
	var s session
	w.JSON(t, &s)
	ck := refreshCookie(t, w)
	out := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/auth/logout", Token: s.Token})
	if out.Code != 204 {
		t.Fatalf("logout: %d %s", out.Code, out.Body)
	}
	if c := refreshCookie(t, out); c == nil || c.MaxAge >= 0 || c.Path != auth.RefreshPath {
		t.Fatalf("logout must clear the cookie: %+v", c)
	}
	if r := cookieRefresh(env, ck.Value, nil); r.Code != 401 {
		t.Fatalf("refresh after logout: %d %s", r.Code, r.Body)
	}
}
