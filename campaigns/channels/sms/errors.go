package sms

import (
	"errors"
	"strings"

	"github.com/canbao/canbao/internal/pii"
)

// APIError is an answer of the provider whose Code is not "OK" (HTTP 200 or 4xx/5xx), or a
// message refused locally before any call (then RequestID is empty and Message says
// "checked locally"). Message is the provider's text with every sensitive value (phone number,
// template parameter values, AccessKeySecret, signature) redacted and the "string to sign"
// echoed by SignatureDoesNotMatch cut off.
type APIError struct {
	Code       string // e.g. isv.SMS_TEMPLATE_ILLEGAL
	Message    string
	RequestID  string // the provider's RequestId, for support tickets
	HTTPStatus int    // 0 when checked locally
}

func (e *APIError) Error() string {
	s := "sms SendSms: " + e.Code
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " (request " + e.RequestID + ")"
	}
	return s
}

// Codes that fail again however often the same message is retried: a bad template, sign,
// parameter or number, a blacklisted content, our credentials or our balance (these last want
// an operator, but retrying a delivery cannot help), and the per-number daily cap (permanent
// for today: the engine must not retry it within the run).
var permanentCodes = map[string]bool{
	"isv.SMS_TEMPLATE_ILLEGAL":          true,
	"isv.SMS_SIGNATURE_ILLEGAL":         true,
	"isv.TEMPLATE_MISSING_PARAMETERS":   true,
	"isv.TEMPLATE_PARAMS_ILLEGAL":       true,
	"isv.INVALID_JSON_PARAM":            true,
	"isv.INVALID_PARAMETERS":            true,
	"isv.MOBILE_NUMBER_ILLEGAL":         true,
	"isv.MOBILE_COUNT_OVER_LIMIT":       true,
	"isv.BLACK_KEY_CONTROL_LIMIT":       true,
	"isv.PARAM_LENGTH_LIMIT":            true,
	"isv.PARAM_NOT_SUPPORT_URL":         true,
	"isv.AMOUNT_NOT_ENOUGH":             true,
	"isv.DAY_LIMIT_CONTROL":             true,
	"isv.OUT_OF_SERVICE":                true,
	"isv.ACCOUNT_NOT_EXISTS":            true,
	"isv.ACCOUNT_ABNORMAL":              true,
	"isv.SMS_TEST_SIGN_TEMPLATE_LIMIT":  true,
	"isv.DOMESTIC_NUMBER_NOT_SUPPORTED": true,
	"isp.RAM_PERMISSION_DENY":           true,
	"SignatureDoesNotMatch":             true,
	"InvalidAccessKeyId.NotFound":       true,
	"InvalidAccessKeyId.Inactive":       true,
	"MissingPhoneNumbers":               true,
	"MissingSignName":                   true,
	"MissingTemplateCode":               true,
}

// Codes worth retrying later: the provider's own failures, per-minute/per-hour flow control,
// API throttling, and a nonce collision (the retry draws a new nonce).
var temporaryCodes = map[string]bool{
	"isp.SYSTEM_ERROR":           true,
	"isv.BUSINESS_LIMIT_CONTROL": true,
	"Throttling.User":            true,
	"Throttling":                 true,
	"ServiceUnavailable":         true,
	"InternalError":              true,
	"SignatureNonceUsed":         true,
}

// Permanent reports whether retrying the same message cannot help. isv.DAY_LIMIT_CONTROL is
// reported permanent: the number's daily cap will not reset within the run.
func (e *APIError) Permanent() bool { return permanentCodes[e.Code] }

// Temporary reports whether the same message may go through later. Codes that are neither
// permanent nor temporary (unknown codes, InvalidTimeStamp.* from a skewed clock, …) want an
// operator.
func (e *APIError) Temporary() bool { return temporaryCodes[e.Code] }

// TransportError is any failure to obtain a well-formed answer: network errors, timeouts, a
// non-JSON answer, an answer over MaxBody bytes, or a non-200 status without a provider Code.
// It never carries the request body (phone, parameters, signature).
type TransportError struct {
	Op     string
	Status int // HTTP status when one was received, else 0
	Err    error
}

func (e *TransportError) Error() string { return "sms " + e.Op + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *TransportError) Unwrap() error { return e.Err }

// Temporary is always true: the provider decided nothing we know of. (A timed-out send may
// still have gone out; OutId lets reconciliation tell.)
func (e *TransportError) Temporary() bool { return true }

// Permanent is always false.
func (e *TransportError) Permanent() bool { return false }

// Timeout reports whether the cause was a timeout.
func (e *TransportError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// IsPermanent reports whether err is a provider (or local) refusal that retrying cannot change.
func IsPermanent(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Permanent()
}

// IsTemporary reports whether err is worth retrying later: a transport failure or a temporary
// provider code.
func IsTemporary(err error) bool {
	var te *TransportError
	if errors.As(err, &te) {
		return true
	}
	var ae *APIError
	return errors.As(err, &ae) && ae.Temporary()
}

// redactAnswer cuts off the "string to sign" SignatureDoesNotMatch echoes, then removes every
// sensitive value (pii.RedactSecrets).
func redactAnswer(s string, sensitive ...string) string {
	if i := strings.Index(strings.ToLower(s), "string to sign"); i >= 0 {
		s = strings.TrimRight(s[:i], " :") + " [string to sign redacted]"
	}
	return pii.RedactSecrets(s, sensitive...)
}
