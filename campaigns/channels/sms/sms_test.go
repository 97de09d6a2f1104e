package sms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns/channels/sms/smstest"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/deadaddr"
)

const (
	testKeyID  = "LTAI5tCanbaoTestKey"
	testSecret = "AccessKeySecretForTests0123456789"
	testPhone  = "13812345678"
	testName   = "张小明"
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
	fake *smstest.Server
	logs *syncBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return &env{fake: smstest.NewServer(t, testKeyID, testSecret), logs: &syncBuffer{}}
}

func (e *env) client(timeout time.Duration) *Client {
	return e.clientWith(Config{APIBase: e.fake.URL, AccessKeyID: testKeyID, AccessKeySecret: testSecret, Timeout: timeout})
}

func (e *env) clientWith(cfg Config) *Client {
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return NewClient(cfg, log)
}

func msg() Message {
	return Message{
		Phone:        testPhone,
		SignName:     "罗东镇劳保所",
		TemplateCode: "SMS_123456789",
		Params:       map[string]string{"name": testName, "village": "东岗村", "deadline": "12月31日"},
		OutID:        "dlv-000042",
	}
}

// assertNoLeak fails if err's text or the logs contain any of the sensitive values.
func assertNoLeak(t *testing.T, err error, logs string, sensitive ...string) {
	t.Helper()
	var texts []string
	if err != nil {
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
	}
	texts = append(texts, logs)
	for _, s := range append(sensitive, testPhone, testSecret, testName) {
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

func asAPIError(t *testing.T, err error, code string) *APIError {
	t.Helper()
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want *APIError %s, got %T %v", code, err, err)
	}
	if ae.Code != code {
		t.Fatalf("want code %s, got %s (%v)", code, ae.Code, err)
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

func TestSendSuccess(t *testing.T) {
	e := newEnv(t)
	c := e.client(time.Second)
	m := msg()
	m.Params["note"] = `请于月底前缴费 & <参保> "100%" a+b*c~`
	biz, err := c.Send(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if biz == "" {
		t.Fatal("empty BizId")
	}
	sent := e.fake.Sent()
	if len(sent) != 1 {
		t.Fatalf("fake accepted %d messages", len(sent))
	}
	s := sent[0]
	if s.Phone != testPhone || s.SignName != "罗东镇劳保所" || s.TemplateCode != "SMS_123456789" || s.OutID != "dlv-000042" || s.BizID != biz {
		t.Fatalf("sent = %+v", s)
	}
	if len(s.Params) != len(m.Params) {
		t.Fatalf("params = %v", s.Params)
	}
	for k, v := range m.Params {
		if s.Params[k] != v {
			t.Errorf("param %s = %q, want %q", k, s.Params[k], v)
		}
	}
	if e.fake.SentTo(testPhone) != 1 || e.fake.Count() != 1 {
		t.Fatalf("SentTo = %d, Count = %d", e.fake.SentTo(testPhone), e.fake.Count())
	}
	// The log may show the masked number only.
	if !strings.Contains(e.logs.String(), "138****5678") {
		t.Errorf("expected the masked phone in the debug log: %s", e.logs.String())
	}
	assertNoLeak(t, nil, e.logs.String())
}

func TestSendWithoutParamsOrOutID(t *testing.T) {
	e := newEnv(t)
	m := msg()
	m.Params, m.OutID = nil, ""
	if _, err := e.client(time.Second).Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	s := e.fake.Sent()[0]
	if s.Params != nil || s.OutID != "" {
		t.Fatalf("sent = %+v", s)
	}
}

// Every request must pass the fake's signature check; a tampered secret fails it.
func TestSignatureVerifiedByFake(t *testing.T) {
	e := newEnv(t)
	c := e.client(time.Second)
	for i := range 5 {
		m := msg()
		m.Params["i"] = strings.Repeat("参", i) + " *~+/%"
		if _, err := c.Send(context.Background(), m); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if e.fake.Count() != 5 {
		t.Fatalf("count = %d", e.fake.Count())
	}
}

func TestWrongSecret(t *testing.T) {
	e := newEnv(t)
	const wrong = "WrongSecretWrongSecret000000"
	c := e.clientWith(Config{APIBase: e.fake.URL, AccessKeyID: testKeyID, AccessKeySecret: wrong, Timeout: time.Second})
	_, err := c.Send(context.Background(), msg())
	ae := asAPIError(t, err, "SignatureDoesNotMatch")
	if !ae.Permanent() || !IsPermanent(err) || IsTemporary(err) {
		t.Errorf("SignatureDoesNotMatch must be permanent: %v", err)
	}
	if ae.HTTPStatus != http.StatusBadRequest || ae.RequestID == "" {
		t.Errorf("status %d, request id %q", ae.HTTPStatus, ae.RequestID)
	}
	// The fake echoes its string to sign (phone, name, …): it must not survive.
	if strings.Contains(ae.Message, "PhoneNumbers") || strings.Contains(ae.Message, "%25E5") {
		t.Errorf("string to sign not cut: %q", ae.Message)
	}
	assertNoLeak(t, err, e.logs.String(), wrong, "13812345678", "%25E5%25BC%25A0") // 张 twice-encoded
	if e.fake.Count() != 0 {
		t.Fatal("a badly signed message was accepted")
	}
}

func TestWrongAccessKeyID(t *testing.T) {
	e := newEnv(t)
	c := e.clientWith(Config{APIBase: e.fake.URL, AccessKeyID: "LTAI5tUnknown", AccessKeySecret: testSecret, Timeout: time.Second})
	_, err := c.Send(context.Background(), msg())
	ae := asAPIError(t, err, "InvalidAccessKeyId.NotFound")
	if !IsPermanent(err) || ae.HTTPStatus != http.StatusNotFound {
		t.Errorf("want permanent 404: %v (%d)", err, ae.HTTPStatus)
	}
	assertNoLeak(t, err, e.logs.String())
}

func TestProviderErrors(t *testing.T) {
	cases := []struct {
		code                 string
		status               int
		message              string
		permanent, temporary bool
	}{
		{"isv.SMS_TEMPLATE_ILLEGAL", 200, "该账号下找不到对应模板", true, false},
		{"isv.SMS_SIGNATURE_ILLEGAL", 200, "签名不合法", true, false},
		{"isv.TEMPLATE_MISSING_PARAMETERS", 200, "模板缺少变量", true, false},
		{"isv.AMOUNT_NOT_ENOUGH", 200, "账户余额不足", true, false},
		{"isv.DAY_LIMIT_CONTROL", 200, "触发日发送限额", true, false},
		{"isv.BLACK_KEY_CONTROL_LIMIT", 200, "黑名单管控", true, false},
		{"isp.RAM_PERMISSION_DENY", 403, "RAM权限DENY", true, false},
		{"isp.SYSTEM_ERROR", 500, "系统错误", false, true},
		{"isp.SYSTEM_ERROR", 200, "系统错误", false, true},
		{"isv.BUSINESS_LIMIT_CONTROL", 200, "触发分钟级流控Permits:1", false, true},
		{"Throttling.User", 400, "Request was denied due to user flow control.", false, true},
		{"isv.SOMETHING_NEW", 200, "未知错误", false, false},
		// A message echoing the number and a parameter value is redacted.
		{"isv.MOBILE_NUMBER_ILLEGAL", 200, "号码 " + testPhone + " 非法, name=" + testName, true, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s_%d", tc.code, tc.status), func(t *testing.T) {
			e := newEnv(t)
			e.fake.FailNext(tc.code, tc.message, tc.status)
			_, err := e.client(time.Second).Send(context.Background(), msg())
			ae := asAPIError(t, err, tc.code)
			if ae.Permanent() != tc.permanent || IsPermanent(err) != tc.permanent {
				t.Errorf("permanent = %v, want %v", ae.Permanent(), tc.permanent)
			}
			if ae.Temporary() != tc.temporary || IsTemporary(err) != tc.temporary {
				t.Errorf("temporary = %v, want %v", ae.Temporary(), tc.temporary)
			}
			if ae.HTTPStatus != tc.status {
				t.Errorf("status = %d, want %d", ae.HTTPStatus, tc.status)
			}
			assertNoLeak(t, err, e.logs.String())
			if e.fake.Count() != 0 {
				t.Error("a failed send was counted")
			}
		})
	}
}

func TestFailPhone(t *testing.T) {
	e := newEnv(t)
	const other = "13900001111"
	e.fake.FailPhone(testPhone, "isv.DAY_LIMIT_CONTROL")
	c := e.client(time.Second)
	for range 2 {
		_, err := c.Send(context.Background(), msg())
		asAPIError(t, err, "isv.DAY_LIMIT_CONTROL")
		if !IsPermanent(err) {
			t.Fatal("DAY_LIMIT_CONTROL must be permanent")
		}
		assertNoLeak(t, err, e.logs.String())
	}
	m := msg()
	m.Phone = other
	if _, err := c.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if e.fake.SentTo(testPhone) != 0 || e.fake.SentTo(other) != 1 {
		t.Fatalf("SentTo %d/%d", e.fake.SentTo(testPhone), e.fake.SentTo(other))
	}
}

// neverAnswers: the fake holds its answer for longer than any test runs, so only the client's
// timeout or context can end a call; a call that returns at all honoured it. The bound the
// tests check is a guard against a hang, far above any slowness of the machine.
const neverAnswers, hangGuard = time.Hour, 30 * time.Second

func TestTimeout(t *testing.T) {
	e := newEnv(t)
	e.fake.Delay(neverAnswers)
	const tmo = 300 * time.Millisecond
	start := time.Now()
	_, err := e.client(tmo).Send(context.Background(), msg())
	took := time.Since(start)
	te := asTransportError(t, err)
	if !te.Timeout() {
		t.Errorf("want a timeout, got %v", err)
	}
	if took < tmo || took > hangGuard {
		t.Errorf("took %v with timeout %v", took, tmo)
	}
	assertNoLeak(t, err, e.logs.String())
	e.fake.Delay(0)
}

func TestContextCancel(t *testing.T) {
	e := newEnv(t)
	e.fake.Delay(neverAnswers)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.client(time.Hour).Send(ctx, msg())
	asTransportError(t, err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("want context.DeadlineExceeded in the chain: %v", err)
	}
	if time.Since(start) > hangGuard {
		t.Errorf("context deadline not honoured: %v", time.Since(start))
	}
	e.fake.Delay(0)
}

func TestMalformedAnswer(t *testing.T) {
	e := newEnv(t)
	e.fake.Malformed()
	_, err := e.client(time.Second).Send(context.Background(), msg())
	te := asTransportError(t, err)
	if te.Status != http.StatusOK || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("err = %v (status %d)", err, te.Status)
	}
	assertNoLeak(t, err, e.logs.String())
}

func TestOversizeAnswer(t *testing.T) {
	e := newEnv(t)
	e.fake.Oversize()
	_, err := e.client(time.Second).Send(context.Background(), msg())
	asTransportError(t, err)
	if !strings.Contains(err.Error(), "larger than") {
		t.Errorf("err = %v", err)
	}
	assertNoLeak(t, err, e.logs.String())
}

// Answers a real gateway might give: a non-JSON 5xx, JSON without Code, OK without BizId.
func TestOddAnswers(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
	}{
		{"html 502", http.StatusBadGateway, "<html>502 Bad Gateway</html>"},
		{"json 503 without code", http.StatusServiceUnavailable, `{"error":"busy"}`},
		{"200 without code", http.StatusOK, `{"RequestId":"x"}`},
		{"OK without BizId", http.StatusOK, `{"RequestId":"x","Code":"OK","Message":"OK"}`},
		{"empty 200", http.StatusOK, ``},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			logs := &syncBuffer{}
			c := NewClient(Config{APIBase: srv.URL, AccessKeyID: testKeyID, AccessKeySecret: testSecret}, slog.New(slog.NewTextHandler(logs, nil)))
			_, err := c.Send(context.Background(), msg())
			te := asTransportError(t, err)
			if te.Status != tc.status {
				t.Errorf("status = %d, want %d", te.Status, tc.status)
			}
			assertNoLeak(t, err, logs.String())
		})
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	var hits sync.Map
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Store("target", true) }))
	defer target.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	_, err := NewClient(Config{APIBase: srv.URL, AccessKeyID: testKeyID, AccessKeySecret: testSecret}, nil).Send(context.Background(), msg())
	asTransportError(t, err)
	if _, ok := hits.Load("target"); ok {
		t.Fatal("redirect followed: the signed body went to another host")
	}
}

