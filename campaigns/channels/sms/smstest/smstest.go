// Package smstest is a local fake of the SMS provider (Aliyun dysmsapi, SendSms, version
// 2017-05-25, RPC style) that speaks its wire format: it verifies the request the way the
// provider does — required common parameters, AccessKeyId, the HMAC-SHA1 signature
// recomputed from the received form, timestamp window, nonce reuse — then the SendSms
// parameters, and answers the provider's JSON. Knobs inject failures, delays and malformed or
// oversize answers.
//
// The signature check is implemented here independently of package sms (its own RFC 3986
// encoder), so a test against the fake also checks the client's signing.
package smstest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/canbao/canbao/internal/platform/fakegate"
)

// Sent is a message the fake accepted (one per phone number).
type Sent struct {
	Phone        string
	SignName     string
	TemplateCode string
	Params       map[string]string // nil when no TemplateParam was sent
	OutID        string
	BizID        string
}

type failure struct {
	code, message string
	status        int
}

// Server is a fake dysmsapi.aliyuncs.com for tests. Safe for concurrent use.
type Server struct {
	URL string

	srv           *httptest.Server
	keyID, secret string

	mu            sync.Mutex
	nonces        map[string]bool
	fail          []failure
	failPhone     map[string]string
	delay         time.Duration
	lose          int // LoseAnswers: accepted sends still to answer never
	malformed     int
	oversize      int
	sent          []Sent
	requests      int
	nextBiz       int64
	fakegate.Gate // Hold, Held
}

// NewServer starts a fake that knows one access key; it is closed at the test's cleanup.
func NewServer(t testing.TB, accessKeyID, accessKeySecret string) *Server {
	t.Helper()
	s := &Server{
		keyID: accessKeyID, secret: accessKeySecret,
		nonces:    map[string]bool{},
		failPhone: map[string]string{},
		nextBiz:   900619746936498440, // like the provider's
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// FailNext makes the next SendSms that passes authentication (AccessKeyId, signature, nonce)
// answer {"Code":code,"Message":message} with httpStatus (0 means 200). Calls queue.
func (s *Server) FailNext(code, message string, httpStatus int) {
	if httpStatus == 0 {
		httpStatus = http.StatusOK
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, failure{code, message, httpStatus})
}

// LoseAnswers makes the next n sends that the provider accepts (and records, as sent) go
// unanswered until their client gives up: the message went out, but the client cannot know.
func (s *Server) LoseAnswers(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose = n
}

// FailPhone makes every send to phone answer code (HTTP 200), as the provider does for a
// blacklisted or capped number.
func (s *Server) FailPhone(phone, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failPhone[phone] = code
}

// Delay makes every answer wait d (for timeouts); 0 turns it off.
func (s *Server) Delay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Malformed makes the next authenticated SendSms answer a 200 that is not JSON.
func (s *Server) Malformed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.malformed++
}

// Oversize makes the next authenticated SendSms answer a well-formed JSON error of about
// 100 KiB.
func (s *Server) Oversize() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oversize++
}

// Sent returns a copy of the messages accepted, in order of acceptance.
func (s *Server) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Sent, len(s.sent))
	for i, m := range s.sent {
		if m.Params != nil {
			p := make(map[string]string, len(m.Params))
			for k, v := range m.Params {
				p[k] = v
			}
			m.Params = p
		}
		out[i] = m
	}
	return out
}

// SentTo is how many messages to phone were accepted.
func (s *Server) SentTo(phone string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.sent {
		if m.Phone == phone {
			n++
		}
	}
	return n
}

// Count is how many messages were accepted.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sent)
}

