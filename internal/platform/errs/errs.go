// Package errs is canbao's one error type: a stable code, a Chinese message for the person in
// front of the screen and, when one input is at fault, the field. Domain code returns these;
// the web layer answers each with the HTTP status of its code. Every code, with its status,
// meaning and default message, is in one catalog (catalog.go), from which docs/ERRORS.md is
// generated.
package errs

import (
	"errors"
	"fmt"
	"time"
)

// Code is a stable upper-snake identifier a client can switch on.
type Code string

// The codes of the platform and of more than one area, grouped by the HTTP status the catalog
// gives them. An area's own codes are declared in the area with Register.
const (
	// 400
	InvalidInput      Code = "INVALID_INPUT"
	MalformedJSON     Code = "MALFORMED_JSON"
	UnknownField      Code = "UNKNOWN_FIELD"
	DuplicateKey      Code = "DUPLICATE_KEY"
	IDNumberInvalid   Code = "ID_NUMBER_INVALID"
	PhoneInvalid      Code = "PHONE_INVALID"
	NameInvalid       Code = "NAME_INVALID"
	VillageUnknown    Code = "VILLAGE_UNKNOWN"
	TierInvalid       Code = "TIER_INVALID"
	PasswordTooWeak   Code = "PASSWORD_TOO_WEAK"
	RoleInvalid       Code = "ROLE_INVALID"
	PageInvalid       Code = "PAGE_INVALID"
	IdempotencyKeyBad Code = "IDEMPOTENCY_KEY_INVALID"
	// 401
	Unauthenticated    Code = "UNAUTHENTICATED"
	TokenInvalid       Code = "TOKEN_INVALID"
	InvalidCredentials Code = "INVALID_CREDENTIALS"
	WeChatCodeInvalid  Code = "WECHAT_CODE_INVALID"
	// 403
	Forbidden Code = "FORBIDDEN"
	// 404
	NotFound Code = "NOT_FOUND"
	// 408
	RequestTimeout Code = "REQUEST_TIMEOUT"
	// 409
	Conflict            Code = "CONFLICT"
	AlreadyRegistered   Code = "ALREADY_REGISTERED"
	UsernameTaken       Code = "USERNAME_TAKEN"
	IllegalTransition   Code = "ILLEGAL_TRANSITION"
	IdempotencyInFlight Code = "IDEMPOTENCY_KEY_IN_USE"
	// 413
	BodyTooLarge Code = "BODY_TOO_LARGE"
	// 415
	UnsupportedMediaType Code = "UNSUPPORTED_MEDIA_TYPE"
	// 422
	RuleViolation        Code = "RULE_VIOLATION"
	AgeOutOfScope        Code = "AGE_OUT_OF_SCOPE"
	SchemeNotAllowed     Code = "SCHEME_NOT_ALLOWED"
	IdempotencyKeyReused Code = "IDEMPOTENCY_KEY_REUSED"
	CannotChangeSelf     Code = "CANNOT_CHANGE_SELF"
	// 429
	AccountLocked Code = "ACCOUNT_LOCKED"
	RateLimited   Code = "RATE_LIMITED"
	// 500
	Internal Code = "INTERNAL"
	// 503
	Unavailable Code = "SERVICE_UNAVAILABLE"
)

// Error is a domain error that can be shown to a user.
type Error struct {
	Code    Code
	Message string // Chinese, safe to show
	Field   string // the input field at fault, if one
	// RetryAfter, when set, is sent as Retry-After (429, 409 IDEMPOTENCY_KEY_IN_USE, 503).
	RetryAfter time.Duration
	// Err is the underlying cause, logged, never shown.
	Err error
}

func (e *Error) Error() string {
	s := string(e.Code)
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// New makes an error with a code and a Chinese message.
// An empty message is the catalog's for the code.
func New(code Code, msg string) *Error { return &Error{Code: code, Message: message(code, msg)} }

// Field makes an error about one input field (an empty message is the catalog's).
func Field(code Code, field, msg string) *Error {
	return &Error{Code: code, Message: message(code, msg), Field: field}
}

// Wrap makes an error that keeps its cause for the log (an empty message is the catalog's).
func Wrap(code Code, err error, msg string) *Error {
	return &Error{Code: code, Message: message(code, msg), Err: err}
}

// Internalf wraps an unexpected failure: the user sees a generic message, the log the cause.
func Internalf(format string, args ...any) *Error {
	return &Error{Code: Internal, Message: message(Internal, ""), Err: fmt.Errorf(format, args...)}
}

// As finds an *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// Sentinel errors stores return at their boundary; services translate them.
var (
	ErrNotFound  = errors.New("not found")
	ErrDuplicate = errors.New("duplicate")
)

// Common ready-made errors, with the catalog's messages.
var (
	ErrUnauthenticated = New(Unauthenticated, "")
	ErrForbidden       = New(Forbidden, "")
	ErrNotFoundPublic  = New(NotFound, "")
)
