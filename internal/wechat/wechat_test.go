package wechat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/internal/platform/dbtest"
	"github.com/canbao/canbao/internal/platform/deadaddr"
	"github.com/canbao/canbao/internal/wechat/wechattest"
)

const (
	testAppID  = "wx5f1e2d3c4b5a6978"
	testSecret = "S3cr3tAppSecret0123456789abcdef"
)

// syncBuffer collects log output from concurrent goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type env struct {
	fake   *wechattest.Server
	rdb    redis.UniversalClient
	prefix string
	logs   *syncBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	rdb, prefix := dbtest.Redis(t)
	return &env{fake: wechattest.NewServer(t, testAppID, testSecret), rdb: rdb, prefix: prefix, logs: &syncBuffer{}}
}

func (e *env) client(timeout time.Duration) *Client {
	return e.clientWith(Config{APIBase: e.fake.URL, AppID: testAppID, Secret: testSecret, Timeout: timeout})
}

func (e *env) clientWith(cfg Config) *Client {
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return NewClient(cfg, e.rdb, e.prefix, log)
}

// assertNoLeak fails if err's text or the logs contain any of the sensitive values.
func assertNoLeak(t *testing.T, err error, logs string, sensitive ...string) {
	t.Helper()
	var texts []string
	if err != nil {
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err))
	}
	texts = append(texts, logs)
	for _, s := range sensitive {
		if s == "" {
			continue
		}
		for _, txt := range texts {
			if strings.Contains(txt, s) {
				t.Errorf("sensitive value %q leaked in %q", s, txt)
			}
		}
	}
}

func asAPIError(t *testing.T, err error, code int) *APIError {
	t.Helper()
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want *APIError %d, got %T %v", code, err, err)
	}
	if ae.Code != code {
		t.Fatalf("want errcode %d, got %d (%v)", code, ae.Code, err)
	}
	return ae
}

func asTransportError(t *testing.T, err error) *TransportError {
	t.Helper()
	var te *TransportError
	if !errors.As(err, &te) {
		t.Fatalf("want *TransportError, got %T %v", err, err)
	}
	if !te.Temporary() || !IsTemporary(err) || IsPermanent(err) {
		t.Fatalf("transport error must be temporary and not permanent: %v", err)
	}
	return te
}

// ---- Code2Session ----

func TestCode2SessionSuccess(t *testing.T) {
	e := newEnv(t)
	e.fake.AddCode("code-ok-1", "oOPENID_aaaaaaaa", "SESSIONKEY+abc==")
	e.fake.AddCode("code-ok-2", "oOPENID_bbbbbbbb", "SESSIONKEY+def==")
	e.fake.SetUnionID("oOPENID_bbbbbbbb", "oUNION_bbbb")
	c := e.client(time.Second)

	s, err := c.Code2Session(context.Background(), "code-ok-1")
	if err != nil {
		t.Fatal(err)
	}
	if s != (Session{OpenID: "oOPENID_aaaaaaaa", SessionKey: "SESSIONKEY+abc=="}) {
		t.Fatalf("session = %+v", s)
	}
	s, err = c.Code2Session(context.Background(), "code-ok-2")
	if err != nil {
		t.Fatal(err)
	}
	if s.UnionID != "oUNION_bbbb" || s.OpenID != "oOPENID_bbbbbbbb" {
		t.Fatalf("session = %+v", s)
	}
	assertNoLeak(t, nil, e.logs.String(), testSecret, "code-ok-1", "code-ok-2", "oOPENID_aaaaaaaa", "SESSIONKEY+abc==")
}

