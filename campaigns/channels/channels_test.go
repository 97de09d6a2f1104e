package channels

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestClassify: a provider's refusal is permanent; a timeout (wrapped, as the clients' transport
// errors wrap it) leaves the outcome unknown; any other failure is transient.
func TestClassify(t *testing.T) {
	timeout := fmt.Errorf("sms send: %w", timeoutErr{})
	refused := errors.New("isv.MOBILE_NUMBER_ILLEGAL")
	for _, tc := range []struct {
		name               string
		err                error
		permanent          bool
		wantPerm, wantUnkn bool
		code               string
	}{
		{"nil", nil, false, false, false, ""},
		{"refused", refused, true, true, false, "error"},
		{"timeout", timeout, false, false, true, "timeout"},
		{"deadline", fmt.Errorf("send: %w", context.DeadlineExceeded), false, false, true, "timeout"},
		{"refused beats timeout", timeout, true, true, false, "timeout"},
		{"transient", errors.New("connection refused"), false, false, false, "error"},
	} {
		got := classify(tc.err, tc.permanent)
		if (got == nil) != (tc.err == nil) || IsPermanent(got) != tc.wantPerm || IsOutcomeUnknown(got) != tc.wantUnkn {
			t.Errorf("%s: classify = %v (permanent %v, unknown %v)", tc.name, got, IsPermanent(got), IsOutcomeUnknown(got))
		}
		if got != nil && ErrorCode(got) != tc.code {
			t.Errorf("%s: ErrorCode = %q, want %q", tc.name, ErrorCode(got), tc.code)
		}
	}
}
