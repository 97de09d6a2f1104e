package campaigns

import (
	"context"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
)

// The engine's moves of a batch of deliveries, one statement each (see outbox.go). The caller
// holds the campaign rows' locks and has locked the rows it moves (a locking read of
// those still in the status the move expects), so that it knows exactly which rows each move
// changes: every id passed is moved.

// each widens every `/*each*/?` list of q to n placeholders.
func each(q string, n int) string {
	return strings.ReplaceAll(q, "/*each*/?", strings.TrimSuffix(strings.Repeat("?,", n), ","))
}

func ids64(args []any, ids []int64) []any {
	for _, id := range ids {
		args = append(args, id)
	}
	return args
}

// ClaimMany moves queued deliveries to sending, leased until leaseUntil, counting the attempt.
func ClaimMany(ctx context.Context, tx *sqlx.Tx, ids []int64, leaseUntil, now time.Time) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	return rows(tx.ExecContext(ctx, each(Queries.Get("deliveries-claim"), len(ids)), ids64([]any{leaseUntil, now}, ids)...))
}

// SkipQueuedMany skips queued deliveries for reason.
func SkipQueuedMany(ctx context.Context, tx *sqlx.Tx, ids []int64, reason string, now time.Time) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	return rows(tx.ExecContext(ctx, each(Queries.Get("deliveries-skip-queued"), len(ids)), ids64([]any{reason, now}, ids)...))
}

// Sent is one delivery sent, through a channel, with the provider's message id.
type Sent struct {
	ID      int64
	Channel string
	MsgID   string
}

// MarkSentMany moves deliveries in sending to sent, each with its channel and message id, in
// one statement (no table value constructor: it runs on MySQL 8, MariaDB and TiDB alike).
func MarkSentMany(ctx context.Context, tx *sqlx.Tx, sent []Sent, now time.Time) (int64, error) {
	n := len(sent)
	if n == 0 {
		return 0, nil
	}
	args := make([]any, 0, 5*n+2)
	for _, s := range sent {
		args = append(args, s.ID)
	}
	for _, s := range sent {
		args = append(args, s.Channel)
	}
	for _, s := range sent {
		args = append(args, s.ID)
	}
	for _, s := range sent {
		args = append(args, s.MsgID)
	}
	args = append(args, now, now)
	for _, s := range sent {
		args = append(args, s.ID)
	}
	return rows(tx.ExecContext(ctx, each(Queries.Get("deliveries-sent"), n), args...))
}

// WaitUntilMany keeps queued deliveries waiting until at (their window), with no error code.
func WaitUntilMany(ctx context.Context, ext sqlx.ExecerContext, ids []int64, at, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := ext.ExecContext(ctx, each(Queries.Get("deliveries-wait"), len(ids)), ids64([]any{at, now}, ids)...)
	return database.Map(err)
}

func rows(res interface{ RowsAffected() (int64, error) }, err error) (int64, error) {
	if err != nil {
		return 0, database.Map(err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
