package engine

import (
	"context"
	"time"

	"github.com/canbao/canbao/campaigns"

	"github.com/canbao/canbao/campaigns/counters"
)

// Test seams: compiled into this package's tests only.

// ReconcileOnDemand keeps Run from starting the reconciler's loop: the reconciler then runs
// only when the test calls Reconcile, so the test, not a ticker, decides whether the reconciler
// meets a state before or after an action.
func ReconcileOnDemand(e *Engine) { e.reconcileOnDemand = true }

// Reconcile runs one reconciler round, as the loop does.
func (e *Engine) Reconcile(ctx context.Context) error { return e.reconcile(ctx) }

// OnCount makes every counter change of e go through hook, which applies it by calling apply
// (or holds the worker first). Set it before Run.
func OnCount(e *Engine, hook func(ch counters.Change, apply func())) { e.countHook = hook }

// ProcessBatch runs one worker batch over ids, as a worker does with what it read from the
// stream.
func ProcessBatch(ctx context.Context, e *Engine, ids []int64) error { return e.processBatch(ctx, ids) }

// OnClaim makes e call hook before each claim of a batch (outside its transaction).
func OnClaim(e *Engine, hook func()) { e.claimHook = hook }

// TakeTokens takes up to n rate tokens for sends of c through ch, without waiting, and returns
// how many it got.
func TakeTokens(ctx context.Context, e *Engine, c campaigns.Campaign, ch string, n int) int {
	return e.tokens(ctx, &c, ch, n, time.Now())
}

// SetLeaseClock sets the clock of e's scheduler tick lease.
func SetLeaseClock(e *Engine, now func() time.Time) { e.leaseNow = now }

// SetClock sets e's clock (health staleness among others).
func SetClock(e *Engine, now func() time.Time) { e.now = now }

// ScheduleTick runs one scheduler tick of e; ran says whether e held the lease and ran it.
func ScheduleTick(ctx context.Context, e *Engine) (ran bool, err error) {
	return e.scheduleTickRan(ctx)
}

// OnStep makes e call hook inside each step's transaction, after the step has recorded its
// outcomes, skips and waits and before it claims.
func OnStep(e *Engine, hook func()) { e.stepHook = hook }
