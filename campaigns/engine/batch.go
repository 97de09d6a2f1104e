package engine

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/campaigns/channels"
	"github.com/canbao/canbao/campaigns/counters"
	"github.com/canbao/canbao/internal/platform/database"
)

// The worker takes deliveries in batches: one read of the stream, one load of the batch's
// deliveries with their residents, the routing in process, then for the batch's sendable ones
// a claim (one transaction: the campaign rows' locks, a locking read of the rows still
// queued, one UPDATE), their sends, and one transaction that records the outcomes with their
// counts. The stream entries are acknowledged and deleted in one round trip.
//
// Claimed means in flight: a crash between a claim and its send leaves the delivery unknown
// once its lease runs out, so a worker claims only what it sends next. Sends through local
// channels (log, visit_task) take microseconds, and a batch's are claimed together; a send
// through a provider (WeChat, SMS) is claimed on its own, just before it goes, in the
// transaction that records the one before it. So a worker has one provider send in flight, a
// pause or cancel stops its sends after at most that one, and a crash leaves unknown only
// what was really at a provider.

const (
	// readBatch is how many stream entries a worker takes at a time.
	readBatch = 200
	// throttleWait is how long a worker waits for rate tokens for a batch; what gets none by
	// then stays queued and is fed again.
	throttleWait = 2 * time.Second
)

var errThrottled = errors.New("throttled")

