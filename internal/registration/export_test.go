package registration

import (
	"testing"
	"time"
)

// SetClock makes every registration service read the time from now until the test ends (the
// services are built inside the server, so the clock is the package's). Tests that use it must
// not run in parallel with other tests of the package.
func SetClock(t testing.TB, now func() time.Time) {
	old := timeNow
	timeNow = now
	t.Cleanup(func() { timeNow = old })
}