func TestCode2SessionErrors(t *testing.T) {
	const (
		openid = "oOPENID_secret_person"
		sk     = "SESSIONKEY_very_secret=="
	)
	cases := []struct {
		name      string
		prep      func(e *env)
		code      string
		errcode   int
		permanent bool
		temporary bool
	}{
		{"invalid code", nil, "code-unknown-123", 40029, true, false},
		{"code reused", func(e *env) {
			e.fake.AddCode("code-reuse-123", openid, sk)
			if _, err := e.client(time.Second).Code2Session(context.Background(), "code-reuse-123"); err != nil {
				panic(err)
			}
		}, "code-reuse-123", 40163, true, false},
		{"high-risk user", func(e *env) { e.fake.FailNext(wechattest.PathCode2Session, 40226, "high risk user") }, "code-risk-123", 40226, true, false},
		{"frequency limit", func(e *env) { e.fake.FailNext(wechattest.PathCode2Session, 45011, "api minute-quota reach limit") }, "code-freq-123", 45011, false, true},
		{"system busy", func(e *env) { e.fake.FailNext(wechattest.PathCode2Session, -1, "system error") }, "code-busy-123", -1, false, true},
		{"errmsg echoing secrets is redacted", func(e *env) {
			e.fake.FailNext(wechattest.PathCode2Session, 40029, "invalid code code-echo-123 secret "+testSecret)
		}, "code-echo-123", 40029, true, false},
		{"empty code checked locally", nil, "", 41008, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.prep != nil {
				tc.prep(e)
			}
			_, err := e.client(time.Second).Code2Session(context.Background(), tc.code)
			ae := asAPIError(t, err, tc.errcode)
			if ae.Permanent() != tc.permanent || IsPermanent(err) != tc.permanent {
				t.Errorf("permanent = %v, want %v", ae.Permanent(), tc.permanent)
			}
			if ae.Temporary() != tc.temporary || IsTemporary(err) != tc.temporary {
				t.Errorf("temporary = %v, want %v", ae.Temporary(), tc.temporary)
			}
			assertNoLeak(t, err, e.logs.String(), testSecret, tc.code, openid, sk)
		})
	}
}

func TestCode2SessionWrongSecret(t *testing.T) {
	e := newEnv(t)
	e.fake.AddCode("code-ws-123", "oOPENID_ws", "SK_ws")
	const wrong = "WrongSecretWrongSecret0000"
	c := e.clientWith(Config{APIBase: e.fake.URL, AppID: testAppID, Secret: wrong, Timeout: time.Second})
	_, err := c.Code2Session(context.Background(), "code-ws-123")
	ae := asAPIError(t, err, 40125)
	if ae.Permanent() || ae.Temporary() {
		t.Errorf("a configuration error is neither permanent nor temporary: %v", err)
	}
	assertNoLeak(t, err, e.logs.String(), wrong, testSecret, "code-ws-123", "oOPENID_ws", "SK_ws")

	bad := e.clientWith(Config{APIBase: e.fake.URL, AppID: "wxWRONG", Secret: testSecret, Timeout: time.Second})
	_, err = bad.Code2Session(context.Background(), "code-ws-123")
	asAPIError(t, err, 40013)
}

// TestErrmsgEchoingEncodedSecretIsRedacted: WeChat's errmsg may echo the request's query, where
// the secret is URL-encoded; the client used to redact only the raw value.
func TestErrmsgEchoingEncodedSecretIsRedacted(t *testing.T) {
	e := newEnv(t)
	const secret = "S3cr3t+App/Secret=="
	c := e.clientWith(Config{APIBase: e.fake.URL, AppID: testAppID, Secret: secret, Timeout: time.Second})
	e.fake.FailNext(wechattest.PathCode2Session, 40029, "invalid code, rid: 1, query: secret="+url.QueryEscape(secret)+"&js_code=code-enc-123")
	_, err := c.Code2Session(context.Background(), "code-enc-123")
	asAPIError(t, err, 40029)
	assertNoLeak(t, err, e.logs.String(), secret, url.QueryEscape(secret), url.PathEscape(secret), "code-enc-123")
}

// neverAnswers: the fake holds its answer for longer than any test runs, so only the client's
// timeout can end a call; a call that returns at all honoured it. The bound the tests check is
// a guard against a hang, far above any slowness of the machine.
const neverAnswers, hangGuard = time.Hour, 30 * time.Second

