package importer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
)

// Shared imports. An uploaded file is not kept on the disk of the instance that received it:
// it goes to the database, in chunks of ChunkBytes (import_chunks), in the transaction that
// records the import, and the local copy is deleted before the request is answered. Any
// instance may then run the import:
//
//   - the receiving instance starts it at once when its one import slot is free;
//   - every instance's RunQueued loop looks for uploads that no live instance runs (unclaimed,
//     or whose lease ran out) and takes one when its slot is free.
//
// Running an import means holding its claim: claimed_by names the instance and lease_until
// (Lease ahead) is renewed every Lease/3 while it runs. The runner copies the chunks in order to
// a local temporary file (one chunk in memory at a time: the file is an XLSX's zip, which is
// read out of order) and imports from it as the command line does. When the import ends,
// completed or failed, its chunks are deleted in the transaction that records the end.
//
// A stop mid-import (rolling restart) hands the import back (claim released) and a crash
// leaves its lease to run out; either way another instance takes it over and runs it again from
// the first row. That is safe because an import is idempotent per row: a row is an upsert by
// the person's ID number, and a row already written by the run before is found unchanged
// (counted in rows_unchanged, not rows_created or rows_updated), and a new enrollment is
// recorded once (the second run sees the person insured already, so rows_enrolled of a run
// taken over counts only the enrollments it recorded itself). The failed-row report is made
// afresh by each run. After maxAttempts runs that did not finish, the import fails.

const (
	// ChunkBytes is the size of a stored chunk of an uploaded file (the last one may be shorter).
	ChunkBytes = 1 << 20
	// Lease is how long a claim on an upload lasts without renewal.
	Lease = time.Minute
	// maxAttempts is how many runs an upload gets before it fails for good.
	maxAttempts = 3
)

const (
	msgTakenOver   = "导入已由另一台服务器接手"
	msgTooManyRuns = "导入多次中断，未能完成，请重新导入"
)

var errLostLease = errors.New("importer: the import's lease ran out and another instance took it over")

// ReceiveOnly makes this instance store uploads without starting them: they wait for a
// RunQueued loop, here or on another instance (an API instance that runs no imports; tests).
func (im *Importer) ReceiveOnly() { im.receiveOnly = true }

// Instance names this instance in claims.
func (im *Importer) Instance() string { return im.instance }

// SetLeaseClock sets the clock of this instance's import leases (tests: a fake one).
func (im *Importer) SetLeaseClock(now func() time.Time) { im.leaseNow = now }

