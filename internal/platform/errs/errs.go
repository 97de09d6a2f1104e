// Package errs is canbao's one error type: a stable code, a Chinese message for the person in
// front of the screen and, when one input is at fault, the field. Domain code returns these;
// the web layer maps codes to HTTP statuses in one table.
package errs

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Code is a stable upper-snake identifier a client can switch on.
type Code string

// The codes, grouped by the HTTP status they map to.
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
	// 429 (a locked account too: docs/auth-lockout.md)
	AccountLocked Code = "ACCOUNT_LOCKED"
	RateLimited   Code = "RATE_LIMITED"
	// 500
	Internal Code = "INTERNAL"
	// 503
	Unavailable Code = "SERVICE_UNAVAILABLE"
)

var statusByCode = map[Code]int{
	InvalidInput: 400, MalformedJSON: 400, UnknownField: 400, DuplicateKey: 400, IDNumberInvalid: 400,
	PhoneInvalid: 400, NameInvalid: 400, VillageUnknown: 400, TierInvalid: 400,
	PasswordTooWeak: 400, RoleInvalid: 400, PageInvalid: 400, IdempotencyKeyBad: 400,
	Unauthenticated: 401, TokenInvalid: 401, InvalidCredentials: 401, WeChatCodeInvalid: 401,
	Forbidden:      403,
	NotFound:       404,
	RequestTimeout: 408,
	Conflict:       409, AlreadyRegistered: 409, UsernameTaken: 409, IllegalTransition: 409, IdempotencyInFlight: 409,
	BodyTooLarge:         413,
	UnsupportedMediaType: 415,
	RuleViolation:        422, AgeOutOfScope: 422, SchemeNotAllowed: 422, IdempotencyKeyReused: 422, CannotChangeSelf: 422,
	AccountLocked: 429,
	RateLimited:   429,
	Internal:      500,
	Unavailable:   503,
}

// Register adds an area's own code to the table, at package initialisation; it returns the
// code so areas can write `var codeX = errs.Register("X", 409)`.
func Register(c Code, status int) Code {
	if prev, dup := statusByCode[c]; dup && prev != status {
		panic("errs: code " + string(c) + " registered with two statuses")
	}
	statusByCode[c] = status
	return c
}

// Status is the HTTP status for a code; unknown codes are 500.
func Status(c Code) int {
	if s, ok := statusByCode[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Error is a domain error that can be shown to a user.
type Error struct {
	Code    Code
	Message string // Chinese, safe to show
	Field   string // the input field at fault, if one
	// RetryAfter, when set, is sent as Retry-After (429, 503).
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
func New(code Code, message string) *Error { return &Error{Code: code, Message: message} }

// Field makes an error about one input field.
func Field(code Code, field, message string) *Error {
	return &Error{Code: code, Message: message, Field: field}
}

// Wrap makes an internal or unavailable error that keeps its cause for the log.
func Wrap(code Code, err error, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// Internalf wraps an unexpected failure: the user sees a generic message, the log the cause.
func Internalf(format string, args ...any) *Error {
	return &Error{Code: Internal, Message: "系统繁忙，请稍后再试", Err: fmt.Errorf(format, args...)}
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

// Common ready-made errors.
var (
	ErrUnauthenticated = New(Unauthenticated, "请先登录")
	ErrForbidden       = New(Forbidden, "您没有权限进行此操作")
	ErrNotFoundPublic  = New(NotFound, "未找到相关记录")
)
