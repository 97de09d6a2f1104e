// Package wechattest is a local fake of api.weixin.qq.com that speaks WeChat's wire format:
// jscode2session, stable_token, subscribeMessage.send and wxacode.getUnlimited, with the checks and errcodes WeChat
// answers, plus knobs to inject failures, delays and malformed answers. Tests start it with
// NewServer; `canbao serve` in dev mode with no AppID serves it as a local stand-in (New,
// AcceptAnyCode, Handler) so the resident journey can be tried without WeChat.
package wechattest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canbao/canbao/internal/platform/fakegate"
)

// The paths the fake answers.
const (
	PathCode2Session = "/sns/jscode2session"
	PathStableToken  = "/cgi-bin/stable_token"
	PathSubscribe    = "/cgi-bin/message/subscribe/send"
)

// TokenExpiresIn is the expires_in of every token the fake issues.
const TokenExpiresIn = 7200

// SentMessage is a subscribe message the fake accepted.
type SentMessage struct {
	ToUser           string
	TemplateID       string
	Page             string
	Data             map[string]string
	MiniprogramState string
	Lang             string
	MsgID            string
}

type login struct {
	openid, sessionKey string
	used               bool
	reusable           bool // made up by AcceptAnyCode: a dev can log in with it again
}

type failure struct {
	code int
	msg  string
}

// Server is a fake api.weixin.qq.com for tests.
type Server struct {
	URL string

	srv           *httptest.Server
	appID, secret string

	mu            sync.Mutex
	anyCode       bool
	codes         map[string]*login
	unionIDs      map[string]string
	fail          map[string][]failure
	malformed     map[string]int
	oversize      map[string]int
	delay         time.Duration
	token         string
	tokenCalls    int
	sent          []SentMessage
	refused       map[[2]string]bool
	nextMsgID     int64
	wxaCodes      []WXACodeCall
	fakegate.Gate // Hold, Held
}

// NewServer starts a fake for one app; it is closed at the test's cleanup.
func NewServer(t testing.TB, appID, secret string) *Server {
	t.Helper()
	s := New(appID, secret)
	s.srv = httptest.NewServer(s.Handler())
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// New makes a fake for one app without serving it; serve Handler yourself.
func New(appID, secret string) *Server {
	return &Server{
		appID: appID, secret: secret,
		codes:     map[string]*login{},
		unionIDs:  map[string]string{},
		fail:      map[string][]failure{},
		malformed: map[string]int{},
		oversize:  map[string]int{},
		refused:   map[[2]string]bool{},
		nextMsgID: 3_000_000_000_000_000, // large, like WeChat's
	}
}

// Handler answers WeChat's paths.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(PathCode2Session, s.wrap(PathCode2Session, s.code2Session))
	mux.HandleFunc(PathStableToken, s.wrap(PathStableToken, s.stableToken))
	mux.HandleFunc(PathSubscribe, s.wrap(PathSubscribe, s.subscribeSend))
	mux.HandleFunc(PathWXACodeUnlimited, s.wrap(PathWXACodeUnlimited, s.wxaCodeUnlimited))
	return mux
}

// AcceptAnyCode makes jscode2session accept any code it was not given as the login of a
// stable made-up openid derived from the code: the same code text always logs in the same
// resident, as often as asked. For the dev-mode stand-in only.
func (s *Server) AcceptAnyCode() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.anyCode = true
}

// DevOpenID is the openid AcceptAnyCode gives a code.
func DevOpenID(code string) string {
	sum := sha256.Sum256([]byte("canbao-dev-wechat:" + code))
	return "odev" + hex.EncodeToString(sum[:12])
}

func normPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

// AddCode registers a valid wx.login code; it works once, a second use answers 40163.
func (s *Server) AddCode(code, openid, sessionKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = &login{openid: openid, sessionKey: sessionKey}
}

// SetUnionID makes jscode2session answer a unionid for openid (as when the app is bound to an
// open-platform account).
func (s *Server) SetUnionID(openid, unionid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unionIDs[openid] = unionid
}

