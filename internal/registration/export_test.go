package registration

import (
	"runtime"
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

// GroupCommit makes the next registrations of people on the roster form batches of exactly
// hold registrations (one committer, which waits until it holds that many) until the test
// ends; every batch that committed together is reported to committed with its size. Not for
// parallel tests.
func GroupCommit(t testing.TB, hold int, committed func(n int)) {
	// A committer of earlier registrations may still be on its way out.
	for committersAlive.Load() > 0 {
		runtime.Gosched()
	}
	oldHold, oldCommitters, oldHook := batchHold, committers, batchCommitted
	batchHold, committers, batchCommitted = hold, 1, committed
	t.Cleanup(func() { batchHold, committers, batchCommitted = oldHold, oldCommitters, oldHook })
}

// SetBatching turns the group commit on or off until the test ends.
func SetBatching(t testing.TB, on bool) {
	old := batching
	batching = on
	t.Cleanup(func() { batching = old })
}
