package campaigns

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
)

// Backfill writes a campaign's history as the engine would have left it, without running the
// engine: the demo seed's campaigns, already under way on the demo's day. Each function runs in
// the caller's transaction and returns the driver's errors as they are.

// Backdate gives a campaign the times of its own history and its creator (0 for no one).
func Backdate(ctx context.Context, ext sqlx.ExecerContext, id int64, created, updated time.Time, by int64) error {
	var createdBy any
	if by != 0 {
		createdBy = by
	}
	_, err := ext.ExecContext(ctx, Queries.Get("campaign-backdate"), created, updated, createdBy, id)
	return err
}

// PastRun is a campaign's first run, snapshotted, as the engine left it.
type PastRun struct {
	Campaign     int64
	Status       string
	Cursor       int64 // the snapshot's cursor: the last resident ID it saw
	Targeted     int
	Started      time.Time
	SnapshotDone time.Time
	Completed    *time.Time // nil while the run is not completed
}

// InsertPastRun enters a campaign's first run and returns its ID.
func InsertPastRun(ctx context.Context, ext sqlx.ExecerContext, r PastRun) (int64, error) {
	res, err := ext.ExecContext(ctx, Queries.Get("run-insert-past"), r.Campaign, r.Status, r.Cursor, r.Targeted,
		r.Started, r.SnapshotDone, r.Completed)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// PastDelivery is a delivery of a past run: queued (Channel, Enqueued and Sent nil, no attempt)
// or sent.
type PastDelivery struct {
	Campaign, Run, Resident int64
	Village, Status         string
	Channel                 *string
	Attempts                int
	Enqueued, Sent          *time.Time
	Created, Updated        time.Time
}

// InsertPastDeliveries enters deliveries of a past run in one multi-row INSERT.
func InsertPastDeliveries(ctx context.Context, ext sqlx.ExecerContext, ds []PastDelivery) error {
	if len(ds) == 0 {
		return nil
	}
	args := make([]any, 0, len(ds)*12)
	for _, d := range ds {
		args = append(args, d.Campaign, d.Run, d.Resident, d.Village, d.Status, d.Channel, d.Attempts,
			d.Enqueued, d.Sent, d.Created, d.Updated, nil)
	}
	_, err := ext.ExecContext(ctx, database.MultiRow(Queries.Get("deliveries-insert-past"), len(ds)), args...)
	return err
}

// StampPastMsgIDs gives a campaign's sent deliveries the provider message IDs their channel
// leaves: "log-<delivery>" for the log channel, "task-<visit task>" for the visit-task channel
// (the person's open task of the campaign). Other channels are left alone.
func StampPastMsgIDs(ctx context.Context, ext sqlx.ExecerContext, campaign int64, channel string) error {
	var q string
	switch channel {
	case ChannelLog:
		q = "deliveries-log-ids"
	case ChannelVisitTask:
		q = "deliveries-task-ids"
	default:
		return nil
	}
	_, err := ext.ExecContext(ctx, Queries.Get(q), campaign)
	return err
}
