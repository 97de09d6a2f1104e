// Package sms is canbao's own small client for the SMS provider's SendSms API, shaped like
// Aliyun's dysmsapi (version 2017-05-25, RPC style, signature version 1.0, HMAC-SHA1), with a
// configurable base URL so tests run against the local fake in package smstest.
//
// Nothing secret or personal leaves this package in an error or a log line: not the
// AccessKeySecret, the request signature, the phone number (logged only masked, see
// pii.MaskPhone) nor the template parameter values (a resident's name, village, …). The request
// travels in the POST body, never in the URL.
//
// Send never retries: the campaign engine decides, using IsPermanent and IsTemporary.
package sms

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/canbao/canbao/internal/pii"
)

// DefaultAPIBase is Aliyun's SMS endpoint.
const DefaultAPIBase = "https://dysmsapi.aliyuncs.com"

// DefaultTimeout is the per-call timeout when Config.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// MaxBody is the largest answer we read; a longer one is a *TransportError.
const MaxBody = 64 << 10

// Wire constants of SendSms.
const (
	APIVersion      = "2017-05-25"
	RegionID        = "cn-hangzhou"
	TimestampLayout = "2006-01-02T15:04:05Z"
)

// Config configures a Client.
type Config struct {
	APIBase         string // e.g. https://dysmsapi.aliyuncs.com (tests: a local fake's URL)
	AccessKeyID     string
	AccessKeySecret string
	Timeout         time.Duration // per call; default 5s
}

// Client calls SendSms. Safe for concurrent use.
type Client struct {
	base   string
	keyID  string
	secret string
	hc     *http.Client
	log    *slog.Logger

	now   func() time.Time // tests may pin the clock
	nonce func() string    // tests may pin the nonce
}

