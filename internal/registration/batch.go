package registration

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
)

// Group commit: concurrent registrations share one transaction, and so one COMMIT and its
// fsync. A committer takes what is queued (up to maxBatch) and runs the registrations one
// after the other. A registration calls its mark function before its first write that a
// later refusal would have to undo (adding a person to the roster): that sets a SAVEPOINT.
// A registration refused for a reason of its own (a 4xx answer) is rolled back to its
// savepoint when it set one; one that set none wrote nothing that stays (a failed INSERT
// undoes itself; its locks stay until the COMMIT). The rest commit together. Each caller gets its own answer only after the COMMIT, so a
// 201 still means durably stored. Any other failure (a deadlock, a lost connection, a failed
// COMMIT) abandons the batch, and each of its registrations then runs alone in its own
// transaction, as it would without batching; a batch that did commit but reported failure
// cannot store a registration twice, since the unique key (year, active_resident_id) refuses
// the second one.
var (
	maxBatch   = 8
	committers = int32(16)
	// batchHold, when above 1 (tests), makes a committer wait until it holds that many
	// registrations before it starts, so a test decides what shares a transaction.
	batchHold = 0
	// batchTimeout bounds one batch's transaction.
	batchTimeout = 30 * time.Second
	// batchCommitted, when set (tests), hears the size of every batch that committed together.
	batchCommitted func(n int)
)

// txFunc is one registration's work in a transaction; mark sets a savepoint (see above).
type txFunc func(ctx context.Context, tx *sqlx.Tx, mark func() error) error

func noMark() error { return nil }

type job struct {
	ctx  context.Context
	fn   txFunc
	done chan error
}

type batcher struct {
	db      *sqlx.DB
	queue   chan *job
	running atomic.Int32
}

func newBatcher(db *sqlx.DB) *batcher {
	return &batcher{db: db, queue: make(chan *job, 1024)}
}

// run runs fn in a transaction shared with other registrations and returns its outcome after
// the COMMIT (or the rollback).
func (b *batcher) run(ctx context.Context, fn txFunc) error {
	j := &job{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case b.queue <- j:
	case <-ctx.Done():
		return errs.Wrap(errs.Unavailable, ctx.Err(), "服务暂时不可用，请稍后再试")
	}
	b.wake()
	// Once queued, the answer waits for the outcome: the registration may be committing.
	return <-j.done
}

// wake starts a committer when fewer than committers are running.
func (b *batcher) wake() {
	for {
		n := b.running.Load()
		if n >= committers {
			return
		}
		if b.running.CompareAndSwap(n, n+1) {
			go b.commitLoop()
			return
		}
	}
}

func (b *batcher) commitLoop() {
	for {
		batch := b.take()
		if len(batch) == 0 {
			b.running.Add(-1)
			// A job queued after take found the queue empty, whose wake saw this committer
			// still running, would wait forever: look again.
			if len(b.queue) > 0 {
				b.wake()
			}
			return
		}
		b.commit(batch)
	}
}

// take collects up to maxBatch queued registrations without waiting (with batchHold, it waits
// for that many).
func (b *batcher) take() []*job {
	var batch []*job
	for len(batch) < batchHold {
		batch = append(batch, <-b.queue)
	}
	for len(batch) < maxBatch {
		select {
		case j := <-b.queue:
			batch = append(batch, j)
		default:
			return batch
		}
	}
	return batch
}

// refused tells a registration's own refusal (4xx) from a failure of the transaction.
func refused(err error) bool {
	var e *errs.Error
	return errors.As(err, &e) && errs.Status(e.Code) < 500
}

func (b *batcher) commit(batch []*job) {
	if len(batch) == 1 {
		j := batch[0]
		j.done <- database.InTx(j.ctx, b.db, func(tx *sqlx.Tx) error { return j.fn(j.ctx, tx, noMark) })
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	outcome := make([]error, len(batch))
	err := database.InTx(ctx, b.db, func(tx *sqlx.Tx) error {
		for i, j := range batch {
			outcome[i] = nil
			marked := false
			mark := func() error {
				if marked {
					return nil
				}
				marked = true
				_, err := tx.ExecContext(ctx, Queries.Get("savepoint"))
				return database.Map(err)
			}
			err := j.fn(ctx, tx, mark)
			if err == nil {
				continue
			}
			if !refused(err) {
				return err
			}
			if marked {
				if _, err := tx.ExecContext(ctx, Queries.Get("rollback-to-savepoint")); err != nil {
					return database.Map(err)
				}
			}
			outcome[i] = err
		}
		return nil
	})
	if err != nil {
		for _, j := range batch {
			j.done <- database.InTx(j.ctx, b.db, func(tx *sqlx.Tx) error { return j.fn(j.ctx, tx, noMark) })
		}
		return
	}
	if batchCommitted != nil {
		batchCommitted(len(batch))
	}
	for i, j := range batch {
		j.done <- outcome[i]
	}
}