// work reads batches of delivery ids from the stream's shards until ctx ends; each read is a
// round of the loop name (health.go). In a Redis Cluster one XREADGROUP can read only streams
// of one slot, so a worker reads one shard at a time, in turn from its own starting shard (n):
// without blocking while it finds work, and, once a whole round found none, blocking up to a
// second on the next shard.
func (e *Engine) work(ctx context.Context, name, consumer string, n int) {
	shard, idle := n%len(e.streams), 0
	for ctx.Err() == nil {
		e.round(name)
		stream := e.streams[shard]
		shard = (shard + 1) % len(e.streams)
		block := time.Duration(-1) // XREADGROUP without BLOCK
		if idle >= len(e.streams) {
			block, idle = time.Second, 0
		}
		res, err := e.Redis.XReadGroup(ctx, &redis.XReadGroupArgs{Group: e.group, Consumer: consumer, Streams: []string{stream, ">"},
			Count: readBatch, Block: block}).Result()
		if ctx.Err() == nil {
			if errors.Is(err, redis.Nil) {
				e.beat(name, nil)
			} else {
				e.beat(name, err)
			}
		}
		if err != nil {
			if errors.Is(err, redis.Nil) || ctx.Err() != nil {
				idle++
				continue
			}
			if isNoGroup(err) {
				_ = e.ensureGroup(ctx)
			} else {
				e.Log.Warn("engine: read stream", "stream", stream, "err", err)
			}
			sleep(ctx, time.Second)
			continue
		}
		if len(res) == 0 || len(res[0].Messages) == 0 {
			idle++
			continue
		}
		idle = 0
		var ids []int64
		var entries []string
		seen := map[int64]bool{}
		for _, s := range res {
			for _, m := range s.Messages {
				entries = append(entries, m.ID)
				if id, _ := strconv.ParseInt(toString(m.Values["d"]), 10, 64); id > 0 && !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
		}
		// Once ctx ends no new delivery is taken up: the batch stays queued in MySQL and the
		// reconciler feeds it again.
		if len(ids) > 0 && ctx.Err() == nil {
			if err := e.processBatch(ctx, ids); err != nil {
				e.Log.Warn("engine: deliveries", "n", len(ids), "err", err)
			}
		}
		if len(entries) > 0 {
			actx := context.WithoutCancel(ctx)
			pipe := e.Redis.Pipeline()
			pipe.XAck(actx, stream, e.group, entries...)
			pipe.XDel(actx, stream, entries...)
			if _, err := pipe.Exec(actx); err != nil {
				e.Log.Warn("engine: acknowledge", "err", err)
			}
		}
	}
}

// item is a delivery the worker means to send, with its campaign and channels.
type item struct {
	d    delivery
	c    campaigns.Campaign
	plan *plan
}

// outcome is what became of a claimed delivery: sent, failed, unknown, or queued again (a
// retry, not before notBefore).
type outcome struct {
	d         *delivery
	to        string
	channel   string
	msgID     string
	code      string
	notBefore time.Time
}

// moves is what a step records besides its claim: skips (by reason) and waits (by time).
type moves struct {
	skips map[string][]*delivery
	waits map[time.Time][]int64
}

func (m *moves) skip(d *delivery, reason string) {
	if m.skips == nil {
		m.skips = map[string][]*delivery{}
	}
	m.skips[reason] = append(m.skips[reason], d)
}

func (m *moves) wait(d *delivery, at time.Time) {
	if m.waits == nil {
		m.waits = map[time.Time][]int64{}
	}
	at = at.UTC()
	m.waits[at] = append(m.waits[at], d.ID)
}

func (m *moves) empty() bool { return len(m.skips) == 0 && len(m.waits) == 0 }

// processBatch takes a batch of deliveries as far as it can go now. stop ends only the wait for
// the rate and the taking up of more sends: a claimed send finishes even if stop has ended (it
// is bounded by its timeout).
func (e *Engine) processBatch(stop context.Context, ids []int64) error {
	ctx := context.WithoutCancel(stop)
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	var ds []delivery
	if err := e.DB.SelectContext(ctx, &ds, database.ExpandIn(Queries.Get("deliveries-load"), len(ids)), args...); err != nil {
		return database.Map(err)
	}
	now := e.now()
	var mv moves
	var items []*item
	var firstErr error
	for i := range ds {
		d := &ds[i]
		if d.Status != campaigns.DeliveryQueued {
			continue // already handled: a duplicate on the stream
		}
		c, err := e.campaign(ctx, d.Campaign)
		if err != nil {
			firstErr = cmp(firstErr, err)
			continue
		}
		switch {
		case c.Status == campaigns.StatusCancelled:
			mv.skip(d, SkipCancelled)
			continue
		case c.Status != campaigns.StatusRunning:
			continue // paused: stays queued; the reconciler feeds it again after resume
		case d.NotBefore.Valid && d.NotBefore.Time.After(now):
			continue // waiting for its window
		}
		// Re-check at send time what may have changed since the snapshot.
		switch {
		case d.OptedOut:
			mv.skip(d, SkipOptedOut)
			continue
		case (d.RStatus == "resident_pension" || d.RStatus == "employee_pension") && !slices.Contains(c.Spec.Segment.Statuses, d.RStatus):
			mv.skip(d, SkipEnrolled)
			continue
		case d.LastVisited.Valid && now.Sub(d.LastVisited.Time) < e.cfg.VisitedRecently:
			mv.skip(d, SkipVisitedRecently)
			continue
		}
		// The campaign's daily window: outside it, wait for the next one (or skip if the
		// campaign ends first).
		if wait, ok := e.nextWindow(c, now, c.Spec.Schedule.Window); !ok {
			mv.skip(d, SkipQuietHours)
			continue
		} else if wait.After(now) {
			mv.wait(d, wait)
			continue
		}
		p, reason, err := e.route(ctx, c, *d, now)
		switch {
		case err != nil:
			firstErr = cmp(firstErr, err)
		case p == nil:
			mv.skip(d, reason)
		case !p.wait.IsZero():
			mv.wait(d, p.wait)
		default:
			items = append(items, &item{d: *d, c: c, plan: p})
		}
	}
	items = e.throttleBatch(stop, items)

	// The claims: the local sends together, then each provider send on its own.
	var groups [][]*item
	var local []*item
	for _, it := range items {
		if isLocal(it.plan.channels) {
			local = append(local, it)
		}
	}
	if len(local) > 0 {
		groups = append(groups, local)
	}
	for _, it := range items {
		if !isLocal(it.plan.channels) {
			groups = append(groups, []*item{it})
		}
	}
	var pending, recorded []outcome
	for _, g := range groups {
		if stop.Err() != nil {
			break // stopping: the rest is not claimed and stays queued
		}
		if e.claimHook != nil {
			e.claimHook()
		}
		claimed, done, err := e.step(ctx, pending, &mv, g)
		if err != nil {
			// The outcomes not recorded stay in sending: the lease retires them as unknown.
			return cmp(firstErr, err)
		}
		pending, mv, recorded = nil, moves{}, append(recorded, done...)
		for _, it := range claimed {
			pending = append(pending, e.send(ctx, it))
		}
	}
	if len(pending) > 0 || !mv.empty() {
		_, done, err := e.step(ctx, pending, &mv, nil)
		if err != nil {
			return cmp(firstErr, err)
		}
		recorded = append(recorded, done...)
	}
	if err := e.maybeVisitTasks(ctx, recorded); err != nil {
		firstErr = cmp(firstErr, err)
	}
	return firstErr
}

func cmp(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// isLocal: every channel of the chain acts in process (a log line, a visit task row).
func isLocal(chain []string) bool {
	for _, ch := range chain {
		if ch != campaigns.ChannelLog && ch != campaigns.ChannelVisitTask {
			return false
		}
	}
	return true
}

// step is one transaction of a batch: it records the outcomes of the sends before (out), the
// batch's skips and waits (mv), and claims the deliveries of claim that are still queued and
// whose campaign is still running (skipping those whose resident's frequency cap is used up),
// with the counter changes of all of it, all under the campaign rows' locks. It
// returns what it claimed and the sends it recorded as sent.
func (e *Engine) step(ctx context.Context, out []outcome, mv *moves, claim []*item) (claimed []*item, sent []outcome, err error) {
	camps := map[int64]bool{}
	for _, o := range out {
		camps[o.d.Campaign] = true
	}
	for _, ds := range mv.skips {
		for _, d := range ds {
			camps[d.Campaign] = true
		}
	}
	for _, it := range claim {
		camps[it.d.Campaign] = true
	}
	ids := make([]int64, 0, len(camps))
	for id := range camps {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	// Optimistically each move runs on its own and is expected to change every row it names;
	// when one changes fewer (another instance got there first), the transaction is redone
	// with a locking read before each move, to know exactly which rows it moves.
	exact := false
	for {
		claimed, sent, err = e.stepTx(ctx, ids, out, mv, claim, exact)
		if !errors.Is(err, errNotAll) || exact {
			return claimed, sent, err
		}
		exact = true
	}
}

var errNotAll = errors.New("engine: a move found some of its rows moved already")

// stepTx runs at READ COMMITTED: its counts (the frequency cap's recent sends, the people a
// send reached first) are plain reads made after the locks that order them (the residents',
// the campaign's), and must see what the previous holder of those locks committed. At
// REPEATABLE READ they read a snapshot: InnoDB's, taken at the transaction's first plain read
// (which can come before the residents' lock: the reach count of the sends it records), TiDB's
// at its start; either can miss another worker's claim committed meanwhile, and two claims
// for one person would both pass a cap of one (TestConcurrentClaimsRespectTheFrequencyCap).
func (e *Engine) stepTx(ctx context.Context, ids []int64, out []outcome, mv *moves, claim []*item, exact bool) (claimed []*item, sent []outcome, err error) {
	err = database.InTxReadCommitted(ctx, e.DB, func(tx *sqlx.Tx) error {
		claimed, sent = nil, nil
		// The campaign rows first, as every transition does: a pause or cancel that committed
		// is seen by the claim, and the completion of a run (exclusive lock) cannot rebuild
		// the counters between a move's commit and its count.
		status := make(map[int64]string, len(ids))
		for _, id := range ids {
			var s string
			if err := tx.GetContext(ctx, &s, Queries.Get("campaign-status-locked"), id); err != nil {
				return database.Map(err)
			}
			status[id] = s
		}
		now := database.Now()
		var changes []counters.Change
		var err error
		if changes, sent, err = e.record(ctx, tx, out, now, exact); err != nil {
			return err
		}
		reasons := make([]string, 0, len(mv.skips))
		for r := range mv.skips {
			reasons = append(reasons, r)
		}
		slices.Sort(reasons)
		for _, r := range reasons {
			ds := mv.skips[r]
			locked, err := moveRows(ctx, tx, exact, "deliveries-lock-queued", deliveryIDs(ds), func(ids []int64) (int64, error) {
				return campaigns.SkipQueuedMany(ctx, tx, ids, r, now)
			})
			if err != nil {
				return err
			}
			for _, d := range ds {
				if locked[d.ID] {
					changes = append(changes, skipChange(d.Campaign, d.Village, campaigns.DeliveryQueued, r))
				}
			}
		}
		for at, ws := range mv.waits {
			if err := campaigns.WaitUntilMany(ctx, tx, ws, at, now); err != nil {
				return err
			}
		}
		if e.stepHook != nil {
			e.stepHook()
		}
		var ch []counters.Change
		if claimed, ch, err = e.claimTx(ctx, tx, claim, status, now, exact); err != nil {
			return err
		}
		e.count(ctx, append(changes, ch...)...)
		return nil
	})
	return claimed, sent, err
}

// claimTx claims the items still queued of running campaigns, locking their rows; with a
// frequency cap, their residents are locked first, so that two campaigns cannot both take
// the last slot of a resident's cap, and those whose cap is used up are skipped.
func (e *Engine) claimTx(ctx context.Context, tx *sqlx.Tx, items []*item, status map[int64]string, now time.Time, exact bool) ([]*item, []counters.Change, error) {
	var want []*item
	capped := false
	for _, it := range items {
		if status[it.d.Campaign] != campaigns.StatusRunning {
			continue // stays queued: fed again after a resume, skipped after a cancel
		}
		want = append(want, it)
		capped = capped || it.c.Spec.FrequencyCap != nil
	}
	if len(want) == 0 {
		return nil, nil, nil
	}
	// Recent sends of the residents, per period of the caps (sent since, or in flight).
	recent := map[int]map[int64]int{}
	if capped {
		residents := make([]int64, 0, len(want))
		for _, it := range want {
			residents = append(residents, it.d.ResidentID)
		}
		slices.Sort(residents)
		residents = slices.Compact(residents)
		if _, err := lockRows(ctx, tx, "residents-lock", residents); err != nil {
			return nil, nil, err
		}
		for _, it := range want {
			fc := it.c.Spec.FrequencyCap
			if fc == nil || recent[fc.PerDays] != nil {
				continue
			}
			var rows []struct {
				Resident int64 `db:"resident_id"`
				N        int   `db:"n"`
			}
			args := []any{now.AddDate(0, 0, -fc.PerDays)}
			for _, r := range residents {
				args = append(args, r)
			}
			if err := tx.SelectContext(ctx, &rows, database.ExpandIn(Queries.Get("residents-recent-sends"), len(residents)), args...); err != nil {
				return nil, nil, database.Map(err)
			}
			m := make(map[int64]int, len(rows))
			for _, r := range rows {
				m[r.Resident] = r.N
			}
			recent[fc.PerDays] = m
		}
	}
	ids := make([]int64, len(want))
	for i, it := range want {
		ids[i] = it.d.ID
	}
	locked := map[int64]bool{}
	if exact {
		var err error
		if locked, err = lockRows(ctx, tx, "deliveries-lock-queued", ids); err != nil {
			return nil, nil, err
		}
	} else {
		for _, id := range ids {
			locked[id] = true // every one, or errNotAll below
		}
	}
	var claim, capSkip []int64
	var claimed []*item
	var changes []counters.Change
	for _, it := range want {
		if !locked[it.d.ID] {
			continue // claimed by another instance, or moved since the batch was loaded
		}
		if fc := it.c.Spec.FrequencyCap; fc != nil && recent[fc.PerDays][it.d.ResidentID] >= fc.Max {
			capSkip = append(capSkip, it.d.ID)
			changes = append(changes, skipChange(it.d.Campaign, it.d.Village, campaigns.DeliveryQueued, SkipFrequencyCap))
			continue
		}
		for _, m := range recent { // in flight from now on: it counts against every cap
			m[it.d.ResidentID]++
		}
		claim = append(claim, it.d.ID)
		claimed = append(claimed, it)
		changes = append(changes, change(it.d.Campaign, it.d.Village, campaigns.DeliveryQueued, campaigns.DeliverySending))
	}
	if n, err := campaigns.SkipQueuedMany(ctx, tx, capSkip, SkipFrequencyCap, now); err != nil {
		return nil, nil, err
	} else if n != int64(len(capSkip)) {
		return nil, nil, errNotAll // cannot happen once locked
	}
	if n, err := campaigns.ClaimMany(ctx, tx, claim, now.Add(e.cfg.Lease), now); err != nil {
		return nil, nil, err
	} else if n != int64(len(claim)) {
		return nil, nil, errNotAll
	}
	return claimed, changes, nil
}

// record stores the outcomes of claimed sends that are still in sending (a lease that ran out
// retired the others as unknown) and returns their counter changes and the sends recorded.
func (e *Engine) record(ctx context.Context, tx *sqlx.Tx, out []outcome, now time.Time, exact bool) ([]counters.Change, []outcome, error) {
	if len(out) == 0 {
		return nil, nil, nil
	}
	var changes []counters.Change
	var sentIDs []int64
	rows := map[int64]campaigns.Sent{}
	for _, o := range out {
		d := o.d
		var ok bool
		var err error
		switch o.to {
		case campaigns.DeliverySent:
			sentIDs = append(sentIDs, d.ID)
			rows[d.ID] = campaigns.Sent{ID: d.ID, Channel: o.channel, MsgID: o.msgID}
			continue
		case campaigns.DeliveryQueued:
			ok, err = campaigns.Requeue(ctx, tx, d.ID, o.notBefore, o.code, now)
		default: // unknown, failed
			ok, err = campaigns.Finish(ctx, tx, d.ID, campaigns.DeliverySending, o.to, "", o.channel, o.code, now)
		}
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue // no longer in sending: its lease ran out
		}
		ch := change(d.Campaign, d.Village, campaigns.DeliverySending, o.to)
		if o.to == campaigns.DeliveryFailed {
			ch.Channel = o.channel
		}
		changes = append(changes, ch)
	}
	if len(sentIDs) == 0 {
		return changes, nil, nil
	}
	moved, err := moveRows(ctx, tx, exact, "deliveries-lock-sending", sentIDs, func(ids []int64) (int64, error) {
		rs := make([]campaigns.Sent, len(ids))
		for i, id := range ids {
			rs[i] = rows[id]
		}
		return campaigns.MarkSentMany(ctx, tx, rs, now)
	})
	if err != nil {
		return nil, nil, err
	}
	var sent []outcome
	for _, o := range out {
		if o.to == campaigns.DeliverySent && moved[o.d.ID] {
			sent = append(sent, o)
		}
	}
	if len(sent) == 0 {
		return changes, nil, nil
	}
	// reached counts distinct people: a resident counts if no other delivery of the campaign
	// reached them (another run's), once however many of this batch did.
	byCampaign := map[int64][]int64{}
	for _, o := range sent {
		byCampaign[o.d.Campaign] = append(byCampaign[o.d.Campaign], o.d.ResidentID)
	}
	first := map[int64]map[int64]bool{}
	for c, residents := range byCampaign {
		here := map[int64]int{}
		args := []any{c}
		for _, r := range residents {
			if here[r] == 0 {
				args = append(args, r)
			}
			here[r]++
		}
		var rs []struct {
			Resident int64 `db:"resident_id"`
			N        int   `db:"n"`
		}
		if err := tx.SelectContext(ctx, &rs, database.ExpandIn(Queries.Get("residents-reached"), len(args)-1), args...); err != nil {
			return nil, nil, database.Map(err)
		}
		f := map[int64]bool{}
		for _, r := range rs {
			if r.N == here[r.Resident] {
				f[r.Resident] = true
			}
		}
		first[c] = f
	}
	for _, o := range sent {
		d := o.d
		fr := first[d.Campaign][d.ResidentID]
		if fr {
			delete(first[d.Campaign], d.ResidentID) // once
		}
		changes = append(changes, counters.Change{Campaign: d.Campaign, Village: d.Village, From: campaigns.DeliverySending, To: campaigns.DeliverySent,
			Channel: o.channel, ResidentID: d.ResidentID, FirstReach: fr, At: now})
	}
	return changes, sent, nil
}

// moveRows runs move over ids and returns the ids it moved. Not exact, it expects move to
// change every row (errNotAll otherwise); exact, it first locks the rows still where the move
// expects them (lockQuery) and moves only those.
func moveRows(ctx context.Context, tx *sqlx.Tx, exact bool, lockQuery string, ids []int64, move func([]int64) (int64, error)) (map[int64]bool, error) {
	if len(ids) == 0 {
		return map[int64]bool{}, nil
	}
	if !exact {
		n, err := move(ids)
		if err != nil {
			return nil, err
		}
		if n != int64(len(ids)) {
			return nil, errNotAll
		}
		m := make(map[int64]bool, len(ids))
		for _, id := range ids {
			m[id] = true
		}
		return m, nil
	}
	locked, err := lockRows(ctx, tx, lockQuery, ids)
	if err != nil {
		return nil, err
	}
	if _, err := move(keys(locked)); err != nil {
		return nil, err
	}
	return locked, nil
}

// lockRows runs a locking read of ids (a named query with one IN list) and returns the ids it
// found.
func lockRows(ctx context.Context, tx *sqlx.Tx, query string, ids []int64) (map[int64]bool, error) {
	if len(ids) == 0 {
		return map[int64]bool{}, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	var got []int64
	if err := tx.SelectContext(ctx, &got, database.ExpandIn(Queries.Get(query), len(ids)), args...); err != nil {
		return nil, database.Map(err)
	}
	m := make(map[int64]bool, len(got))
	for _, id := range got {
		m[id] = true
	}
	return m, nil
}

func deliveryIDs(ds []*delivery) []int64 {
	ids := make([]int64, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}

func keys(m map[int64]bool) []int64 {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// maybeVisitTasks turns a person who got K reminders without enrolling into a visit task: one
// count for the batch's unenrolled people sent a reminder.
func (e *Engine) maybeVisitTasks(ctx context.Context, sent []outcome) error {
	vt := e.Channels[campaigns.ChannelVisitTask]
	if e.cfg.RemindersForVisit <= 0 || vt == nil {
		return nil
	}
	var cand []outcome
	var args []any
	seen := map[int64]bool{}
	for _, o := range sent {
		if o.channel == campaigns.ChannelVisitTask || o.d.RStatus != "unenrolled" || seen[o.d.ResidentID] {
			continue
		}
		seen[o.d.ResidentID] = true
		cand = append(cand, o)
		args = append(args, o.d.ResidentID)
	}
	if len(cand) == 0 {
		return nil
	}
	var rows []struct {
		Resident int64 `db:"resident_id"`
		N        int   `db:"n"`
	}
	if err := e.DB.SelectContext(ctx, &rows, database.ExpandIn(Queries.Get("residents-reminders-many"), len(args)), args...); err != nil {
		return database.Map(err)
	}
	n := make(map[int64]int, len(rows))
	for _, r := range rows {
		n[r.Resident] = r.N
	}
	var firstErr error
	for _, o := range cand {
		if n[o.d.ResidentID] < e.cfg.RemindersForVisit {
			continue
		}
		c, err := e.campaign(ctx, o.d.Campaign)
		if err == nil {
			_, err = vt.Send(ctx, &c, channelsRecipient(o.d))
		}
		firstErr = cmp(firstErr, err)
	}
	return firstErr
}

func channelsRecipient(d *delivery) channels.Recipient {
	return channels.Recipient{DeliveryID: d.ID, ResidentID: d.ResidentID, Village: d.Village, Vars: campaigns.Vars{Name: d.Name}}
}