// FailNext makes the next call to path answer {"errcode":errcode,"errmsg":errmsg}. Calls
// queue: FailNext twice fails the next two calls.
func (s *Server) FailNext(path string, errcode int, errmsg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := normPath(path)
	s.fail[p] = append(s.fail[p], failure{errcode, errmsg})
}

// Delay makes every answer wait d (for timeouts); 0 turns it off.
func (s *Server) Delay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Malformed makes the next answer on path a 200 that is not JSON.
func (s *Server) Malformed(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.malformed[normPath(path)]++
}

// Oversize makes the next answer on path a well-formed JSON error object of about 100 KiB.
func (s *Server) Oversize(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oversize[normPath(path)]++
}

// TokenCalls is how many stable_token calls were made.
func (s *Server) TokenCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenCalls
}

// Token is the current access token ("" before the first stable_token call or after
// ExpireToken).
func (s *Server) Token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// Sent returns a copy of the subscribe messages received.
func (s *Server) Sent() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SentMessage, len(s.sent))
	for i, m := range s.sent {
		m.Data = copyMap(m.Data)
		out[i] = m
	}
	return out
}

// ExpireToken makes the current token invalid: the next send with it answers 40001 and the
// next stable_token issues a new one.
func (s *Server) ExpireToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = ""
}

// RefuseConsent makes sends of templateID to openid answer 43101.
func (s *Server) RefuseConsent(openid, templateID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refused[[2]string{openid, templateID}] = true
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func rid() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; encoding=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, map[string]any{"errcode": code, "errmsg": msg + ", rid: " + rid()})
}

// wrap applies Delay and the injected answers before the real handler.
func (s *Server) wrap(path string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		d := s.delay
		s.mu.Unlock()
		if d > 0 {
			// Read the body first: the server notices a client that gave up only once it has.
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
			if err != nil {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		s.mu.Lock()
		if path == PathStableToken {
			s.tokenCalls++
		}
		if s.malformed[path] > 0 {
			s.malformed[path]--
			s.mu.Unlock()
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html><body>502 Bad Gateway</body></html>"))
			return
		}
		if s.oversize[path] > 0 {
			s.oversize[path]--
			s.mu.Unlock()
			writeJSON(w, map[string]any{"errcode": -1, "errmsg": strings.Repeat("x", 100<<10)})
			return
		}
		if q := s.fail[path]; len(q) > 0 {
			f := q[0]
			s.fail[path] = q[1:]
			s.mu.Unlock()
			writeJSON(w, map[string]any{"errcode": f.code, "errmsg": f.msg})
			return
		}
		s.mu.Unlock()
		h(w, r)
	}
}

// checkApp answers WeChat's errcodes for a wrong appid or secret.
func (s *Server) checkApp(w http.ResponseWriter, appID, secret string) bool {
	switch {
	case appID == "":
		writeErr(w, 41002, "appid missing")
	case appID != s.appID:
		writeErr(w, 40013, "invalid appid")
	case secret == "":
		writeErr(w, 41004, "appsecret missing")
	case secret != s.secret:
		writeErr(w, 40125, "invalid appsecret")
	default:
		return true
	}
	return false
}

func (s *Server) code2Session(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeErr(w, 43001, "require GET method")
		return
	}
	q := r.URL.Query()
	if !s.checkApp(w, q.Get("appid"), q.Get("secret")) {
		return
	}
	if q.Get("grant_type") != "authorization_code" {
		writeErr(w, 40002, "invalid grant_type")
		return
	}
	code := q.Get("js_code")
	if code == "" {
		writeErr(w, 41008, "missing code")
		return
	}
	s.mu.Lock()
	l := s.codes[code]
	if l == nil && s.anyCode {
		l = &login{openid: DevOpenID(code), sessionKey: rid(), reusable: true}
		s.codes[code] = l
	}
	switch {
	case l == nil:
		s.mu.Unlock()
		writeErr(w, 40029, "invalid code")
		return
	case l.used:
		s.mu.Unlock()
		writeErr(w, 40163, "code been used")
		return
	}
	l.used = !l.reusable
	ans := map[string]any{"session_key": l.sessionKey, "openid": l.openid}
	if u := s.unionIDs[l.openid]; u != "" {
		ans["unionid"] = u
	}
	s.mu.Unlock()
	writeJSON(w, ans)
}

