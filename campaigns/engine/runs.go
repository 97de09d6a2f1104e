package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/campaigns/counters"
	"github.com/canbao/canbao/internal/platform/database"
)

// schedule starts every due campaign's next run. Several instances may race: the campaign row
// lock and the unique (campaign, run_no) let one win.
func (e *Engine) schedule(ctx context.Context) error {
	var due []int64
	if err := e.DB.SelectContext(ctx, &due, Queries.Get("campaigns-due"), database.Now()); err != nil {
		return database.Map(err)
	}
	for _, id := range due {
		// READ COMMITTED: the run count StartRun reads after the campaign's lock must see a run
		// another instance committed while this one waited (TiDB's REPEATABLE READ reads the
		// snapshot of the transaction's start).
		err := database.InTxReadCommitted(ctx, e.DB, func(tx *sqlx.Tx) error {
			c, err := e.store.Get(ctx, tx, id, true)
			if err != nil {
				return err
			}
			now := database.Now()
			if c.Status != campaigns.StatusScheduled || c.NextRunAt == nil || c.NextRunAt.After(now) {
				return nil
			}
			if err := campaigns.StartRun(ctx, tx, id, now); err != nil {
				return err
			}
			var next *time.Time
			if r := c.Spec.Schedule.RepeatEveryDays; r != nil {
				n := c.NextRunAt.AddDate(0, 0, *r)
				if n.Before(*c.Spec.Schedule.EndAt) {
					next = &n
				}
			}
			return campaigns.Move(ctx, tx, id, campaigns.StatusScheduled, campaigns.StatusRunning, campaigns.SetNextRun(next))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// leaseRun takes or renews this instance's lease on a run, for snapshotting or feeding.
func (e *Engine) leaseRun(ctx context.Context, runID int64) (bool, error) {
	now := database.Now()
	return campaigns.LeaseRun(ctx, e.DB, runID, e.id, now, now.Add(15*time.Second))
}

type run struct {
	ID         int64     `db:"id"`
	CampaignID int64     `db:"campaign_id"`
	Cursor     int64     `db:"snapshot_cursor"`
	StartedAt  time.Time `db:"started_at"`
}

// snapshot freezes the audience of runs being snapshotted: each batch inserts the deliveries of
// the next SnapshotBatch residents by id (a keyset: id > cursor ORDER BY id) and moves the
// run's checkpoint in the same transaction.
func (e *Engine) snapshot(ctx context.Context) error {
	var runs []run
	if err := e.DB.SelectContext(ctx, &runs, Queries.Get("runs-snapshotting")); err != nil {
		return database.Map(err)
	}
	for _, r := range runs {
		if ok, err := e.leaseRun(ctx, r.ID); err != nil || !ok {
			if err != nil {
				return err
			}
			continue
		}
		if err := e.snapshotRun(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) snapshotRun(ctx context.Context, r run) error {
	c, err := e.store.Get(ctx, e.DB, r.CampaignID, false)
	if err != nil {
		return err
	}
	on := dayOf(r.StartedAt, e.Location)
	for cursor := r.Cursor; ; {
		if ctx.Err() != nil {
			return nil
		}
		if ok, err := e.leaseRun(ctx, r.ID); err != nil || !ok {
			return err
		}
		// The batch is the next SnapshotBatch residents past the cursor (a keyset, whatever
		// the ids' spacing), up to the last of them: (cursor, hi].
		var bound sql.NullInt64
		if err := e.DB.GetContext(ctx, &bound, Queries.Get("residents-batch-bound"), cursor, e.cfg.SnapshotBatch); err != nil {
			return database.Map(err)
		}
		if !bound.Valid {
			break // past the last resident
		}
		hi := bound.Int64
		byVillage := map[string]int{}
		err := database.InTx(ctx, e.DB, func(tx *sqlx.Tx) error {
			n, err := campaigns.SnapshotDeliveries(ctx, tx, c.Spec.Segment, on, r.CampaignID, r.ID, cursor, hi, database.Now())
			if err != nil {
				return err
			}
			byVillage = map[string]int{}
			if n > 0 {
				if byVillage, err = campaigns.SnapshotByVillage(ctx, tx, r.CampaignID, r.ID, cursor, hi); err != nil {
					return err
				}
			}
			// The batch counts only if the run is still being snapshotted from this cursor: a
			// cancel (or another instance) got there first and the batch is rolled back.
			if ok, err := campaigns.AdvanceSnapshot(ctx, tx, r.ID, cursor, hi, n); err != nil {
				return err
			} else if !ok {
				return errSnapshotGone
			}
			return nil
		})
		if errors.Is(err, errSnapshotGone) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := e.Counters.AddTargeted(ctx, r.CampaignID, byVillage); err != nil {
			e.Log.Warn("engine: counters", "err", err)
		}
		cursor = hi
	}
	return campaigns.SnapshotDone(ctx, e.DB, r.ID, database.Now())
}

var errSnapshotGone = errors.New("engine: the run is no longer being snapshotted from this cursor")

func dayOf(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// feed puts the ids of new queued deliveries of running campaigns on the stream, each run's at
// its campaign's rate (see feedPace). A run is read by keyset, from the last id fed: the
// (run_id, status, enqueued_at, id) index holds a run's unfed rows together, and the cursor
// steps over the entries its own rounds just stamped (left in the index until purged). When a
// round reaches the run's end the cursor goes back to the start, so a delivery queued again
// behind it (a retry of the failed ones) is found in the next round.
func (e *Engine) feed(ctx context.Context) error {
	var runs []run
	if err := e.DB.SelectContext(ctx, &runs, Queries.Get("runs-dispatching")); err != nil {
		return database.Map(err)
	}
	now := e.now()
	seen := make(map[int64]bool, len(runs))
	// Runs of campaigns no channel throttles are fed as fast as the workers read: until the
	// stream holds unpacedBacklog entries no consumer has read yet.
	unpaced, backlogKnown := int64(0), false
	for _, r := range runs {
		seen[r.ID] = true
		if ok, err := e.leaseRun(ctx, r.ID); err != nil || !ok {
			if err != nil {
				return err
			}
			continue
		}
		c, err := e.campaign(ctx, r.CampaignID)
		if err != nil {
			return err
		}
		rate := feedRate(c, e.cfg.ChannelRates)
		p := e.pace[r.ID]
		if p == nil {
			p = newFeedPace(rate, e.cfg.Tick, now)
			e.pace[r.ID] = p
		}
		if rate > 0 {
			p.refill(rate, now)
		} else {
			if !backlogKnown {
				st, err := e.streamState(ctx)
				if err != nil {
					return err
				}
				unpaced, backlogKnown = max(0, int64(e.unpacedBacklog())-st.waiting), true
			}
			p.credit = float64(unpaced)
		}
		for ctx.Err() == nil && p.credit >= 1 {
			want := min(e.cfg.FeedBatch, int(p.credit))
			var ids []int64
			if err := e.DB.SelectContext(ctx, &ids, Queries.Get("deliveries-to-feed"), r.ID, p.after, want); err != nil {
				return database.Map(err)
			}
			if len(ids) > 0 {
				if err := e.enqueue(ctx, ids); err != nil {
					return err
				}
				p.after = ids[len(ids)-1]
				p.credit -= float64(len(ids))
				if rate <= 0 {
					unpaced -= int64(len(ids))
				}
			}
			if len(ids) < want { // the run's end: the next round starts over
				p.after = 0
				break
			}
		}
	}
	for id := range e.pace {
		if !seen[id] {
			delete(e.pace, id)
		}
	}
	return nil
}

// feedRate is the rate a run is fed at: its campaign's own, or lower when one of its channels
// allows less; 0 when neither the campaign nor its channels throttle it.
func feedRate(c campaigns.Campaign, channelRates map[string]int) int {
	rate := c.Spec.RatePerMinute
	if lim, _ := campaigns.ChannelLimit(channelRates, c.Spec.Channels); lim > 0 && (rate <= 0 || lim < rate) {
		rate = lim
	}
	return rate
}

// unpacedBacklog is how many unread entries the stream may hold for the runs fed without a
// rate: ten feed batches (50,000 by default, a few seconds of work at 10,000 a second).
func (e *Engine) unpacedBacklog() int { return 10 * e.cfg.FeedBatch }

// streamState is what the consumer group has not read yet.
type streamState struct {
	waiting int64     // entries no consumer has read
	oldest  time.Time // when the oldest of them was added, on this process's clock; zero: none
}

// streamState reads the group's lag and its oldest unread entry over every shard. Entry ids
// are the Redis server's clock in milliseconds; Redis TIME relates that clock to this
// process's (in a cluster the masters' clocks are taken to agree, as NTP keeps them).
func (e *Engine) streamState(ctx context.Context) (streamState, error) {
	var st streamState
	oldestMS := int64(-1)
	for _, stream := range e.streams {
		n, ms, err := e.shardState(ctx, stream)
		if err != nil {
			return streamState{}, err
		}
		st.waiting += n
		if ms >= 0 && (oldestMS < 0 || ms < oldestMS) {
			oldestMS = ms
		}
	}
	if oldestMS < 0 {
		return st, nil
	}
	before := time.Now()
	redisNow, err := e.Redis.Time(ctx).Result()
	if err != nil {
		return streamState{}, err
	}
	local := before.Add(time.Since(before) / 2)
	st.oldest = time.UnixMilli(oldestMS).Add(local.Sub(redisNow)).UTC()
	return st, nil
}

// shardState is one shard's unread entries and the time of its oldest (-1: none).
func (e *Engine) shardState(ctx context.Context, stream string) (int64, int64, error) {
	groups, err := e.Redis.XInfoGroups(ctx, stream).Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") { // flushed: nothing waits
			return 0, -1, nil
		}
		return 0, -1, err
	}
	var g *redis.XInfoGroup
	for i := range groups {
		if groups[i].Name == e.group {
			g = &groups[i]
		}
	}
	if g == nil {
		return 0, -1, nil
	}
	unread := "(" + g.LastDeliveredID
	first, err := e.Redis.XRangeN(ctx, stream, unread, "+", 1).Result()
	if err != nil || len(first) == 0 {
		return 0, -1, err
	}
	waiting := g.Lag
	if waiting < 0 { // Redis cannot tell after deletions: count, up to what matters
		n := int64(e.unpacedBacklog())
		all, err := e.Redis.XRangeN(ctx, stream, unread, "+", n).Result()
		if err != nil {
			return 0, -1, err
		}
		waiting = int64(len(all))
	}
	ms, err := strconv.ParseInt(first[0].ID[:strings.IndexByte(first[0].ID, '-')], 10, 64)
	if err != nil {
		return 0, -1, fmt.Errorf("engine: stream entry id %q: %w", first[0].ID, err)
	}
	return waiting, ms, nil
}

// feedPace feeds a run's deliveries at its campaign's rate. Fed all at once, a slow campaign's
// backlog filled the stream: every worker that took one of its deliveries waited for the rate
// with the rest of its batch, and other campaigns' messages waited behind them. Fed at the rate,
// a campaign has about what it may send in the next two ticks on the stream (at least the
// limiter's burst), so a wait for its rate is rare and holds up little. Deliveries the workers
// skip (enrolled since the snapshot, opted out) spend credit as sends do.
type feedPace struct {
	credit, max float64
	at          time.Time
	after       int64 // the last id fed: the next round reads past it
}

func newFeedPace(perMinute int, tick time.Duration, now time.Time) *feedPace {
	burst := float64(redisRateLimit(perMinute).Burst)
	m := max(burst, float64(perMinute)*2*tick.Minutes())
	return &feedPace{credit: m, max: m, at: now}
}

// refill adds the credit earned since the last feed, up to the cap.
func (p *feedPace) refill(perMinute int, now time.Time) {
	if d := now.Sub(p.at); d > 0 {
		p.credit = min(p.max, p.credit+float64(perMinute)*d.Minutes())
	}
	p.at = now
}

// enqueue adds ids to the stream and stamps them as fed, so the reconciler knows when a fed
// delivery has been waiting too long.
func (e *Engine) enqueue(ctx context.Context, ids []int64) error {
	pipe := e.Redis.Pipeline()
	for _, id := range ids {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: e.streamOf(id), Values: []string{"d", strconv.FormatInt(id, 10)}})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	return campaigns.MarkEnqueued(ctx, e.DB, ids, database.Now())
}

// reconcile repairs what crashes and lost Redis data leave behind. Every step is idempotent, so
// several instances may run it at once.
func (e *Engine) reconcile(ctx context.Context) error {
	now := database.Now()
	// A delivery still in sending past its lease: the provider may or may not have it. It is
	// not resent blindly (a WeChat consent is spent once).
	var stuck []struct {
		ID       int64  `db:"id"`
		Campaign int64  `db:"campaign_id"`
		Village  string `db:"village_code"`
	}
	if err := e.DB.SelectContext(ctx, &stuck, Queries.Get("deliveries-stuck"), now); err != nil {
		return database.Map(err)
	}
	for _, s := range stuck {
		if _, err := e.moveCounted(ctx, s.Campaign, func(tx *sqlx.Tx) (*counters.Change, error) {
			if ok, err := campaigns.RetireLeaseExpired(ctx, tx, s.ID, now); err != nil || !ok {
				return nil, err
			}
			ch := change(s.Campaign, s.Village, campaigns.DeliverySending, campaigns.DeliveryUnknown)
			return &ch, nil
		}); err != nil {
			return err
		}
	}
	// Cancelled campaigns: what is still queued is skipped.
	var cancelled []struct {
		Campaign int64  `db:"campaign_id"`
		Village  string `db:"village_code"`
		ID       int64  `db:"id"`
	}
	if err := e.DB.SelectContext(ctx, &cancelled, Queries.Get("deliveries-queued-of-cancelled")); err != nil {
		return database.Map(err)
	}
	for _, d := range cancelled {
		if _, err := e.finish(ctx, d.Campaign, d.ID, campaigns.DeliveryQueued, campaigns.DeliverySkipped, SkipCancelled, "", "",
			skipChange(d.Campaign, d.Village, campaigns.DeliveryQueued, SkipCancelled)); err != nil {
			return err
		}
	}
	if err := campaigns.CancelRunsOfCancelled(ctx, e.DB, now); err != nil {
		return err
	}
	// Fed long ago but still queued (Redis flushed, a worker died, a wait ended, a pause was
	// lifted): feed again, but only what no consumer can still read. Entries behind the
	// group's oldest unread one were all read, so only deliveries fed before it (a second's
	// margin for the clocks) may be fed again; those after it still wait on the stream, and a
	// long backlog is not fed twice. A duplicate on the stream is harmless: the claim lets one
	// through. What a dead consumer read and never acknowledged is fed again (after
	// RequeueAfter); after a FLUSHDB nothing waits, and everything old enough is.
	cutoff := now.Add(-e.cfg.RequeueAfter)
	st, err := e.streamState(ctx)
	if err != nil {
		return err
	}
	if !st.oldest.IsZero() {
		if c := st.oldest.Add(-time.Second); c.Before(cutoff) {
			cutoff = c
		}
	}
	var runs []run
	if err := e.DB.SelectContext(ctx, &runs, Queries.Get("runs-dispatching")); err != nil {
		return database.Map(err)
	}
	budget := refeedMax
	for _, r := range runs {
		if budget <= 0 {
			break
		}
		var again []int64
		if err := e.DB.SelectContext(ctx, &again, Queries.Get("deliveries-to-refeed"), r.ID, cutoff, now, budget); err != nil {
			return database.Map(err)
		}
		budget -= len(again)
		for i := 0; i < len(again); i += e.cfg.FeedBatch {
			if err := e.enqueue(ctx, again[i:min(i+e.cfg.FeedBatch, len(again))]); err != nil {
				return err
			}
		}
	}
	if err := e.ensureGroup(ctx); err != nil { // after a FLUSHDB the stream and group are gone
		return err
	}
	// Runs with nothing left to send are complete; a campaign whose last run completed is
	// completed, or scheduled again when it repeats.
	var done []struct {
		ID       int64 `db:"id"`
		Campaign int64 `db:"campaign_id"`
	}
	if err := e.DB.SelectContext(ctx, &done, Queries.Get("runs-done")); err != nil {
		return database.Map(err)
	}
	for _, d := range done {
		if err := e.complete(ctx, d.ID, d.Campaign); err != nil {
			return err
		}
	}
	// Stream entries a dead consumer read but never acknowledged: acknowledge them (MySQL
	// re-feeds what still matters) and keep the stream bounded.
	e.dropIdlePending(ctx)
	return nil
}

// complete ends a run with nothing left to send, and its campaign with it, with the campaign's
// counters settled on the outbox. A crash or a cancelled context between a delivery's commit
// and its counter update leaves the counters off, and nothing rebuilds them once the campaign has
// completed; so they are rebuilt in the completion's transaction, under the campaign's lock and
// once the run is seen to have nothing queued or in flight (a claim, a cancel and a retry of the
// failed ones all take that lock, so nothing changes the run's outbox until the commit). When
// the rebuild fails, the transaction is rolled back and the run stays dispatching for the next
// round: completed implies rebuilt counters. (A worker's counter update still on its way from
// a commit made before the lock can land after the rebuild; that window is as narrow as it was
// with the rebuild after the commit.)
//
// It runs at READ COMMITTED: the count of the run's pending deliveries, read after the
// campaign's lock, must see a retry committed while it waited (on TiDB a REPEATABLE READ
// transaction reads the snapshot of its start, taken before the wait).
func (e *Engine) complete(ctx context.Context, runID, campaign int64) error {
	err := database.InTxReadCommitted(ctx, e.DB, func(tx *sqlx.Tx) error {
		// The campaign row first, as every transition does, then its run.
		var c struct {
			Status  string       `db:"status"`
			NextRun sql.NullTime `db:"next_run_at"`
		}
		if err := tx.GetContext(ctx, &c, Queries.Get("campaign-lock"), campaign); err != nil {
			return database.Map(err)
		}
		// Again under the lock: a retry of the failed ones may have queued some of the run's
		// deliveries since the run was found done.
		var pending int
		if err := tx.GetContext(ctx, &pending, Queries.Get("run-pending"), runID); err != nil {
			return database.Map(err)
		}
		if pending > 0 {
			return nil
		}
		completed, err := campaigns.CompleteRun(ctx, tx, runID, database.Now())
		if err != nil {
			return err
		}
		if !completed {
			return nil // another instance completed it
		}
		// A campaign paused after its last send is completed too (resuming it would
		// schedule its start again: a second run); one that repeats stays paused.
		switch {
		case c.Status != campaigns.StatusRunning && c.Status != campaigns.StatusPaused:
		case !c.NextRun.Valid:
			err = campaigns.Move(ctx, tx, campaign, c.Status, campaigns.StatusCompleted, campaigns.KeepNextRun)
		case c.Status == campaigns.StatusRunning:
			err = campaigns.Move(ctx, tx, campaign, c.Status, campaigns.StatusScheduled, campaigns.KeepNextRun)
		}
		if err != nil {
			return err
		}
		if err := e.Counters.Rebuild(ctx, campaign); err != nil {
			return fmt.Errorf("%w: %w", errNotSettled, err)
		}
		return nil
	})
	if errors.Is(err, errNotSettled) {
		e.Log.Warn("engine: the run stays dispatching until its campaign's counters are rebuilt", "campaign", campaign, "run", runID, "err", err)
		return nil
	}
	return err
}

// refeedMax bounds the deliveries one reconcile round feeds again.
const refeedMax = 20000

var errNotSettled = errors.New("engine: counters not rebuilt")

func (e *Engine) dropIdlePending(ctx context.Context) {
	for _, stream := range e.streams {
		msgs, _, err := e.Redis.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: stream, Group: e.group, Consumer: e.id + "-reaper",
			MinIdle: 2 * e.cfg.Lease, Start: "0", Count: 1000}).Result()
		if err != nil {
			continue
		}
		if len(msgs) > 0 {
			ids := make([]string, len(msgs))
			for i, m := range msgs {
				ids[i] = m.ID
			}
			e.Redis.XAck(ctx, stream, e.group, ids...)
		}
		e.Redis.XTrimMaxLenApprox(ctx, stream, 2_000_000/StreamShards, 0)
	}
}
