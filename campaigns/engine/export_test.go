package engine

import (
	"context"

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