// Requests is how many HTTP requests reached the fake, accepted or not.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Messages the fake answers for the codes it produces itself or FailPhone injects.
var messages = map[string]string{
	"isv.MOBILE_NUMBER_ILLEGAL":       "非法手机号",
	"isv.MOBILE_COUNT_OVER_LIMIT":     "手机号码数量超过限制",
	"isv.TEMPLATE_PARAMS_ILLEGAL":     "模板变量里包含非法关键字",
	"isv.SMS_TEMPLATE_ILLEGAL":        "该账号下找不到对应模板",
	"isv.SMS_SIGNATURE_ILLEGAL":       "该账号下找不到对应签名",
	"isv.BUSINESS_LIMIT_CONTROL":      "触发分钟级流控Permits:1",
	"isv.DAY_LIMIT_CONTROL":           "触发日发送限额",
	"isv.BLACK_KEY_CONTROL_LIMIT":     "黑名单管控",
	"isv.AMOUNT_NOT_ENOUGH":           "账户余额不足",
	"isp.SYSTEM_ERROR":                "系统错误",
	"isv.TEMPLATE_MISSING_PARAMETERS": "模板变量缺少对应参数值",
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	if msg == "" {
		msg = messages[code]
	}
	writeJSON(w, status, map[string]string{
		"RequestId": requestID(),
		"HostId":    "dysmsapi.aliyuncs.com",
		"Code":      code,
		"Message":   msg,
		"Recommend": "https://api.aliyun.com/troubleshoot?q=" + code + "&product=Dysmsapi",
	})
}

// Common parameters every RPC request must carry.
var required = []string{
	"Action", "Version", "Format", "AccessKeyId", "SignatureMethod", "SignatureVersion",
	"SignatureNonce", "Timestamp", "Signature",
}

// MaxSkew is how far a request's Timestamp may be from the fake's clock.
const MaxSkew = 15 * time.Minute

