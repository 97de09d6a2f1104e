package smstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	keyID  = "LTAI5tFakeKey"
	secret = "FakeSecret0123456789"
)

var nonceSeq struct {
	sync.Mutex
	n int
}

func nextNonce() string {
	nonceSeq.Lock()
	defer nonceSeq.Unlock()
	nonceSeq.n++
	return fmt.Sprintf("nonce-%d-%d", time.Now().UnixNano(), nonceSeq.n)
}

func form(edit func(url.Values)) url.Values {
	v := url.Values{
		"Action": {"SendSms"}, "Version": {"2017-05-25"}, "Format": {"JSON"}, "AccessKeyId": {keyID},
		"SignatureMethod": {"HMAC-SHA1"}, "SignatureVersion": {"1.0"}, "SignatureNonce": {nextNonce()},
		"Timestamp": {time.Now().UTC().Format("2006-01-02T15:04:05Z")}, "RegionId": {"cn-hangzhou"},
		"PhoneNumbers": {"13812345678"}, "SignName": {"罗东镇劳保所"}, "TemplateCode": {"SMS_123456789"},
		"TemplateParam": {`{"name":"张三"}`}, "OutId": {"o-1"},
	}
	if edit != nil {
		edit(v)
	}
	return v
}

func signed(method string, v url.Values, key string) url.Values {
	v.Del("Signature")
	v.Set("Signature", signature(key, stringToSign(method, v)))
	return v
}

type reply struct {
	status int
	Code   string
	BizID  string `json:"BizId"`
	Msg    string `json:"Message"`
}

