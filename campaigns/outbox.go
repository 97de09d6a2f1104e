package campaigns

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
)

// The campaigns package owns the writes of campaign_runs and deliveries, as it does those of
// campaigns: the staff endpoints (a cancel, a retry of the failed ones) and the engine (runs
// started, snapshotted, leased and completed; deliveries claimed and moved to their outcome)
// write them through the functions below. Each is one statement; the caller holds the locks
// and the transaction (the campaign row first, as every transition does). A move guarded by
// the status it expects reports whether it found the row there.

// affected reports whether an update changed exactly one row.
func affected(res interface{ RowsAffected() (int64, error) }, err error) (bool, error) {
	if err != nil {
		return false, database.Map(err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// StartRun opens a campaign's next run, snapshotting, in the transaction that holds the
// campaign's row.
func StartRun(ctx context.Context, tx *sqlx.Tx, campaign int64, now time.Time) error {
	var runNo int
	if err := tx.GetContext(ctx, &runNo, Queries.Get("runs-count"), campaign); err != nil {
		return database.Map(err)
	}
	if _, err := tx.ExecContext(ctx, Queries.Get("run-insert"), campaign, runNo+1, now); err != nil {
		return database.Map(err)
	}
	return nil
}

// LeaseRun takes or renews owner's lease on a run until until (now is the time it is taken at).
func LeaseRun(ctx context.Context, ext sqlx.ExecerContext, run int64, owner string, now, until time.Time) (bool, error) {
	return affected(ext.ExecContext(ctx, Queries.Get("run-lease"), owner, until, run, now, owner))
}

// SnapshotDeliveries queues the deliveries of one batch of a run's snapshot: the segment's
// people, on the civil date on, whose resident id is in (lo, hi]. It returns how many.
func SnapshotDeliveries(ctx context.Context, tx *sqlx.Tx, g Segment, on time.Time, campaign, run, lo, hi int64, now time.Time) (int64, error) {
	where, args := g.Where(on)
	res, err := tx.ExecContext(ctx, withSegment(Queries.Get("run-snapshot-deliveries"), where),
		append([]any{campaign, run, now, now, lo, hi}, args...)...)
	if err != nil {
		return 0, database.Map(err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// SnapshotByVillage counts a batch's deliveries per village.
func SnapshotByVillage(ctx context.Context, tx *sqlx.Tx, campaign, run, lo, hi int64) (map[string]int, error) {
	var rows []struct {
		Village string `db:"village_code"`
		N       int    `db:"n"`
	}
	if err := tx.SelectContext(ctx, &rows, Queries.Get("run-snapshot-by-village"), campaign, run, lo, hi); err != nil {
		return nil, database.Map(err)
	}
	out := make(map[string]int, len(rows))
	for _, v := range rows {
		out[v.Village] = v.N
	}
	return out, nil
}

// AdvanceSnapshot moves a run's checkpoint from lo to hi and counts the batch's n deliveries,
// if the run is still being snapshotted from lo.
func AdvanceSnapshot(ctx context.Context, tx *sqlx.Tx, run, lo, hi, n int64) (bool, error) {
	return affected(tx.ExecContext(ctx, Queries.Get("run-snapshot-advance"), hi, n, run, lo))
}

// SnapshotDone moves a run from snapshotting to dispatching.
func SnapshotDone(ctx context.Context, ext sqlx.ExecerContext, run int64, now time.Time) error {
	_, err := ext.ExecContext(ctx, Queries.Get("run-dispatching"), now, run)
	return database.Map(err)
}

// CompleteRun moves a dispatching run to completed.
func CompleteRun(ctx context.Context, tx *sqlx.Tx, run int64, now time.Time) (bool, error) {
	return affected(tx.ExecContext(ctx, Queries.Get("run-complete"), now, run))
}

// CancelRunsOfCancelled cancels the runs still under way of every cancelled campaign.
func CancelRunsOfCancelled(ctx context.Context, ext sqlx.ExecerContext, now time.Time) error {
	_, err := ext.ExecContext(ctx, Queries.Get("runs-cancel-of-cancelled"), now)
	return database.Map(err)
}

// MarkEnqueued stamps deliveries as put on the stream at now.
func MarkEnqueued(ctx context.Context, ext sqlx.ExecerContext, ids []int64, now time.Time) error {
	args := make([]any, 0, len(ids)+1)
	args = append(args, now)
	for _, id := range ids {
		args = append(args, id)
	}
	_, err := ext.ExecContext(ctx, database.ExpandIn(Queries.Get("deliveries-enqueued"), len(ids)), args...)
	return database.Map(err)
}

// RetireLeaseExpired moves a delivery still in sending past its lease to unknown.
func RetireLeaseExpired(ctx context.Context, tx *sqlx.Tx, id int64, now time.Time) (bool, error) {
	return affected(tx.ExecContext(ctx, Queries.Get("delivery-lease-expired"), now, id, now))
}

// Requeue puts a delivery in sending back in the queue after a transient failure (code), not
// before notBefore.
func Requeue(ctx context.Context, tx *sqlx.Tx, id int64, notBefore time.Time, code string, now time.Time) (bool, error) {
	return affected(tx.ExecContext(ctx, Queries.Get("delivery-requeue"), notBefore, code, now, id))
}

// Finish moves a delivery from one status to a final one, if it is still in the first, with
// its skip reason, channel and error code ("" for none; an empty channel keeps the one it has).
func Finish(ctx context.Context, tx *sqlx.Tx, id int64, from, to, reason, channel, code string, now time.Time) (bool, error) {
	return affected(tx.ExecContext(ctx, Queries.Get("delivery-finish"), to, reason, code, channel, now, id, from))
}

// cancelQueued ends, in the cancel's transaction, what the campaign still had to do: its queued
// deliveries are skipped as cancelled and its runs under way are cancelled, so that no stats
// show them queued after the cancel has answered. It returns the skipped ones per village.
// (Deliveries skipped as cancelled exist only once their campaign is cancelled, so counting
// them after the update counts exactly this update's rows.)
func cancelQueued(ctx context.Context, tx *sqlx.Tx, id int64) (map[string]int, error) {
	now := database.Now()
	if _, err := tx.ExecContext(ctx, Queries.Get("deliveries-cancel-queued"), now, id); err != nil {
		return nil, database.Map(err)
	}
	var rows []struct {
		Village string `db:"village_code"`
		N       int    `db:"n"`
	}
	if err := tx.SelectContext(ctx, &rows, Queries.Get("deliveries-cancelled-by-village"), id); err != nil {
		return nil, database.Map(err)
	}
	if _, err := tx.ExecContext(ctx, Queries.Get("runs-cancel"), now, id); err != nil {
		return nil, database.Map(err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.Village] = r.N
	}
	return out, nil
}

// requeueFailed puts a campaign's deliveries in the given statuses (failed, unknown) back in
// the queue and reopens the completed runs they belong to. It returns how many it requeued.
func requeueFailed(ctx context.Context, tx *sqlx.Tx, id int64, statuses []string) (int64, error) {
	args := []any{database.Now(), id}
	for _, s := range statuses {
		args = append(args, s)
	}
	res, err := tx.ExecContext(ctx, database.ExpandIn(Queries.Get("deliveries-requeue-failed"), len(statuses)), args...)
	if err != nil {
		return 0, database.Map(err)
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		if _, err := tx.ExecContext(ctx, Queries.Get("runs-reopen"), id, id); err != nil {
			return n, database.Map(err)
		}
	}
	return n, nil
}
