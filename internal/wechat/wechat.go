// Package wechat is canbao's own small client for WeChat's server APIs (jscode2session,
// stable_token, subscribeMessage.send, wxacode.getUnlimited) with a configurable base URL, so tests run against the
// local fake in package wechattest. Not an SDK: four calls do not need one, and an own client
// decides exactly what reaches errors and logs.
//
// Nothing secret leaves this package in an error or a log line: not the app secret, the login
// code, the openid, the session key nor the access token. Request URLs (which carry secret= and
// js_code=) are never logged or wrapped.
package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/internal/pii"
)

// DefaultAPIBase is WeChat's production API host.
const DefaultAPIBase = "https://api.weixin.qq.com"

// MaxBody is the largest answer we read.
const MaxBody = 64 << 10

// Config configures a Client.
type Config struct {
	APIBase string // e.g. https://api.weixin.qq.com (tests: an httptest server URL)
	AppID   string
	Secret  string
	Timeout time.Duration // per call; default 5s
}

// Client calls WeChat's server APIs. Safe for concurrent use; the access token is shared by
// every instance through Redis.
type Client struct {
	base   string
	appID  string
	secret string
	tmo    time.Duration
	hc     *http.Client
	rdb    redis.UniversalClient
	log    *slog.Logger

	tokenKey string
	lockKey  string

	mu     sync.Mutex
	flight *tokenFlight // in-process coalescing of token fetches
	local  localToken   // last token seen, used only while Redis fails
}