func (s *Server) stableToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeErr(w, 43002, "require POST method")
		return
	}
	var req struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh *bool  `json:"force_refresh"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeErr(w, 47001, "data format error")
		return
	}
	if req.GrantType != "client_credential" {
		writeErr(w, 40002, "invalid grant_type")
		return
	}
	if !s.checkApp(w, req.AppID, req.Secret) {
		return
	}
	s.mu.Lock()
	if s.token == "" || (req.ForceRefresh != nil && *req.ForceRefresh) {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		s.token = "tok_" + hex.EncodeToString(b)
	}
	tok := s.token
	s.mu.Unlock()
	writeJSON(w, map[string]any{"access_token": tok, "expires_in": TokenExpiresIn})
}

var miniprogramStates = map[string]bool{"": true, "developer": true, "trial": true, "formal": true}
var langs = map[string]bool{"": true, "zh_CN": true, "en_US": true, "zh_HK": true, "zh_TW": true}

func (s *Server) subscribeSend(w http.ResponseWriter, r *http.Request) {
	if !s.authorised(w, r) {
		return
	}
	var req struct {
		ToUser           string                     `json:"touser"`
		TemplateID       string                     `json:"template_id"`
		Page             string                     `json:"page"`
		Data             map[string]json.RawMessage `json:"data"`
		MiniprogramState string                     `json:"miniprogram_state"`
		Lang             string                     `json:"lang"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeErr(w, 47001, "data format error")
		return
	}
	switch {
	case req.ToUser == "":
		writeErr(w, 40003, "invalid openid")
		return
	case req.TemplateID == "":
		writeErr(w, 40037, "invalid template_id")
		return
	case len(req.Data) == 0:
		writeErr(w, 47003, "argument invalid! data is empty")
		return
	case !miniprogramStates[req.MiniprogramState]:
		writeErr(w, 47003, "argument invalid! miniprogram_state invalid")
		return
	case !langs[req.Lang]:
		writeErr(w, 47003, "argument invalid! lang invalid")
		return
	}
	data := make(map[string]string, len(req.Data))
	for k, raw := range req.Data {
		var v map[string]json.RawMessage
		var str string
		if json.Unmarshal(raw, &v) != nil || len(v) != 1 || !isJSONString(v["value"]) || json.Unmarshal(v["value"], &str) != nil {
			writeErr(w, 47003, "argument invalid! data."+k+".value invalid")
			return
		}
		data[k] = str
	}
	if !s.Wait(r) {
		return
	}
	s.mu.Lock()
	if s.refused[[2]string{req.ToUser, req.TemplateID}] {
		s.mu.Unlock()
		writeErr(w, 43101, "user refuse to accept the msg")
		return
	}
	s.nextMsgID++
	id := s.nextMsgID
	s.sent = append(s.sent, SentMessage{
		ToUser: req.ToUser, TemplateID: req.TemplateID, Page: req.Page, Data: data,
		MiniprogramState: req.MiniprogramState, Lang: req.Lang, MsgID: strconv.FormatInt(id, 10),
	})
	s.mu.Unlock()
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "msgid": id})
}

// String describes the fake (never its secret).
func (s *Server) String() string {
	return fmt.Sprintf("wechattest.Server(%s, appid %s)", s.URL, s.appID)
}

func isJSONString(raw json.RawMessage) bool { return len(raw) > 0 && raw[0] == '"' }

// authorised answers WeChat's errors for a call that is not a POST or carries no valid
// access_token (as the real API does, HTTP 200 with an errcode) and says whether it may go on.
func (s *Server) authorised(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		writeErr(w, 43002, "require POST method")
		return false
	}
	tok := r.URL.Query().Get("access_token")
	if tok == "" {
		writeErr(w, 41001, "access_token missing")
		return false
	}
	s.mu.Lock()
	valid := s.token != "" && tok == s.token
	s.mu.Unlock()
	if !valid {
		writeErr(w, 40001, "invalid credential, access_token is invalid or not latest")
		return false
	}
	return true
}
