package engine

import "context"

// Test seams: compiled into this package's tests only.

// ReconcileOnDemand keeps Run from starting the reconciler's loop: the reconciler then runs
// only when the test calls Reconcile, so the test, not a ticker, decides whether the reconciler
// meets a state before or after an action.
func ReconcileOnDemand(e *Engine) { e.reconcileOnDemand = true }

// Reconcile runs one reconciler round, as the loop does.
func (e *Engine) Reconcile(ctx context.Context) error { return e.reconcile(ctx) }