var (
	phoneRE        = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	templateCodeRE = regexp.MustCompile(`^SMS_[0-9]+$`)
)

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	d := s.delay
	s.mu.Unlock()
	// Read the body first: the server notices a client that gave up only once it has.
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	formErr := r.ParseForm()
	if d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if r.URL.Path != "/" {
		writeErr(w, http.StatusNotFound, "InvalidApi.NotFound", "Specified api is not found, please check your url and method.")
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		writeErr(w, http.StatusMethodNotAllowed, "UnsupportedHTTPMethod", "Specified http method is not supported.")
		return
	}
	if formErr != nil {
		writeErr(w, http.StatusBadRequest, "InvalidParameter", "The request body cannot be parsed.")
		return
	}
	form := r.Form
	for k, vs := range form {
		if len(vs) > 1 {
			writeErr(w, http.StatusBadRequest, "InvalidParameter", fmt.Sprintf("The parameter %q is repeated.", k))
			return
		}
	}
	for _, k := range required {
		if form.Get(k) == "" {
			writeErr(w, http.StatusBadRequest, "MissingParameter",
				fmt.Sprintf("The input parameter %q that is mandatory for processing this request is not supplied.", k))
			return
		}
	}
	switch {
	case form.Get("Action") != "SendSms":
		writeErr(w, http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
		return
	case form.Get("Version") != "2017-05-25":
		writeErr(w, http.StatusBadRequest, "InvalidVersion", "Specified parameter Version is not valid.")
		return
	case form.Get("Format") != "JSON":
		writeErr(w, http.StatusBadRequest, "InvalidParameter", "This fake answers Format=JSON only.")
		return
	case form.Get("SignatureMethod") != "HMAC-SHA1":
		writeErr(w, http.StatusBadRequest, "InvalidSignatureMethod", "Specified signature method is not supported.")
		return
	case form.Get("SignatureVersion") != "1.0":
		writeErr(w, http.StatusBadRequest, "UnsupportedSignatureVersion", "Specified signature version is not supported.")
		return
	}
	ts, err := time.Parse("2006-01-02T15:04:05Z", form.Get("Timestamp"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
		return
	}
	if skew := time.Since(ts); skew > MaxSkew || skew < -MaxSkew {
		writeErr(w, http.StatusBadRequest, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
		return
	}
	if form.Get("AccessKeyId") != s.keyID {
		writeErr(w, http.StatusNotFound, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
		return
	}
	sts := stringToSign(r.Method, form)
	want := signature(s.secret, sts)
	if !hmac.Equal([]byte(form.Get("Signature")), []byte(want)) {
		// The provider echoes its string to sign, which holds every parameter.
		writeErr(w, http.StatusBadRequest, "SignatureDoesNotMatch",
			"Specified signature does not match our calculation. server string to sign is:"+sts)
		return
	}

	s.mu.Lock()
	nonce := form.Get("SignatureNonce")
	if s.nonces[nonce] {
		s.mu.Unlock()
		writeErr(w, http.StatusBadRequest, "SignatureNonceUsed", "Specified signature nonce was used already.")
		return
	}
	s.nonces[nonce] = true
	switch {
	case len(s.fail) > 0:
		f := s.fail[0]
		s.fail = s.fail[1:]
		s.mu.Unlock()
		writeErr(w, f.status, f.code, f.message)
		return
	case s.malformed > 0:
		s.malformed--
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
		return
	case s.oversize > 0:
		s.oversize--
		s.mu.Unlock()
		writeErr(w, http.StatusOK, "isp.SYSTEM_ERROR", strings.Repeat("x", 100<<10))
		return
	}
	s.mu.Unlock()
	if !s.Wait(r) {
		return
	}

	s.sendSms(w, r, form.Get("PhoneNumbers"), form.Get("SignName"), form.Get("TemplateCode"),
		form.Get("TemplateParam"), form.Has("TemplateParam"), form.Get("OutId"))
}

func (s *Server) sendSms(w http.ResponseWriter, r *http.Request, phones, signName, templateCode, templateParam string, hasParam bool, outID string) {
	switch {
	case phones == "":
		writeErr(w, http.StatusBadRequest, "MissingPhoneNumbers", "PhoneNumbers is mandatory for this action.")
		return
	case signName == "":
		writeErr(w, http.StatusBadRequest, "MissingSignName", "SignName is mandatory for this action.")
		return
	case templateCode == "":
		writeErr(w, http.StatusBadRequest, "MissingTemplateCode", "TemplateCode is mandatory for this action.")
		return
	}
	list := strings.Split(phones, ",")
	if len(list) > 1000 {
		writeErr(w, http.StatusOK, "isv.MOBILE_COUNT_OVER_LIMIT", "")
		return
	}
	for _, p := range list {
		if !phoneRE.MatchString(p) {
			writeErr(w, http.StatusOK, "isv.MOBILE_NUMBER_ILLEGAL", "")
			return
		}
	}
	if n := utf8.RuneCountInString(signName); n < 2 || n > 12 {
		writeErr(w, http.StatusOK, "isv.SMS_SIGNATURE_ILLEGAL", "")
		return
	}
	if !templateCodeRE.MatchString(templateCode) {
		writeErr(w, http.StatusOK, "isv.SMS_TEMPLATE_ILLEGAL", "")
		return
	}
	var params map[string]string
	if hasParam {
		// A JSON object whose every value is a string; null, arrays, numbers are refused.
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(templateParam), &raw); err != nil || raw == nil {
			writeErr(w, http.StatusOK, "isv.TEMPLATE_PARAMS_ILLEGAL", "TemplateParam is not a JSON object of strings")
			return
		}
		params = make(map[string]string, len(raw))
		for k, v := range raw {
			var str string
			if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &str) != nil {
				writeErr(w, http.StatusOK, "isv.TEMPLATE_PARAMS_ILLEGAL", "TemplateParam is not a JSON object of strings")
				return
			}
			params[k] = str
		}
	}

	s.mu.Lock()
	for _, p := range list {
		if code, ok := s.failPhone[p]; ok {
			s.mu.Unlock()
			writeErr(w, http.StatusOK, code, "")
			return
		}
	}
	s.nextBiz++
	biz := fmt.Sprintf("%d^0", s.nextBiz)
	for _, p := range list {
		var cp map[string]string
		if params != nil {
			cp = make(map[string]string, len(params))
			for k, v := range params {
				cp[k] = v
			}
		}
		s.sent = append(s.sent, Sent{Phone: p, SignName: signName, TemplateCode: templateCode, Params: cp, OutID: outID, BizID: biz})
	}
	lost := s.lose > 0
	if lost {
		s.lose--
	}
	s.mu.Unlock()
	if lost {
		<-r.Context().Done() // its client gave up
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"RequestId": requestID(), "BizId": biz, "Code": "OK", "Message": "OK"})
}

// encode is RFC 3986 percent-encoding with upper-case hex: only A-Z a-z 0-9 - _ . ~ stay as
// they are (what the provider's "special encoding" amounts to).
func encode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// stringToSign recomputes the provider's string to sign from the received parameters.
func stringToSign(method string, form map[string][]string) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	pairs := make([]string, 0, len(keys))
	for _, k := range keys {
		pairs = append(pairs, encode(k)+"="+encode(form[k][0]))
	}
	return method + "&" + encode("/") + "&" + encode(strings.Join(pairs, "&"))
}

func signature(secret, stringToSign string) string {
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
