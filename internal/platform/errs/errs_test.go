package errs

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

// TestStatusOfEveryCode: each code's HTTP status, written out here by hand rather than read from
// the catalog, so a code moved to the wrong status fails. ACCOUNT_LOCKED is 429 (the lockout
// contract in docs/SECURITY.md and api/openapi.yaml), not 423.
func TestStatusOfEveryCode(t *testing.T) {
	want := map[string]int{
		"INVALID_INPUT": 400, "MALFORMED_JSON": 400, "UNKNOWN_FIELD": 400, "DUPLICATE_KEY": 400,
		"ID_NUMBER_INVALID": 400, "PHONE_INVALID": 400, "NAME_INVALID": 400, "VILLAGE_UNKNOWN": 400,
		"TIER_INVALID": 400, "PASSWORD_TOO_WEAK": 400, "ROLE_INVALID": 400, "PAGE_INVALID": 400,
		"IDEMPOTENCY_KEY_INVALID": 400,
		"UNAUTHENTICATED":         401, "TOKEN_INVALID": 401, "INVALID_CREDENTIALS": 401, "WECHAT_CODE_INVALID": 401,
		"FORBIDDEN":       403,
		"NOT_FOUND":       404,
		"REQUEST_TIMEOUT": 408,
		"CONFLICT":        409, "ALREADY_REGISTERED": 409, "USERNAME_TAKEN": 409, "ILLEGAL_TRANSITION": 409,
		"IDEMPOTENCY_KEY_IN_USE": 409,
		"BODY_TOO_LARGE":         413,
		"UNSUPPORTED_MEDIA_TYPE": 415,
		"RULE_VIOLATION":         422, "AGE_OUT_OF_SCOPE": 422, "SCHEME_NOT_ALLOWED": 422, "IDEMPOTENCY_KEY_REUSED": 422,
		"CANNOT_CHANGE_SELF":    422,
		"REGISTRATION_NOT_OPEN": 409, "CLIENT_ID_CONFLICT": 409, "SLUG_TAKEN": 409, "CAMPAIGN_STATE_CONFLICT": 409, "ALREADY_ENROLLED": 409,
		"VILLAGE_MISMATCH": 422, "IDENTITY_MISMATCH": 422, "EVENT_CLOSED": 422,
		"CREDIT_CODE_INVALID": 400, "REFERRAL_OPEN": 409, "REFERRAL_STATE_CONFLICT": 409,
		"ACCOUNT_LOCKED":      429,
		"RATE_LIMITED":        429,
		"INTERNAL":            500,
		"SERVICE_UNAVAILABLE": 503,
	}
	// The constants, by name, so a constant whose string changed is caught too.
	consts := map[Code]string{
		InvalidInput: "INVALID_INPUT", MalformedJSON: "MALFORMED_JSON", UnknownField: "UNKNOWN_FIELD",
		DuplicateKey: "DUPLICATE_KEY", IDNumberInvalid: "ID_NUMBER_INVALID", PhoneInvalid: "PHONE_INVALID",
		NameInvalid: "NAME_INVALID", VillageUnknown: "VILLAGE_UNKNOWN", TierInvalid: "TIER_INVALID",
		PasswordTooWeak: "PASSWORD_TOO_WEAK", RoleInvalid: "ROLE_INVALID", PageInvalid: "PAGE_INVALID",
		IdempotencyKeyBad: "IDEMPOTENCY_KEY_INVALID", Unauthenticated: "UNAUTHENTICATED", TokenInvalid: "TOKEN_INVALID",
		InvalidCredentials: "INVALID_CREDENTIALS", WeChatCodeInvalid: "WECHAT_CODE_INVALID", Forbidden: "FORBIDDEN",
		NotFound: "NOT_FOUND", RequestTimeout: "REQUEST_TIMEOUT", Conflict: "CONFLICT",
		AlreadyRegistered: "ALREADY_REGISTERED", UsernameTaken: "USERNAME_TAKEN", IllegalTransition: "ILLEGAL_TRANSITION",
		IdempotencyInFlight: "IDEMPOTENCY_KEY_IN_USE", BodyTooLarge: "BODY_TOO_LARGE",
		UnsupportedMediaType: "UNSUPPORTED_MEDIA_TYPE", RuleViolation: "RULE_VIOLATION", AgeOutOfScope: "AGE_OUT_OF_SCOPE",
		SchemeNotAllowed: "SCHEME_NOT_ALLOWED", IdempotencyKeyReused: "IDEMPOTENCY_KEY_REUSED",
		CannotChangeSelf: "CANNOT_CHANGE_SELF", AccountLocked: "ACCOUNT_LOCKED", RateLimited: "RATE_LIMITED",
		Internal: "INTERNAL", Unavailable: "SERVICE_UNAVAILABLE",
	}
	// The areas' own codes (11, registered by their packages) have no constant here.
	if len(consts)+11 != len(want) {
		t.Fatalf("%d constants and 11 area codes, %d expected statuses", len(consts), len(want))
	}
	for c, name := range consts {
		if string(c) != name {
			t.Errorf("constant %s is %q", name, c)
		}
	}
	for code, status := range want {
		if got := Status(Code(code)); got != status {
			t.Errorf("Status(%s) = %d, want %d", code, got, status)
		}
	}
	// Every code in the table is in this test: a new code needs its status written here too.
	for code, status := range Codes() {
		if s, ok := want[string(code)]; !ok {
			t.Errorf("code %s (%d) is not in this test's table", code, status)
		} else if s != status {
			t.Errorf("catalog: %s is %d, want %d", code, status, s)
		}
	}
	if got := Status("NO_SUCH_CODE"); got != http.StatusInternalServerError {
		t.Errorf("unknown code: %d", got)
	}
	if got := Status(""); got != 500 {
		t.Errorf("empty code: %d", got)
	}
}

