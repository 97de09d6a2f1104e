package registration

import (
	"context"
	"sort"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/account"
	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
)

// Group commit of registrations of people already on the roster: concurrent registrations
// share their statements, not only their COMMIT. A committer takes what is queued (up to
// maxBatch, without waiting: while one batch commits, the next queues) and, in one
// transaction, runs one multi-row INSERT into registrations, one SELECT of their ids by the
// unique key (year, active_resident_id), one UPDATE of the accounts (account.LinkPersons) and
// one multi-row INSERT into audit_log (audit.RecordManyTx), then COMMIT. Each caller gets its
// answer only after the COMMIT, so a 201 still means durably stored.
//
// A batch that fails (a person who already holds an open registration of the year hits the
// unique key, a deadlock after InTx's retries, a lost connection) is rolled back, and each of
// its registrations then runs alone in its own transaction, as it would without batching, and
// gets the answer it would have got alone. A second registration of the same person in one
// batch runs alone after the batch, and so is refused as it would be. A batch whose COMMIT
// succeeded but was reported failed cannot store a registration twice: when it runs alone, the
// unique key refuses it.
var (
	// batching, when false (BenchmarkFloor's "register"), sends every registration on its own path.
	batching   = true
	maxBatch   = 64
	committers = int32(2)
	// batchHold, when above 1 (tests), makes a committer wait until it holds that many
	// registrations before it starts, so a test decides what forms a batch.
	batchHold = 0
	// batchTimeout bounds one batch's transaction.
	batchTimeout = 30 * time.Second
	// batchCommitted, when set (tests), hears the size of every batch that committed together.
	batchCommitted func(n int)
	// committersAlive counts the committers of every service, so a test changes the settings
	// above only when none is running (GroupCommit).
	committersAlive atomic.Int32
)

// job is one registration waiting for a committer.
type job struct {
	ctx   context.Context
	row   Row
	event func(id int64) audit.Event
	alone func(ctx context.Context, tx *sqlx.Tx) (int64, error) // the registration on its own path
	id    int64
	err   error
	done  chan struct{}
}

type batcher struct {
	db      *sqlx.DB
	audit   *audit.Log
	queue   chan *job
	running atomic.Int32
}

func newBatcher(db *sqlx.DB, log *audit.Log) *batcher {
	return &batcher{db: db, audit: log, queue: make(chan *job, 4096)}
}

// run stores j's registration (shared with others when it can be) and returns its id after the
// COMMIT, or the error it would have got alone.
func (b *batcher) run(j *job) (int64, error) {
	j.done = make(chan struct{})
	select {
	case b.queue <- j:
	case <-j.ctx.Done():
		return 0, errs.Wrap(errs.Unavailable, j.ctx.Err(), "服务暂时不可用，请稍后再试")
	}
	b.wake()
	// Once queued, the answer waits for the outcome: the registration may be committing. A
	// committer answers every job it takes, and takes every queued one before it stops.
	<-j.done
	return j.id, j.err
}

// wake starts a committer when fewer than committers are running.
func (b *batcher) wake() {
	for {
		n := b.running.Load()
		if n >= committers {
			return
		}
		if b.running.CompareAndSwap(n, n+1) {
			committersAlive.Add(1)
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
			committersAlive.Add(-1)
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

// take collects up to maxBatch queued registrations without waiting (with batchHold, when
// something is queued, it waits for that many).
func (b *batcher) take() []*job {
	var batch []*job
	if len(b.queue) > 0 {
		for len(batch) < batchHold {
			batch = append(batch, <-b.queue)
		}
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

// commit answers every job of the batch: the first registration of each person (of the
// batch's year) together, the others, and all of them when the shared transaction failed,
// alone, in the batch's order.
func (b *batcher) commit(batch []*job) {
	var shared, alone []*job
	seen := make(map[int64]bool, len(batch))
	for _, j := range batch {
		if seen[j.row.ResidentID] || j.row.Year != batch[0].row.Year {
			alone = append(alone, j)
			continue
		}
		seen[j.row.ResidentID] = true
		shared = append(shared, j)
	}
	if len(shared) > 1 {
		if err := b.together(shared); err == nil {
			if batchCommitted != nil {
				batchCommitted(len(shared))
			}
			for _, j := range shared {
				close(j.done)
			}
			shared = nil
		}
	}
	for _, j := range append(shared, alone...) {
		var id int64
		j.err = database.InTx(j.ctx, b.db, func(tx *sqlx.Tx) error {
			var err error
			id, err = j.alone(j.ctx, tx)
			return err
		})
		j.id = id
		close(j.done)
	}
}

// together stores registrations of distinct people of one year in one transaction and sets
// their ids.
func (b *batcher) together(jobs []*job) error {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	rows := make([]Row, len(jobs))
	for i, j := range jobs {
		rows[i] = j.row
	}
	return database.InTx(ctx, b.db, func(tx *sqlx.Tx) error {
		ids, err := insertMany(ctx, tx, rows)
		if err != nil {
			return database.Map(err)
		}
		links := make([]account.Link, len(jobs))
		events := make([]audit.Event, len(jobs))
		for i, j := range jobs {
			id, ok := ids[j.row.ResidentID]
			if !ok {
				return errs.Internalf("group commit: no registration read back for resident %d", j.row.ResidentID)
			}
			j.id = id
			links[i] = account.Link{AccountID: j.row.AccountID, ResidentID: j.row.ResidentID}
			events[i] = j.event(id)
		}
		// Accounts in id order: concurrent batches lock them in the same order.
		sort.SliceStable(links, func(a, c int) bool { return links[a].AccountID < links[c].AccountID })
		if err := account.LinkPersons(ctx, tx, links); err != nil {
			return database.Map(err)
		}
		return b.audit.RecordManyTx(ctx, tx, events)
	})
}