// NewClient builds a client. A nil log discards.
func NewClient(cfg Config, log *slog.Logger) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	base := strings.TrimRight(cfg.APIBase, "/")
	if base == "" {
		base = DefaultAPIBase
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64 // campaign workers send in parallel to one host
	return &Client{
		base:   base,
		keyID:  cfg.AccessKeyID,
		secret: cfg.AccessKeySecret,
		hc: &http.Client{
			Timeout:   cfg.Timeout,
			Transport: tr,
			// The provider never redirects; following one would resend the signed body elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		log:   log.With("component", "sms"),
		now:   time.Now,
		nonce: newUUID,
	}
}

// Message is one SMS to one resident.
type Message struct {
	Phone        string            // one 11-digit mainland mobile
	SignName     string            // pre-approved sign, e.g. 罗东镇劳保所
	TemplateCode string            // pre-approved template, e.g. SMS_123456789
	Params       map[string]string // template parameters, sent as TemplateParam JSON
	OutID        string            // our delivery id, echoed by the provider (idempotency aid)
}

var phoneRE = regexp.MustCompile(`^1[3-9][0-9]{9}$`)

// answer is SendSms's JSON answer, success or failure.
type answer struct {
	RequestID string `json:"RequestId"`
	BizID     string `json:"BizId"`
	Code      string `json:"Code"`
	Message   string `json:"Message"`
}

// Send calls SendSms and returns the provider's BizId. A message with a malformed phone
// number or no sign or template is refused locally, without a call, as a permanent *APIError
// (isv.MOBILE_NUMBER_ILLEGAL, isv.SMS_SIGNATURE_ILLEGAL, isv.SMS_TEMPLATE_ILLEGAL). Other
// failures are a *APIError carrying the provider's Code or a *TransportError.
func (c *Client) Send(ctx context.Context, m Message) (bizID string, err error) {
	const op = "SendSms"
	log := c.log.With("phone", pii.MaskPhone(m.Phone), "out_id", m.OutID, "template", m.TemplateCode)
	if err := checkMessage(m); err != nil {
		log.Warn("sms refused locally", "code", err.Code)
		return "", err
	}
	params := url.Values{
		"Action":           {"SendSms"},
		"Version":          {APIVersion},
		"Format":           {"JSON"},
		"AccessKeyId":      {c.keyID},
		"SignatureMethod":  {"HMAC-SHA1"},
		"SignatureVersion": {"1.0"},
		"SignatureNonce":   {c.nonce()},
		"Timestamp":        {c.now().UTC().Format(TimestampLayout)},
		"RegionId":         {RegionID},
		"PhoneNumbers":     {m.Phone},
		"SignName":         {m.SignName},
		"TemplateCode":     {m.TemplateCode},
	}
	if len(m.Params) > 0 {
		tp, err := templateParam(m.Params)
		if err != nil {
			return "", &APIError{Code: "isv.TEMPLATE_PARAMS_ILLEGAL", Message: "cannot encode template parameters (checked locally)"}
		}
		params.Set("TemplateParam", tp)
	}
	if m.OutID != "" {
		params.Set("OutId", m.OutID)
	}
	sig := sign(c.secret, stringToSign(http.MethodPost, params))
	params.Set("Signature", sig)

	sensitive := []string{m.Phone, c.secret, sig}
	for _, v := range m.Params {
		sensitive = append(sensitive, v)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/", strings.NewReader(params.Encode()))
	if err != nil {
		return "", &TransportError{Op: op, Err: errors.New("cannot build request")}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	a, status, err := c.do(req, op, sensitive)
	if err != nil {
		log.Warn("sms call failed", "err", err)
		return "", err
	}
	if a.Code != "OK" {
		ae := &APIError{Code: redactAnswer(a.Code, sensitive...), Message: redactAnswer(a.Message, sensitive...),
			RequestID: redactAnswer(a.RequestID, sensitive...), HTTPStatus: status}
		log.Warn("sms api error", "code", ae.Code, "message", ae.Message, "request_id", ae.RequestID,
			"http_status", status, "permanent", ae.Permanent(), "temporary", ae.Temporary())
		return "", ae
	}
	if a.BizID == "" {
		err := &TransportError{Op: op, Status: status, Err: errors.New("malformed answer: Code OK without BizId")}
		log.Warn("sms call failed", "err", err, "request_id", a.RequestID)
		return "", err
	}
	log.Debug("sms sent", "biz_id", a.BizID, "request_id", a.RequestID)
	return a.BizID, nil
}

// do sends req and decodes an answer of at most MaxBody bytes. An answer with a Code is
// returned whatever the HTTP status (the provider answers errors with 200 or 4xx/5xx); every
// other failure is a *TransportError whose text holds none of the sensitive values.
func (c *Client) do(req *http.Request, op string, sensitive []string) (answer, int, error) {
	var a answer
	fail := func(status int, err error) (answer, int, error) {
		return a, status, &TransportError{Op: op, Status: status, Err: pii.RedactSecretsErr(err, sensitive...)}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// *url.Error repeats method and URL; keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail(0, err)
	}
	defer resp.Body.Close()
	status := resp.StatusCode
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return fail(status, fmt.Errorf("read answer (HTTP %d): %w", status, err))
	}
	if len(body) > MaxBody {
		return fail(status, fmt.Errorf("answer larger than %d bytes (HTTP %d)", MaxBody, status))
	}
	if err := json.Unmarshal(body, &a); err != nil || a.Code == "" {
		if status != http.StatusOK {
			return fail(status, fmt.Errorf("unexpected HTTP status %d", status))
		}
		if err != nil {
			return fail(status, fmt.Errorf("malformed answer: %w", err))
		}
		return fail(status, errors.New("malformed answer: no Code"))
	}
	return a, status, nil
}

// checkMessage refuses, without a call, what the provider would refuse for sure.
func checkMessage(m Message) *APIError {
	switch {
	case !phoneRE.MatchString(m.Phone):
		return &APIError{Code: "isv.MOBILE_NUMBER_ILLEGAL", Message: "phone number is not an 11-digit mainland mobile (checked locally)"}
	case strings.TrimSpace(m.SignName) == "":
		return &APIError{Code: "isv.SMS_SIGNATURE_ILLEGAL", Message: "missing sign name (checked locally)"}
	case strings.TrimSpace(m.TemplateCode) == "":
		return &APIError{Code: "isv.SMS_TEMPLATE_ILLEGAL", Message: "missing template code (checked locally)"}
	}
	return nil
}

// templateParam encodes params as a JSON object, keeping Chinese and <>& as they are.
func templateParam(params map[string]string) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(params); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// percentEncode is Aliyun's RPC encoding: url.QueryEscape, then "+" → "%20", "*" → "%2A",
// "%7E" → "~" (RFC 3986 with upper-case hex; only A-Z a-z 0-9 - _ . ~ stay as they are).
func percentEncode(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "*", "%2A")
	e = strings.ReplaceAll(e, "%7E", "~")
	return e
}

// stringToSign builds Aliyun's RPC string to sign (signature version 1.0) from the request
// parameters: every parameter except Signature, sorted by key, each key and value
// percent-encoded, joined as k=v&…; then method + "&%2F&" + percentEncode(that).
func stringToSign(method string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		vs := append([]string(nil), params[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(percentEncode(k))
			b.WriteByte('=')
			b.WriteString(percentEncode(v))
		}
	}
	return method + "&" + percentEncode("/") + "&" + percentEncode(b.String())
}

// sign is base64(HMAC-SHA1(key = accessKeySecret + "&", stringToSign)).
func sign(accessKeySecret, stringToSign string) string {
	mac := hmac.New(sha1.New, []byte(accessKeySecret+"&"))
	mac.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// newUUID returns a random (version 4) UUID for SignatureNonce.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
