package wechat

import (
	"errors"
	"fmt"
)

// APIError is a non-zero errcode answered by WeChat. Msg is WeChat's errmsg with every value we
// consider secret (app secret, login code, openid, session key, access token) redacted.
type APIError struct {
	Op   string // jscode2session | stable_token | subscribe.send
	Code int
	Msg  string
}

func (e *APIError) Error() string {
	op := e.Op
	if op == "" {
		op = "api"
	}
	return fmt.Sprintf("wechat %s: errcode %d: %s", op, e.Code, e.Msg)
}

// Codes that will fail again however often they are retried: a spent or invalid login code, a
// high-risk user, no consent, an invalid openid or template, wrong template parameters, a
// missing code.
var permanentCodes = map[int]bool{
	40029: true, // invalid code
	40163: true, // code been used
	40226: true, // high-risk user
	41008: true, // missing code
	43101: true, // user refused to accept the message (no consent left)
	40003: true, // invalid openid
	47003: true, // template argument invalid
	40037: true, // invalid template_id
}

// Codes worth retrying later.
var temporaryCodes = map[int]bool{
	-1:    true, // system busy
	45011: true, // API frequency limit
	45009: true, // daily quota reached
	40001: true, // access token invalid (already refreshed and retried once)
	42001: true, // access token expired (already refreshed and retried once)
}

// Permanent reports whether retrying cannot help (the caller maps it to 401
// WECHAT_CODE_INVALID on login, to a failed delivery on send). Configuration errors such as
// 40013 (invalid appid) or 40125 (invalid secret) and unknown codes are neither permanent nor
// temporary: they are our fault, not the user's, and want an operator.
func (e *APIError) Permanent() bool { return permanentCodes[e.Code] }

// Temporary reports whether the same call may succeed later (the caller maps it to a
// retryable 503 or a delivery retry).
func (e *APIError) Temporary() bool { return temporaryCodes[e.Code] }

// TransportError is any failure to obtain a well-formed answer: network errors, timeouts,
// an HTTP status other than 200, a body over 64 KiB, malformed JSON or an answer missing a
// required field. It never carries the request URL.
type TransportError struct {
	Op  string
	Err error
}

func (e *TransportError) Error() string {
	return "wechat " + e.Op + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *TransportError) Unwrap() error { return e.Err }

// Temporary is always true: nothing was decided on WeChat's side that we know of.
func (e *TransportError) Temporary() bool { return true }

// Permanent is always false.
func (e *TransportError) Permanent() bool { return false }

// Timeout reports whether the cause was a timeout.
func (e *TransportError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// ErrInvalidMessage is returned by SendSubscribe, without calling WeChat, for a message that
// lacks a recipient, a template or data. IsPermanent reports it as permanent.
var ErrInvalidMessage = errors.New("wechat: subscribe message needs touser, template_id and data")

// IsPermanent reports whether err is a WeChat answer that retrying cannot change.
func IsPermanent(err error) bool {
	if errors.Is(err, ErrInvalidMessage) {
		return true
	}
	var ae *APIError
	return errors.As(err, &ae) && ae.Permanent()
}

// IsTemporary reports whether err is worth retrying later: a transport failure or a
// temporary WeChat errcode.
func IsTemporary(err error) bool {
	var te *TransportError
	if errors.As(err, &te) {
		return true
	}
	var ae *APIError
	return errors.As(err, &ae) && ae.Temporary()
}