func post(t *testing.T, s *Server, v url.Values) reply {
	t.Helper()
	resp, err := http.PostForm(s.URL+"/", v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r reply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	r.status = resp.StatusCode
	return r
}

func TestChecks(t *testing.T) {
	s := NewServer(t, keyID, secret)
	cases := []struct {
		name   string
		v      url.Values
		status int
		code   string
	}{
		{"ok", signed("POST", form(nil), secret), 200, "OK"},
		{"missing timestamp", signed("POST", form(func(v url.Values) { v.Del("Timestamp") }), secret), 400, "MissingParameter"},
		{"missing signature", form(nil), 400, "MissingParameter"},
		{"wrong action", signed("POST", form(func(v url.Values) { v.Set("Action", "QuerySendDetails") }), secret), 404, "InvalidAction.NotFound"},
		{"bad timestamp", signed("POST", form(func(v url.Values) { v.Set("Timestamp", "2025-01-01 00:00:00") }), secret), 400, "InvalidTimeStamp.Format"},
		{"old timestamp", signed("POST", form(func(v url.Values) {
			v.Set("Timestamp", time.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04:05Z"))
		}), secret), 400, "InvalidTimeStamp.Expired"},
		{"unknown key", signed("POST", form(func(v url.Values) { v.Set("AccessKeyId", "nope") }), secret), 404, "InvalidAccessKeyId.NotFound"},
		{"wrong secret", signed("POST", form(nil), "other"), 400, "SignatureDoesNotMatch"},
		{"signed as GET", signed("GET", form(nil), secret), 400, "SignatureDoesNotMatch"},
		{"tampered after signing", func() url.Values {
			v := signed("POST", form(nil), secret)
			v.Set("PhoneNumbers", "13900000000")
			return v
		}(), 400, "SignatureDoesNotMatch"},
		{"missing phone", signed("POST", form(func(v url.Values) { v.Del("PhoneNumbers") }), secret), 400, "MissingPhoneNumbers"},
		{"bad phone", signed("POST", form(func(v url.Values) { v.Set("PhoneNumbers", "1234") }), secret), 200, "isv.MOBILE_NUMBER_ILLEGAL"},
		{"bad template code", signed("POST", form(func(v url.Values) { v.Set("TemplateCode", "TPL_1") }), secret), 200, "isv.SMS_TEMPLATE_ILLEGAL"},
		{"param not json", signed("POST", form(func(v url.Values) { v.Set("TemplateParam", "name=张三") }), secret), 200, "isv.TEMPLATE_PARAMS_ILLEGAL"},
		{"param array", signed("POST", form(func(v url.Values) { v.Set("TemplateParam", `["张三"]`) }), secret), 200, "isv.TEMPLATE_PARAMS_ILLEGAL"},
		{"param number", signed("POST", form(func(v url.Values) { v.Set("TemplateParam", `{"n":1}`) }), secret), 200, "isv.TEMPLATE_PARAMS_ILLEGAL"},
		{"param null", signed("POST", form(func(v url.Values) { v.Set("TemplateParam", `null`) }), secret), 200, "isv.TEMPLATE_PARAMS_ILLEGAL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, s, tc.v)
			if r.status != tc.status || r.Code != tc.code {
				t.Fatalf("got %d %s (%s), want %d %s", r.status, r.Code, r.Msg, tc.status, tc.code)
			}
		})
	}
	if s.Count() != 1 {
		t.Fatalf("count = %d", s.Count())
	}
	got := s.Sent()[0]
	if got.Params["name"] != "张三" || got.OutID != "o-1" || got.Phone != "13812345678" {
		t.Fatalf("sent = %+v", got)
	}
}

func TestNonceReuse(t *testing.T) {
	s := NewServer(t, keyID, secret)
	v := signed("POST", form(nil), secret)
	if r := post(t, s, v); r.Code != "OK" {
		t.Fatal(r)
	}
	if r := post(t, s, v); r.status != 400 || r.Code != "SignatureNonceUsed" {
		t.Fatalf("replay answered %d %s", r.status, r.Code)
	}
	if s.Count() != 1 || s.Requests() != 2 {
		t.Fatalf("count %d requests %d", s.Count(), s.Requests())
	}
}

func TestGETAndPhoneList(t *testing.T) {
	s := NewServer(t, keyID, secret)
	v := signed("GET", form(func(v url.Values) { v.Set("PhoneNumbers", "13812345678,13900000000") }), secret)
	resp, err := http.Get(s.URL + "/?" + v.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || s.Count() != 2 || s.SentTo("13900000000") != 1 {
		t.Fatalf("status %d count %d", resp.StatusCode, s.Count())
	}
	if a := s.Sent(); a[0].BizID != a[1].BizID {
		t.Fatal("one request, one BizId")
	}
}

func TestKnobs(t *testing.T) {
	s := NewServer(t, keyID, secret)
	s.FailNext("isp.SYSTEM_ERROR", "系统错误", 500)
	s.FailNext("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控", 0)
	s.FailPhone("13900000000", "isv.DAY_LIMIT_CONTROL")
	if r := post(t, s, signed("POST", form(nil), secret)); r.status != 500 || r.Code != "isp.SYSTEM_ERROR" {
		t.Fatalf("%+v", r)
	}
	if r := post(t, s, signed("POST", form(nil), secret)); r.status != 200 || r.Code != "isv.BUSINESS_LIMIT_CONTROL" {
		t.Fatalf("%+v", r)
	}
	if r := post(t, s, signed("POST", form(func(v url.Values) { v.Set("PhoneNumbers", "13900000000") }), secret)); r.Code != "isv.DAY_LIMIT_CONTROL" {
		t.Fatalf("%+v", r)
	}
	// A badly signed request does not consume an injected failure.
	s.FailNext("isp.SYSTEM_ERROR", "", 0)
	if r := post(t, s, signed("POST", form(nil), "bad")); r.Code != "SignatureDoesNotMatch" {
		t.Fatalf("%+v", r)
	}
	if r := post(t, s, signed("POST", form(nil), secret)); r.Code != "isp.SYSTEM_ERROR" {
		t.Fatalf("%+v", r)
	}
	if r := post(t, s, signed("POST", form(nil), secret)); r.Code != "OK" {
		t.Fatalf("%+v", r)
	}
	if s.Count() != 1 {
		t.Fatalf("count %d", s.Count())
	}
}

func TestConcurrentRaw(t *testing.T) {
	s := NewServer(t, keyID, secret)
	const n = 300
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := signed("POST", form(func(v url.Values) { v.Set("PhoneNumbers", fmt.Sprintf("137%08d", i)) }), secret)
			resp, err := http.PostForm(s.URL+"/", v)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	if s.Count() != n {
		t.Fatalf("count %d", s.Count())
	}
	seen := map[string]bool{}
	for _, m := range s.Sent() {
		if seen[m.BizID] {
			t.Fatalf("duplicate BizId %s", m.BizID)
		}
		seen[m.BizID] = true
	}
}

func TestEncode(t *testing.T) {
	if got := encode("a b*c~d+e/张:"); got != "a%20b%2Ac~d%2Be%2F%E5%BC%A0%3A" {
		t.Fatal(got)
	}
	if !strings.HasPrefix(stringToSign("POST", url.Values{"A": {"1"}}), "POST&%2F&A%3D1") {
		t.Fatal(stringToSign("POST", url.Values{"A": {"1"}}))
	}
}