// enqueueUpload records an uploaded import, queued, with its file in chunks and its
// import.create audit row, in one transaction: a failed upload leaves nothing behind.
func (im *Importer) enqueueUpload(ctx context.Context, actx audit.Context, createdBy *int64, up upload) (int64, error) {
	f, err := os.Open(up.path)
	if err != nil {
		return 0, errs.Internalf("importer: %w", err)
	}
	defer f.Close()
	size := int64(im.chunkBytes)
	chunks := int((up.size + size - 1) / size)
	var id int64
	err = database.InTx(ctx, im.db, func(tx *sqlx.Tx) error {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		now := database.Now()
		res, err := tx.ExecContext(ctx, Queries.Get("import-insert"), safeFileName(up.name), string(up.format), up.size, createdBy,
			now, now, chunks, nil)
		if err != nil {
			return database.Map(err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		buf := make([]byte, size)
		for seq := 0; seq < chunks; seq++ {
			n, err := io.ReadFull(f, buf)
			if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				return errs.Internalf("importer: read upload: %w", err)
			}
			if _, err := tx.ExecContext(ctx, Queries.Get("chunk-insert"), id, seq, buf[:n]); err != nil {
				return database.Map(err)
			}
		}
		return im.audit.RecordTx(ctx, tx, actx.Event(ActionCreate, auditObject, id, audit.Success,
			fmt.Sprintf("format=%s bytes=%d chunks=%d", up.format, up.size, chunks)))
	})
	return id, err
}

// background runs an upload received here once the request has been answered, when this
// instance's slot is free and no other instance took it first.
func (im *Importer) background(id int64, actx *audit.Context) {
	im.wg.Add(1)
	go func() {
		defer im.wg.Done()
		select {
		case im.slots <- struct{}{}:
			defer func() { <-im.slots }()
		case <-im.bg.Done():
			return // unclaimed: another instance takes it
		}
		if _, err := im.runUpload(im.bg, id, actx); err != nil {
			im.log.Warn("roster import", "import_id", id, "err", err)
		}
	}()
}

// RunQueued takes and runs, one at a time, the uploads no live instance runs, checking every
// `every` until ctx ends (serve runs it on every instance).
func (im *Importer) RunQueued(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := im.RunOnce(ctx); err != nil && ctx.Err() == nil {
			im.log.Warn("roster imports: queue", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-im.bg.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce waits for this instance's import slot, then takes and runs one upload no live
// instance runs, if there is one; ran says whether it ran one (to its end, or its hand-back).
func (im *Importer) RunOnce(ctx context.Context) (ran bool, err error) {
	if im.bg.Err() != nil {
		return false, nil // shut down: the imports are for other instances
	}
	select {
	case im.slots <- struct{}{}:
		defer func() { <-im.slots }()
	case <-ctx.Done():
		return false, ctx.Err()
	}
	im.wg.Add(1)
	defer im.wg.Done()
	// Shutdown ends the run as it ends a background one (the import is handed back): the run's
	// context is a child of the importer's, ended also by ctx.
	outer := ctx
	ctx, cancel := context.WithCancel(im.bg)
	defer cancel()
	defer context.AfterFunc(outer, cancel)()
	var ids []int64
	if err := im.db.SelectContext(ctx, &ids, Queries.Get("import-claimable"), im.leaseNow()); err != nil {
		return false, database.Map(err)
	}
	for _, id := range ids {
		ran, err := im.runUpload(ctx, id, nil)
		if ran || err != nil {
			return ran, err
		}
	}
	return false, nil
}

// runUpload claims the upload id and runs it; ran is false when another instance holds it.
// actx is the uploader's audit context when the upload was received here (nil: the import
// is taken up by this instance, audited as the system's).
func (im *Importer) runUpload(ctx context.Context, id int64, actx *audit.Context) (ran bool, err error) {
	now := im.leaseNow()
	res, err := im.db.ExecContext(ctx, Queries.Get("import-claim"), im.instance, now.Add(Lease), id, now)
	if err != nil {
		return false, database.Map(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return false, nil
	}
	var row struct {
		Format    string        `db:"file_format"`
		Chunks    int           `db:"stored_chunks"`
		Attempts  int           `db:"attempts"`
		CreatedBy sql.NullInt64 `db:"created_by"`
	}
	if err := im.db.GetContext(ctx, &row, Queries.Get("import-claimed"), id, im.instance); err != nil {
		return true, database.Map(err)
	}
	j := job{id: id, format: Format(row.Format), upload: true, lost: &atomic.Bool{}}
	if hook := im.batchHook; hook != nil {
		j.onProgress = func(rows int, _ int64) { hook(id, rows) }
	}
	if actx != nil {
		j.actx = *actx
	} else {
		j.actx = audit.System("importer")
	}
	if row.Attempts > maxAttempts {
		return true, im.finishFailed(j, errs.New(errs.Unavailable, msgTooManyRuns), Result{ImportID: id})
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		im.renew(ctx, j, cancel)
	}()
	defer func() { cancel(); <-renewed }()
	path, err := im.spool(ctx, id, row.Chunks)
	if err != nil {
		return true, im.finishFailed(j, err, Result{ImportID: id})
	}
	defer os.Remove(path)
	j.path = path
	_, err = im.execute(ctx, j)
	return true, err
}

// renew keeps this instance's claim on j alive until ctx ends; if the claim is gone (another
// instance took the import over), it marks j lost and cancels the run.
func (im *Importer) renew(ctx context.Context, j job, cancel context.CancelFunc) {
	t := time.NewTicker(Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		res, err := im.db.ExecContext(ctx, Queries.Get("import-renew"), im.leaseNow().Add(Lease), j.id, im.instance)
		if err != nil {
			im.log.Warn("roster import: lease not renewed", "import_id", j.id, "err", err)
			continue
		}
		if n, _ := res.RowsAffected(); n == 0 {
			j.lost.Store(true)
			cancel()
			return
		}
	}
}

// release hands an import this instance holds back, for another instance to run at once.
func (im *Importer) release(id int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := im.db.ExecContext(ctx, Queries.Get("import-release"), database.Now(), id, im.instance); err != nil {
		im.log.Error("roster import: cannot hand the import back", "import_id", id, "err", err)
	}
}

// spool copies an upload's chunks, in order and one at a time, to a local temporary file.
func (im *Importer) spool(ctx context.Context, id int64, chunks int) (path string, err error) {
	f, err := os.CreateTemp(tempDir(), "upload-*")
	if err != nil {
		return "", errs.Internalf("importer: temp file: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = errs.Internalf("importer: temp file: %w", cerr)
		}
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	var data []byte
	for seq := 0; seq < chunks; seq++ {
		data = data[:0]
		if err := im.db.QueryRowxContext(ctx, Queries.Get("chunk-get"), id, seq).Scan(&data); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return "", errs.Internalf("importer: import %d lacks chunk %d of %d", id, seq, chunks)
			}
			return "", database.Map(err)
		}
		if _, err := f.Write(data); err != nil {
			return "", errs.Internalf("importer: temp file: %w", err)
		}
	}
	return f.Name(), nil
}