func TestCode2SessionTimeout(t *testing.T) {
	e := newEnv(t)
	e.fake.AddCode("code-slow-123", "oOPENID_slow", "SK_slow")
	e.fake.Delay(neverAnswers)
	c := e.client(200 * time.Millisecond)
	start := time.Now()
	_, err := c.Code2Session(context.Background(), "code-slow-123")
	elapsed := time.Since(start)
	te := asTransportError(t, err)
	if !te.Timeout() {
		t.Errorf("want a timeout, got %v", err)
	}
	if elapsed > hangGuard {
		t.Errorf("took %v, want about the 200ms timeout", elapsed)
	}
	assertNoLeak(t, err, e.logs.String(), testSecret, "code-slow-123")
	e.fake.Delay(0)
}

func TestCode2SessionMalformedAndOversize(t *testing.T) {
	e := newEnv(t)
	c := e.client(time.Second)

	e.fake.AddCode("code-mal-123", "oOPENID_mal", "SK_mal")
	e.fake.Malformed(wechattest.PathCode2Session)
	_, err := c.Code2Session(context.Background(), "code-mal-123")
	asTransportError(t, err)
	if !strings.Contains(err.Error(), "malformed") {
		t.Errorf("err = %v", err)
	}
	assertNoLeak(t, err, e.logs.String(), testSecret, "code-mal-123")

	e.fake.Oversize(wechattest.PathCode2Session)
	_, err = c.Code2Session(context.Background(), "code-mal-123")
	asTransportError(t, err)
	if !strings.Contains(err.Error(), "larger than") {
		t.Errorf("err = %v", err)
	}
	// The injected answers consumed nothing: the code still works once.
	if _, err := c.Code2Session(context.Background(), "code-mal-123"); err != nil {
		t.Fatal(err)
	}
}

// Answers the fake never gives: wrong types, missing fields, HTTP errors, redirects.
func TestCode2SessionBadAnswers(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
	}{
		{"openid is a number", 200, `{"openid":123,"session_key":"k"}`},
		{"errcode is a string", 200, `{"errcode":"40029","errmsg":"x"}`},
		{"empty openid", 200, `{"openid":"","session_key":"k"}`},
		{"missing session_key", 200, `{"openid":"o"}`},
		{"null", 200, `null`},
		{"trailing garbage", 200, `{"openid":"o","session_key":"k"} x`},
		{"http 502", 502, `{"openid":"o","session_key":"k"}`},
		{"redirect not followed", 302, ``},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.status == 302 {
					http.Redirect(w, r, "http://127.0.0.1:1/steal?"+r.URL.RawQuery, http.StatusFound)
					return
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			e := newEnv(t)
			c := e.clientWith(Config{APIBase: srv.URL, AppID: testAppID, Secret: testSecret, Timeout: time.Second})
			_, err := c.Code2Session(context.Background(), "code-bad-123")
			asTransportError(t, err)
			assertNoLeak(t, err, e.logs.String(), testSecret, "code-bad-123")
		})
	}
}

func TestCode2SessionConnectionRefusedHidesURL(t *testing.T) {
	base := deadaddr.RefusedURL(t)
	e := newEnv(t)
	c := e.clientWith(Config{APIBase: base, AppID: testAppID, Secret: testSecret, Timeout: time.Second})
	_, err := c.Code2Session(context.Background(), "code-refused-123")
	asTransportError(t, err)
	assertNoLeak(t, err, e.logs.String(), testSecret, "code-refused-123", "jscode2session?")
}

// ---- AccessToken ----

func TestAccessTokenSharedAndTTL(t *testing.T) {
	e := newEnv(t)
	a, b := e.client(time.Second), e.client(time.Second)
	ctx := context.Background()
	t1, err := a.AccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t2, err := b.AccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t3, _ := a.AccessToken(ctx)
	if t1 == "" || t1 != t2 || t1 != t3 {
		t.Fatalf("tokens differ: %q %q %q", t1, t2, t3)
	}
	if n := e.fake.TokenCalls(); n != 1 {
		t.Fatalf("token calls = %d, want 1", n)
	}
	ttl, err := e.rdb.TTL(ctx, e.prefix+"wechat:token:"+testAppID).Result()
	if err != nil {
		t.Fatal(err)
	}
	want := (wechattest.TokenExpiresIn - 300) * time.Second
	if ttl > want || ttl < want-10*time.Second {
		t.Fatalf("TTL = %v, want about %v", ttl, want)
	}
	assertNoLeak(t, nil, e.logs.String(), testSecret, t1)
}