func TestErrorShapes(t *testing.T) {
	cause := errors.New("disk full")
	for _, c := range []struct {
		name string
		err  *Error
		want Error
		text string
	}{
		{"New", New(Conflict, "已存在"), Error{Code: Conflict, Message: "已存在"}, "CONFLICT"},
		{"Field", Field(InvalidInput, "phone", "手机号码不正确"),
			Error{Code: InvalidInput, Field: "phone", Message: "手机号码不正确"}, "INVALID_INPUT (phone)"},
		{"Wrap", Wrap(Unavailable, cause, "服务暂时不可用"),
			Error{Code: Unavailable, Message: "服务暂时不可用", Err: cause}, "SERVICE_UNAVAILABLE: disk full"},
		{"field and cause", &Error{Code: InvalidInput, Field: "x", Err: cause}, Error{Code: InvalidInput, Field: "x", Err: cause},
			"INVALID_INPUT (x): disk full"},
	} {
		if *c.err != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, *c.err, c.want)
		}
		if got := c.err.Error(); got != c.text {
			t.Errorf("%s: Error() = %q, want %q", c.name, got, c.text)
		}
		if c.want.Err != nil && !errors.Is(c.err, cause) {
			t.Errorf("%s: does not unwrap to its cause", c.name)
		}
		if c.want.Err == nil && c.err.Unwrap() != nil {
			t.Errorf("%s: Unwrap = %v", c.name, c.err.Unwrap())
		}
	}
	in := Internalf("query %s: %w", "residents", cause)
	if in.Code != Internal || in.Message != "系统繁忙，请稍后再试" || in.Field != "" || !errors.Is(in, cause) ||
		in.Error() != "INTERNAL: query residents: disk full" {
		t.Errorf("Internalf: %+v %q", in, in.Error())
	}
	for _, e := range []*Error{ErrUnauthenticated, ErrForbidden, ErrNotFoundPublic} {
		if e.Message == "" || e.Field != "" || e.Err != nil {
			t.Errorf("ready-made %+v", e)
		}
	}
	if ErrUnauthenticated.Code != Unauthenticated || ErrForbidden.Code != Forbidden || ErrNotFoundPublic.Code != NotFound {
		t.Error("ready-made codes")
	}
}

func TestAs(t *testing.T) {
	e := Field(PhoneInvalid, "phone", "手机号码不正确")
	wrapped := fmt.Errorf("register: %w", e)
	if got, ok := As(wrapped); !ok || got != e {
		t.Errorf("As(wrapped) = %v, %v", got, ok)
	}
	if got, ok := As(e); !ok || got != e {
		t.Errorf("As(e) = %v, %v", got, ok)
	}
	for _, err := range []error{nil, errors.New("plain"), ErrNotFound, fmt.Errorf("x: %w", ErrDuplicate)} {
		if got, ok := As(err); ok || got != nil {
			t.Errorf("As(%v) = %v, %v", err, got, ok)
		}
	}
}