// NewClient builds a client. rdb must not be nil; keyPrefix is prepended to every Redis key.
// A nil log discards.
func NewClient(cfg Config, rdb redis.UniversalClient, keyPrefix string, log *slog.Logger) *Client {
	if rdb == nil {
		panic("wechat: NewClient needs a Redis client")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	base := strings.TrimRight(cfg.APIBase, "/")
	if base == "" {
		base = DefaultAPIBase
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{
		base:   base,
		appID:  cfg.AppID,
		secret: cfg.Secret,
		tmo:    cfg.Timeout,
		hc: &http.Client{
			Timeout: cfg.Timeout,
			// WeChat never redirects; following one would resend secret= to another host.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		rdb:      rdb,
		log:      log.With("component", "wechat"),
		tokenKey: keyPrefix + "wechat:token:" + cfg.AppID,
		lockKey:  keyPrefix + "wechat:token-lock:" + cfg.AppID,
	}
}

// do sends req and decodes a 200 answer of at most MaxBody bytes into out. Every failure is a
// *TransportError whose text holds none of the sensitive values.
func (c *Client) do(req *http.Request, op string, out any, sensitive ...string) error {
	sensitive = append(sensitive, c.secret)
	fail := func(err error) error {
		return &TransportError{Op: op, Err: pii.RedactSecretsErr(err, sensitive...)}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// *url.Error carries the full URL (secret=, js_code=): keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxBody))
		return fail(fmt.Errorf("unexpected HTTP status %d", resp.StatusCode))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return fail(fmt.Errorf("read answer: %w", err))
	}
	if len(body) > MaxBody {
		return fail(fmt.Errorf("answer larger than %d bytes", MaxBody))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fail(fmt.Errorf("malformed answer: %w", err))
	}
	return nil
}

func malformed(op, what string) error {
	return &TransportError{Op: op, Err: errors.New("malformed answer: " + what)}
}

func (c *Client) apiError(op string, code int, msg string, sensitive ...string) *APIError {
	sensitive = append(sensitive, c.secret)
	e := &APIError{Op: op, Code: code, Msg: pii.RedactSecrets(msg, sensitive...)}
	c.log.Warn("wechat api error", "op", op, "errcode", code, "errmsg", e.Msg)
	return e
}

// Session is the answer of jscode2session. SessionKey must never reach a client or a log.
type Session struct{ OpenID, UnionID, SessionKey string }

type code2SessionAnswer struct {
	OpenID     string `json:"openid"`
	SessionKey string `json:"session_key"`
	UnionID    string `json:"unionid"`
	ErrCode    int    `json:"errcode"`
	ErrMsg     string `json:"errmsg"`
}

// Code2Session exchanges a wx.login code:
// GET {base}/sns/jscode2session?appid=&secret=&js_code=&grant_type=authorization_code.
func (c *Client) Code2Session(ctx context.Context, code string) (Session, error) {
	const op = "jscode2session"
	switch {
	case code == "":
		return Session{}, &APIError{Op: op, Code: 41008, Msg: "missing code (checked locally)"}
	case len(code) > 256:
		return Session{}, &APIError{Op: op, Code: 40029, Msg: "invalid code (checked locally)"}
	}
	q := url.Values{
		"appid":      {c.appID},
		"secret":     {c.secret},
		"js_code":    {code},
		"grant_type": {"authorization_code"},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/sns/jscode2session?"+q.Encode(), nil)
	if err != nil {
		return Session{}, &TransportError{Op: op, Err: errors.New("cannot build request")}
	}
	var a code2SessionAnswer
	if err := c.do(req, op, &a, code); err != nil {
		c.log.Warn("wechat call failed", "op", op, "err", err)
		return Session{}, err
	}
	if a.ErrCode != 0 {
		return Session{}, c.apiError(op, a.ErrCode, a.ErrMsg, code, a.OpenID, a.SessionKey, a.UnionID)
	}
	if a.OpenID == "" || a.SessionKey == "" {
		return Session{}, malformed(op, "missing openid or session_key")
	}
	return Session{OpenID: a.OpenID, UnionID: a.UnionID, SessionKey: a.SessionKey}, nil
}

// SubscribeMessage is one subscribe message.
type SubscribeMessage struct {
	ToUser           string            // openid
	TemplateID       string            //
	Page             string            // optional
	Data             map[string]string // {"thing1":"张三", ...} sent as {"thing1":{"value":"张三"}}
	MiniprogramState string            // optional: developer|trial|formal
	Lang             string            // optional zh_CN
}

type sendValue struct {
	Value string `json:"value"`
}

type sendBody struct {
	ToUser           string               `json:"touser"`
	TemplateID       string               `json:"template_id"`
	Page             string               `json:"page,omitempty"`
	Data             map[string]sendValue `json:"data"`
	MiniprogramState string               `json:"miniprogram_state,omitempty"`
	Lang             string               `json:"lang,omitempty"`
}

type sendAnswer struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
	MsgID   *int64 `json:"msgid"`
}

// SendSubscribe posts to {base}/cgi-bin/message/subscribe/send?access_token=TOKEN and returns
// WeChat's msgid. On 40001/42001 it invalidates the token and retries once; a second 40001/42001
// is returned as a temporary *APIError.
func (c *Client) SendSubscribe(ctx context.Context, m SubscribeMessage) (msgID string, err error) {
	if m.ToUser == "" || m.TemplateID == "" || len(m.Data) == 0 {
		return "", ErrInvalidMessage
	}
	b := sendBody{
		ToUser: m.ToUser, TemplateID: m.TemplateID, Page: m.Page,
		Data:             make(map[string]sendValue, len(m.Data)),
		MiniprogramState: m.MiniprogramState, Lang: m.Lang,
	}
	for k, v := range m.Data {
		b.Data[k] = sendValue{Value: v}
	}
	body, err := json.Marshal(b)
	if err != nil {
		return "", fmt.Errorf("wechat subscribe.send: encode: %w", err)
	}
	for attempt := 0; ; attempt++ {
		tok, err := c.AccessToken(ctx)
		if err != nil {
			return "", err
		}
		id, err := c.send(ctx, tok, body, m.ToUser)
		var ae *APIError
		if attempt == 0 && errors.As(err, &ae) && (ae.Code == 40001 || ae.Code == 42001) {
			c.log.Info("wechat access token rejected; refreshing", "errcode", ae.Code)
			c.invalidateIf(ctx, tok)
			continue
		}
		return id, err
	}
}

func (c *Client) send(ctx context.Context, tok string, body []byte, openid string) (string, error) {
	const op = "subscribe.send"
	u := c.base + "/cgi-bin/message/subscribe/send?" + url.Values{"access_token": {tok}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return "", &TransportError{Op: op, Err: errors.New("cannot build request")}
	}
	req.Header.Set("Content-Type", "application/json")
	var a sendAnswer
	if err := c.do(req, op, &a, tok, openid); err != nil {
		c.log.Warn("wechat call failed", "op", op, "err", err)
		return "", err
	}
	if a.ErrCode != 0 {
		return "", c.apiError(op, a.ErrCode, a.ErrMsg, tok, openid)
	}
	if a.MsgID == nil {
		return "", malformed(op, "missing msgid")
	}
	return fmt.Sprint(*a.MsgID), nil
}