func TestAccessTokenConcurrentMissesCoalesce(t *testing.T) {
	e := newEnv(t)
	e.fake.Delay(100 * time.Millisecond)
	clients := []*Client{e.client(2 * time.Second), e.client(2 * time.Second)}
	var wg sync.WaitGroup
	toks := make([]string, 20)
	errs := make([]error, 20)
	for i := range 20 {
		wg.Go(func() {
			toks[i], errs[i] = clients[i%2].AccessToken(context.Background())
		})
	}
	wg.Wait()
	for i := range toks {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if toks[i] != toks[0] || toks[i] == "" {
			t.Fatalf("call %d got another token", i)
		}
	}
	if n := e.fake.TokenCalls(); n != 1 {
		t.Fatalf("token calls = %d, want 1", n)
	}
}

func TestInvalidateTokenForcesFetch(t *testing.T) {
	e := newEnv(t)
	c := e.client(time.Second)
	ctx := context.Background()
	if _, err := c.AccessToken(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.InvalidateToken(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.rdb.Exists(ctx, e.prefix+"wechat:token:"+testAppID).Result(); n != 0 {
		t.Fatal("token still cached")
	}
	if _, err := c.AccessToken(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.fake.TokenCalls(); n != 2 {
		t.Fatalf("token calls = %d, want 2", n)
	}
}

func TestAccessTokenErrorsAreNotCached(t *testing.T) {
	e := newEnv(t)
	c := e.client(time.Second)
	ctx := context.Background()
	e.fake.FailNext(wechattest.PathStableToken, -1, "system error")
	_, err := c.AccessToken(ctx)
	asAPIError(t, err, -1)
	if !IsTemporary(err) {
		t.Fatal("want temporary")
	}
	e.fake.Malformed(wechattest.PathStableToken)
	_, err = c.AccessToken(ctx)
	asTransportError(t, err)
	if _, err := c.AccessToken(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.fake.TokenCalls(); n != 3 {
		t.Fatalf("token calls = %d, want 3", n)
	}

	wrong := e.clientWith(Config{APIBase: e.fake.URL, AppID: testAppID, Secret: "nope-nope-nope", Timeout: time.Second})
	_ = wrong.InvalidateToken(ctx)
	_, err = wrong.AccessToken(ctx)
	asAPIError(t, err, 40125)
	assertNoLeak(t, err, e.logs.String(), "nope-nope-nope", testSecret)
}

func TestAccessTokenSurvivesRedisDown(t *testing.T) {
	e := newEnv(t)
	dead := redis.NewClient(&redis.Options{Addr: deadaddr.Refused(t), DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer dead.Close()
	c := NewClient(Config{APIBase: e.fake.URL, AppID: testAppID, Secret: testSecret, Timeout: time.Second}, dead, e.prefix, nil)
	ctx := context.Background()
	t1, err := c.AccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t2, err := c.AccessToken(ctx)
	if err != nil || t2 != t1 {
		t.Fatalf("second call: %q %v", t2, err)
	}
	if n := e.fake.TokenCalls(); n != 1 {
		t.Fatalf("token calls = %d, want 1 (in-memory copy while Redis is down)", n)
	}
}

// ---- SendSubscribe ----

func msg(openid string) SubscribeMessage {
	return SubscribeMessage{
		ToUser: openid, TemplateID: "TPL_remind_01", Page: "pages/register/index?c=7",
		Data:             map[string]string{"thing1": "张三", "time2": "2025年3月1日", "thing3": `带上"户口本"<&>`},
		MiniprogramState: "formal", Lang: "zh_CN",
	}
}

func TestSendSubscribeSuccess(t *testing.T) {
	e := newEnv(t)
	c := e.client(time.Second)
	m := msg("oOPENID_send_ok")
	id, err := c.SendSubscribe(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	sent := e.fake.Sent()
	if len(sent) != 1 {
		t.Fatalf("sent = %d", len(sent))
	}
	got := sent[0]
	if id == "" || got.MsgID != id {
		t.Fatalf("msgid %q, fake %q", id, got.MsgID)
	}
	if got.ToUser != m.ToUser || got.TemplateID != m.TemplateID || got.Page != m.Page ||
		got.MiniprogramState != "formal" || got.Lang != "zh_CN" || len(got.Data) != len(m.Data) {
		t.Fatalf("fake received %+v", got)
	}
	for k, v := range m.Data {
		if got.Data[k] != v {
			t.Errorf("data[%s] = %q, want %q", k, got.Data[k], v)
		}
	}
	id2, err := c.SendSubscribe(context.Background(), SubscribeMessage{ToUser: "o2", TemplateID: "T", Data: map[string]string{"thing1": "x"}})
	if err != nil || id2 == id {
		t.Fatalf("second send: %q %v", id2, err)
	}
	if n := e.fake.TokenCalls(); n != 1 {
		t.Fatalf("token calls = %d, want 1", n)
	}
	assertNoLeak(t, nil, e.logs.String(), testSecret, e.fake.Token(), "oOPENID_send_ok")
}

// The fake insists on WeChat's shapes: data values are {"value": string}, the token is current.
func TestFakeChecksWireFormat(t *testing.T) {
	e := newEnv(t)
	c := e.client(time.Second)
	tok, err := c.AccessToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	post := func(token, body string) string {
		resp, err := http.Post(e.fake.URL+wechattest.PathSubscribe+"?access_token="+token, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	for _, body := range []string{
		`{"touser":"o","template_id":"T","data":{"thing1":"x"}}`,
		`{"touser":"o","template_id":"T","data":{"thing1":{"value":1}}}`,
		`{"touser":"o","template_id":"T","data":{"thing1":{"value":null}}}`,
		`{"touser":"o","template_id":"T","data":{"thing1":{"val":"x"}}}`,
	} {
		if got := post(tok, body); !strings.Contains(got, `"errcode":47003`) {
			t.Errorf("%s → %s, want 47003", body, got)
		}
	}
	good := `{"touser":"o","template_id":"T","data":{"thing1":{"value":"x"}}}`
	if got := post("not-the-token", good); !strings.Contains(got, `"errcode":40001`) {
		t.Errorf("stale token → %s, want 40001", got)
	}
	if got := post(tok, good); !strings.Contains(got, `"errcode":0`) || !strings.Contains(got, `"msgid":`) {
		t.Errorf("good → %s", got)
	}
	resp, err := http.Post(e.fake.URL+wechattest.PathStableToken, "application/json",
		strings.NewReader(`{"grant_type":"client_credential","appid":"`+testAppID+`","secret":"`+testSecret+`","force_refresh":false}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"expires_in":7200`) || !strings.Contains(string(b), tok) {
		t.Errorf("stable_token → %s", b)
	}
}

func TestSendSubscribeRefusedIsPermanent(t *testing.T) {
	e := newEnv(t)
	c := e.client(time.Second)
	m := msg("oOPENID_refuser")
	e.fake.RefuseConsent(m.ToUser, m.TemplateID)
	_, err := c.SendSubscribe(context.Background(), m)
	ae := asAPIError(t, err, 43101)
	if !ae.Permanent() || !IsPermanent(err) || IsTemporary(err) {
		t.Fatalf("43101 must be permanent: %v", err)
	}
	if len(e.fake.Sent()) != 0 {
		t.Fatal("refused message recorded as sent")
	}
	assertNoLeak(t, err, e.logs.String(), testSecret, e.fake.Token(), m.ToUser)

	for _, code := range []int{40003, 47003, 40037} {
		e.fake.FailNext(wechattest.PathSubscribe, code, "argument invalid for oOPENID_other")
		_, err := c.SendSubscribe(context.Background(), msg("oOPENID_other"))
		asAPIError(t, err, code)
		if !IsPermanent(err) {
			t.Errorf("%d must be permanent", code)
		}
		assertNoLeak(t, err, "", "oOPENID_other")
	}
}

func TestSendSubscribeRefreshesExpiredTokenOnce(t *testing.T) {
	e := newEnv(t)
	c := e.client(time.Second)
	ctx := context.Background()
	old, err := c.AccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.fake.ExpireToken()
	id, err := c.SendSubscribe(ctx, msg("oOPENID_retry"))
	if err != nil {
		t.Fatal(err)
	}
	if id == "" || len(e.fake.Sent()) != 1 {
		t.Fatalf("id %q, sent %d", id, len(e.fake.Sent()))
	}
	if n := e.fake.TokenCalls(); n != 2 {
		t.Fatalf("token calls = %d, want 2", n)
	}
	now, _ := c.AccessToken(ctx)
	if now == old || now != e.fake.Token() {
		t.Fatal("cache does not hold the new token")
	}
}

func TestSendSubscribeRetriesOnlyOnce(t *testing.T) {
	e := newEnv(t)
	c := e.client(time.Second)
	e.fake.FailNext(wechattest.PathSubscribe, 40001, "invalid credential")
	e.fake.FailNext(wechattest.PathSubscribe, 42001, "access_token expired")
	_, err := c.SendSubscribe(context.Background(), msg("oOPENID_twice"))
	ae := asAPIError(t, err, 42001)
	if !ae.Temporary() || ae.Permanent() {
		t.Fatalf("a second token error must be temporary: %v", err)
	}
	if n := e.fake.TokenCalls(); n != 2 {
		t.Fatalf("token calls = %d, want 2", n)
	}
	if len(e.fake.Sent()) != 0 {
		t.Fatal("nothing should be sent")
	}
}

func TestSendSubscribeTemporaryAndTransport(t *testing.T) {
	e := newEnv(t)
	c := e.client(300 * time.Millisecond)
	ctx := context.Background()
	for _, code := range []int{-1, 45009} {
		e.fake.FailNext(wechattest.PathSubscribe, code, "busy")
		_, err := c.SendSubscribe(ctx, msg("oOPENID_busy"))
		asAPIError(t, err, code)
		if !IsTemporary(err) || IsPermanent(err) {
			t.Errorf("%d must be temporary", code)
		}
	}
	e.fake.Malformed(wechattest.PathSubscribe)
	_, err := c.SendSubscribe(ctx, msg("oOPENID_busy"))
	asTransportError(t, err)

	if _, err := c.AccessToken(ctx); err != nil {
		t.Fatal(err)
	}
	e.fake.Delay(neverAnswers)
	start := time.Now()
	_, err = c.SendSubscribe(ctx, msg("oOPENID_busy"))
	asTransportError(t, err)
	if time.Since(start) > hangGuard {
		t.Errorf("took %v", time.Since(start))
	}
	e.fake.Delay(0)
	assertNoLeak(t, err, e.logs.String(), testSecret, e.fake.Token(), "oOPENID_busy")
}

func TestSendSubscribeInvalidMessage(t *testing.T) {
	e := newEnv(t)
	c := e.client(time.Second)
	for _, m := range []SubscribeMessage{
		{TemplateID: "T", Data: map[string]string{"a": "b"}},
		{ToUser: "o", Data: map[string]string{"a": "b"}},
		{ToUser: "o", TemplateID: "T"},
	} {
		_, err := c.SendSubscribe(context.Background(), m)
		if !errors.Is(err, ErrInvalidMessage) || !IsPermanent(err) {
			t.Errorf("%+v: %v", m, err)
		}
	}
	if e.fake.TokenCalls() != 0 {
		t.Fatal("no call expected")
	}
}
