package account_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/config"
	"github.com/canbao/canbao/internal/server/servertest"
	"github.com/canbao/canbao/internal/wechat/wechattest"
)

const (
	appID  = "wx-test-app"
	secret = "wx-test-secret-0123456789"
)

func newEnv(t *testing.T) (*servertest.Env, *wechattest.Server) {
	fake := wechattest.NewServer(t, appID, secret)
	env := servertest.New(t, func(c *config.Config) {
		c.WeChat.APIBase, c.WeChat.AppID, c.WeChat.Secret = fake.URL, appID, secret
		c.WeChat.Timeout = 300 * time.Millisecond
	})
	return env, fake
}

func login(env *servertest.Env, code string) *servertest.Response {
	return env.Do(servertest.Request{Method: "POST", Path: "/api/v1/auth/wechat", Body: map[string]string{"code": code}})
}

type residentAuth struct {
	Token        string `json:"token"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Resident     struct {
		ID         int64 `json:"id"`
		Registered bool  `json:"registered"`
	} `json:"resident"`
}

func TestWeChatLogin(t *testing.T) {
	env, fake := newEnv(t)
	const openid, sessionKey = "oTEST-openid-aaaaaaaaaaaaaaaa", "c2Vzc2lvbi1rZXktc2VjcmV0LTEyMw=="
	fake.AddCode("code-1", openid, sessionKey)
	fake.AddCode("code-2", openid, "bmV3LXNlc3Npb24ta2V5LXNlY3JldA==")

	w := login(env, "code-1")
	if w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	var a residentAuth
	w.JSON(t, &a)
	if a.Token == "" || a.ExpiresIn != 7200 || a.Resident.ID == 0 || a.Resident.Registered {
		t.Fatalf("answer %s", w.Body)
	}
	for _, secretish := range []string{openid, sessionKey, secret} {
		if strings.Contains(string(w.Body), secretish) || strings.Contains(a.Token, secretish) || strings.Contains(env.Logs.String(), secretish) {
			t.Fatalf("%q leaked into the answer, the token or the logs", secretish)
		}
	}
	// The token works on a resident route and is refused on a staff route.
	if r := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/registrations/mine", Token: a.Token}); r.Code != 200 {
		t.Fatalf("mine: %d", r.Code)
	}
	if r := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/users", Token: a.Token}); r.Code != 403 {
		t.Fatalf("resident on a staff route: %d", r.Code)
	}
	// A second login of the same openid is the same account; session_key is stored encrypted.
	var b residentAuth
	login(env, "code-2").JSON(t, &b)
	if b.Resident.ID != a.Resident.ID {
		t.Fatalf("second login made a new account: %d vs %d", b.Resident.ID, a.Resident.ID)
	}
	if n := env.Count(`SELECT COUNT(*) FROM resident_accounts`); n != 1 {
		t.Fatalf("accounts: %d", n)
	}
	var stored []byte
	_ = env.DB.Get(&stored, `SELECT session_key_enc FROM resident_accounts`)
	if len(stored) == 0 || strings.Contains(string(stored), "bmV3") {
		t.Fatal("session_key not stored encrypted")
	}
	// Refresh keeps a resident logged in.
	r := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/auth/refresh", Body: map[string]string{"refresh_token": b.RefreshToken}})
	if r.Code != 200 {
		t.Fatalf("refresh: %d %s", r.Code, r.Body)
	}
}

func TestWeChatLoginFailures(t *testing.T) {
	env, fake := newEnv(t)
	before := env.Count(`SELECT COUNT(*) FROM resident_accounts`)

	if w := login(env, "never-issued"); w.Code != 401 || w.ErrorCode() != "WECHAT_CODE_INVALID" {
		t.Fatalf("unknown code (40029): %d %s", w.Code, w.Body)
	}
	fake.AddCode("used", "oTEST-used-aaaaaaaaaaaaaaaaaaaa", "a2V5LWtleS1rZXk=")
	login(env, "used")
	if w := login(env, "used"); w.Code != 401 {
		t.Fatalf("reused code (40163): %d", w.Code)
	}
	fake.AddCode("busy", "oTEST-busy-aaaaaaaaaaaaaaaaaaaa", "a2V5LWtleS1rZXk=")
	fake.FailNext("/sns/jscode2session", -1, "system error")
	if w := login(env, "busy"); w.Code != 503 || w.Header.Get("Retry-After") == "" {
		t.Fatalf("WeChat busy (-1): %d %s", w.Code, w.Body)
	}
	fake.FailNext("/sns/jscode2session", 45011, "api minute-quota reach limit")
	if w := login(env, "busy"); w.Code != 503 {
		t.Fatalf("45011: %d", w.Code)
	}
	fake.Malformed("/sns/jscode2session")
	if w := login(env, "busy"); w.Code != 503 {
		t.Fatalf("malformed answer: %d", w.Code)
	}
	fake.Delay(time.Hour) // never answers: only the 300 ms timeout can end the login
	start := time.Now()
	if w := login(env, "busy"); w.Code != 503 {
		t.Fatalf("timeout: %d", w.Code)
	}
	if time.Since(start) > 30*time.Second { // a guard against a hang, not a measure
		t.Fatalf("the WeChat timeout was not honoured: %v", time.Since(start))
	}
	fake.Delay(0)
	for _, bad := range []string{"", "has space", strings.Repeat("a", 129)} {
		if w := login(env, bad); w.Code != 400 || w.ErrorField() != "code" {
			t.Fatalf("code %q: %d %s", bad, w.Code, w.Body)
		}
	}
	if n := env.Count(`SELECT COUNT(*) FROM resident_accounts`); n != before+1 {
		t.Fatalf("failed logins created accounts: %d -> %d", before, n)
	}
	if strings.Contains(env.Logs.String(), secret) || strings.Contains(env.Logs.String(), "oTEST-") {
		t.Fatal("secret or openid in the logs")
	}
}

func TestWeChatLoginRateLimitPerIP(t *testing.T) {
	env, _ := newEnv(t)
	limit := env.Config.Auth.LoginRatePerIP * 3
	for i := 0; i < limit; i++ {
		login(env, "nope")
	}
	if w := login(env, "nope"); w.Code != 429 || w.Header.Get("Retry-After") == "" {
		t.Fatalf("login %d from one IP: %d", limit+1, w.Code)
	}
}

func TestSubscriptions(t *testing.T) {
	env, _ := newEnv(t)
	tok, acct := env.Resident()
	staff, _ := env.Staff(auth.RoleStaff, "")
	do := func(token string, b any, hdr map[string]string) *servertest.Response {
		return env.Do(servertest.Request{Method: "POST", Path: "/api/v1/subscriptions", Token: token, Body: b, Header: hdr})
	}
	tmpl := env.Config.WeChat.Templates()[0]
	cases := []struct {
		body  any
		code  int
		field string
	}{
		{map[string]any{"template_id": "unknown-template", "count": 1}, 400, "template_id"},
		{map[string]any{"template_id": tmpl, "count": 0}, 400, "count"},
		{map[string]any{"template_id": tmpl, "count": 11}, 400, "count"},
		{map[string]any{"template_id": tmpl}, 400, "count"},
		{map[string]any{"template_id": tmpl, "count": 1, "remaining": 99}, 400, "remaining"},
	}
	for _, tc := range cases {
		if w := do(tok, tc.body, nil); w.Code != tc.code || w.ErrorField() != tc.field {
			t.Fatalf("%v: %d %s", tc.body, w.Code, w.Body)
		}
	}
	if n := env.Count(`SELECT COUNT(*) FROM subscription_consents`); n != 0 {
		t.Fatal("bad input wrote consents")
	}
	if w := do(staff, map[string]any{"template_id": tmpl, "count": 1}, nil); w.Code != 403 {
		t.Fatalf("staff: %d", w.Code)
	}
	w := do(tok, map[string]any{"template_id": tmpl, "count": 2}, map[string]string{"Idempotency-Key": "sub-1"})
	if w.Code != 201 || !strings.Contains(string(w.Body), `"remaining":2`) {
		t.Fatalf("grant: %d %s", w.Code, w.Body)
	}
	// A retry of the same grant does not double it; a new grant adds up.
	do(tok, map[string]any{"template_id": tmpl, "count": 2}, map[string]string{"Idempotency-Key": "sub-1"})
	w = do(tok, map[string]any{"template_id": tmpl, "count": 3}, nil)
	if !strings.Contains(string(w.Body), `"remaining":5`) {
		t.Fatalf("second grant: %s", w.Body)
	}
	if n := env.Count(`SELECT remaining FROM subscription_consents WHERE account_id = ? AND template_id = ?`, acct, tmpl); n != 5 {
		t.Fatalf("ledger: %d", n)
	}
}

// A disabled mini-program account cannot log in again: 403 FORBIDDEN, no token.
func TestDisabledAccountCannotLogIn(t *testing.T) {
	env, fake := newEnv(t)
	const openid = "oTEST-openid-disabled-aaaaaaaaa"
	fake.AddCode("code-d1", openid, "c2Vzc2lvbi1rZXktc2VjcmV0LTEyMw==")
	fake.AddCode("code-d2", openid, "c2Vzc2lvbi1rZXktc2VjcmV0LTEyMw==")
	if w := login(env, "code-d1"); w.Code != 200 {
		t.Fatalf("first login: %d %s", w.Code, w.Body)
	}
	env.Exec(`UPDATE resident_accounts SET disabled = 1 WHERE openid = ?`, openid)
	w := login(env, "code-d2")
	if w.Code != 403 || w.ErrorCode() != "FORBIDDEN" || strings.Contains(string(w.Body), "token") {
		t.Fatalf("disabled login: %d %s", w.Code, w.Body)
	}
}

// A new account's state is cached at its creation: its first request reads no MySQL for it.
func TestNewAccountIsCachedAtCreation(t *testing.T) {
	env, fake := newEnv(t)
	fake.AddCode("code-new", "oTEST-openid-bbbbbbbbbbbbbbbb", "c2Vzc2lvbi1rZXktc2VjcmV0LTEyMw==")
	var a residentAuth
	if w := login(env, "code-new"); w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	} else {
		w.JSON(t, &a)
	}
	key := env.Prefix + "subj:" + string(auth.KindResident) + ":" + strconv.FormatInt(a.Resident.ID, 10)
	if v, err := env.Redis.Get(servertest.Ctx(), key).Result(); err != nil || v != "1|resident||0" {
		t.Fatalf("subject cache after the first login: %q %v", v, err)
	}
	// A logout still revokes at once: the cached state is invalidated like any other.
	if r := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/auth/logout", Token: a.Token}); r.Code/100 != 2 {
		t.Fatalf("logout: %d %s", r.Code, r.Body)
	}
	if r := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/registrations/mine", Token: a.Token}); r.Code != 401 {
		t.Fatalf("token after logout: %d", r.Code)
	}
}