func TestConnectionRefused(t *testing.T) {
	base := deadaddr.RefusedURL(t)
	logs := &syncBuffer{}
	_, err := NewClient(Config{APIBase: base, AccessKeyID: testKeyID, AccessKeySecret: testSecret, Timeout: time.Second},
		slog.New(slog.NewTextHandler(logs, nil))).Send(context.Background(), msg())
	asTransportError(t, err)
	assertNoLeak(t, err, logs.String())
}

func TestLocalChecks(t *testing.T) {
	e := newEnv(t)
	c := e.client(time.Second)
	cases := []struct {
		name string
		edit func(*Message)
		code string
	}{
		{"short phone", func(m *Message) { m.Phone = "1381234567" }, "isv.MOBILE_NUMBER_ILLEGAL"},
		{"landline", func(m *Message) { m.Phone = "02112345678" }, "isv.MOBILE_NUMBER_ILLEGAL"},
		{"prefixed", func(m *Message) { m.Phone = "+8613812345678" }, "isv.MOBILE_NUMBER_ILLEGAL"},
		{"two phones", func(m *Message) { m.Phone = testPhone + ",13900001111" }, "isv.MOBILE_NUMBER_ILLEGAL"},
		{"no sign", func(m *Message) { m.SignName = "" }, "isv.SMS_SIGNATURE_ILLEGAL"},
		{"no template", func(m *Message) { m.TemplateCode = " " }, "isv.SMS_TEMPLATE_ILLEGAL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := msg()
			tc.edit(&m)
			_, err := c.Send(context.Background(), m)
			ae := asAPIError(t, err, tc.code)
			if !IsPermanent(err) || ae.HTTPStatus != 0 {
				t.Errorf("local refusal must be permanent: %v", err)
			}
			assertNoLeak(t, err, e.logs.String(), "1381234567", "13900001111")
		})
	}
	if e.fake.Requests() != 0 {
		t.Fatalf("local refusals reached the provider %d times", e.fake.Requests())
	}
}

