package engine

import (
	"context"
	"time"

	"github.com/canbao/canbao/internal/platform/database"
)

// The scheduler's tick lease. Every instance's schedule loop wakes each tick, but only the
// holder of the 'schedule' lease (a row of engine_leases) runs the tick: the holder renews the
// lease at each of its ticks, for Config.ScheduleLease (5 s by default); the others' UPDATE
// matches no row and they skip. When the holder dies its lease runs out and the first instance
// to tick after that takes it. So with N instances one tick a second runs, not N.
//
// The lease is a statement of MySQL, not of Redis, so it needs no key of its own in a Redis
// Cluster and is as durable as the runs it starts. Its clock is each instance's (as the runs'
// leases are): instances keep their clocks in step (NTP), and a skew shorter than the lease
// only moves a hand-over. Should two instances ever tick at once (a holder paused past its
// lease), nothing is started twice: schedule's row lock on the campaign and the unique
// (campaign, run_no) still let one win; the lease is about load, not correctness.

const scheduleLease = "schedule"

// takeLease takes or renews the named lease for this instance; true when it holds it.
func (e *Engine) takeLease(ctx context.Context, name string) (bool, error) {
	now := e.leaseNow()
	res, err := e.DB.ExecContext(ctx, Queries.Get("lease-take"), e.id, now.Add(e.cfg.ScheduleLease), name, e.id, now)
	if err != nil {
		return false, database.Map(err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// releaseLease gives the named lease up if this instance holds it (a clean stop: the next
// instance need not wait for it to run out).
func (e *Engine) releaseLease(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := e.DB.ExecContext(ctx, Queries.Get("lease-release"), name, e.id); err != nil {
		e.Log.Warn("engine: lease not released", "lease", name, "err", err)
	}
}

// scheduleTick is one tick of the scheduler: it starts due runs if this instance holds the
// tick lease. ran says whether it did.
func (e *Engine) scheduleTick(ctx context.Context) error {
	_, err := e.scheduleTickRan(ctx)
	return err
}

func (e *Engine) scheduleTickRan(ctx context.Context) (bool, error) {
	ok, err := e.takeLease(ctx, scheduleLease)
	if err != nil || !ok {
		return false, err
	}
	return true, e.schedule(ctx)
}