// The fake refuses a reused SignatureNonce; the client draws a fresh one per call.
func TestNonceReuse(t *testing.T) {
	e := newEnv(t)
	c := e.client(time.Second)
	c.nonce = func() string { return "00000000-0000-4000-8000-000000000000" }
	if _, err := c.Send(context.Background(), msg()); err != nil {
		t.Fatal(err)
	}
	_, err := c.Send(context.Background(), msg())
	asAPIError(t, err, "SignatureNonceUsed")
	if !IsTemporary(err) {
		t.Error("a nonce collision is worth a retry (with a new nonce)")
	}
	if e.fake.Count() != 1 {
		t.Fatalf("count = %d", e.fake.Count())
	}
}

func TestSkewedClock(t *testing.T) {
	e := newEnv(t)
	c := e.client(time.Second)
	c.now = func() time.Time { return time.Now().Add(-time.Hour) }
	_, err := c.Send(context.Background(), msg())
	ae := asAPIError(t, err, "InvalidTimeStamp.Expired")
	if ae.Permanent() || ae.Temporary() {
		t.Error("a skewed clock wants an operator: neither permanent nor temporary")
	}
}

func TestConcurrentSends(t *testing.T) {
	e := newEnv(t)
	c := e.client(5 * time.Second)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	bizIDs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := msg()
			m.Phone = fmt.Sprintf("139%08d", i)
			m.OutID = fmt.Sprintf("dlv-%06d", i)
			m.Params = map[string]string{"name": fmt.Sprintf("居民%d", i)}
			id, err := c.Send(context.Background(), m)
			if err != nil {
				errs <- err
				return
			}
			bizIDs <- id
		}()
	}
	wg.Wait()
	close(errs)
	close(bizIDs)
	for err := range errs {
		t.Error(err)
	}
	if e.fake.Count() != n {
		t.Fatalf("count = %d, want %d", e.fake.Count(), n)
	}
	seenBiz := map[string]bool{}
	for id := range bizIDs {
		if seenBiz[id] {
			t.Errorf("BizId %s answered twice", id)
		}
		seenBiz[id] = true
	}
	seen := map[string]bool{}
	for _, s := range e.fake.Sent() {
		var i int
		if _, err := fmt.Sscanf(s.OutID, "dlv-%06d", &i); err != nil {
			t.Fatalf("out id %q", s.OutID)
		}
		if seen[s.OutID] || s.Phone != fmt.Sprintf("139%08d", i) || s.Params["name"] != fmt.Sprintf("居民%d", i) {
			t.Errorf("bad or duplicate delivery %+v", s)
		}
		seen[s.OutID] = true
		if e.fake.SentTo(s.Phone) != 1 {
			t.Errorf("phone %s received %d", pii.MaskPhone(s.Phone), e.fake.SentTo(s.Phone))
		}
	}
}

func TestDefaults(t *testing.T) {
	c := NewClient(Config{}, nil)
	if c.base != DefaultAPIBase || c.hc.Timeout != DefaultTimeout {
		t.Fatalf("base %q timeout %v", c.base, c.hc.Timeout)
	}
	c = NewClient(Config{APIBase: "http://x.test/"}, nil)
	if c.base != "http://x.test" {
		t.Fatalf("base %q", c.base)
	}
}
