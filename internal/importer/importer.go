// Package importer loads the universal-registration roster from CSV or XLSX files: streamed
// (memory does not grow with the file), written in batches keyed by the ID number's blind
// index, idempotent, with every bad row reported by row number and field while good rows go in.
package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/schollz/progressbar/v3"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/web"
)

// UploadRoute is the multipart upload endpoint, which has its own body limit.
const UploadRoute = "/api/v1/admin/imports"

// Statuses of an import.
const (
	ImportQueued    = "queued"
	ImportRunning   = "running"
	ImportCompleted = "completed"
	ImportFailed    = "failed"
)

// Audit actions of this area.
const (
	ActionCreate       = "import.create"
	ActionComplete     = "import.complete"
	ActionFail         = "import.fail"
	ActionExportErrors = "import.export_errors"
	auditObject        = "roster_import"
)

// StaleAfter is how long a queued or running import may go without progress before FailStale
// gives it up.
const StaleAfter = 10 * time.Minute

// Messages of imports that end without finishing.
const (
	msgStale       = "服务重启，导入中断，请重新导入"
	msgShutdown    = "服务关闭，导入中断，请重新导入"
	msgCancelled   = "导入已取消：已处理的行已保存，重新导入同一文件不会重复"
	msgSystemError = "导入因系统错误中断：已处理的行已保存，请稍后重新导入同一文件（已导入的行不会重复）"
)

// RowError is one row the import could not take: its 1-based row number in the file (the
// header is row 1), the field at fault and a Chinese message. It never holds the cell's value.
type RowError struct {
	Row     int    `json:"row"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Result is the outcome of one import. RowsDone counts the data rows processed, good or bad:
// Created + Updated + Unchanged + RowsFailed = RowsDone. Enrolled counts the people the file
// showed newly insured (new enrollments). Errors holds the first 1000 failed rows.
type Result struct {
	ImportID                              int64
	RowsTotal, RowsDone, RowsFailed       int
	Created, Updated, Unchanged, Enrolled int
	Errors                                []RowError
}

// Importer imports roster files, from the command line or in the background for the API.
type Importer struct {
	db    *sqlx.DB
	kr    *pii.Keyring
	loc   *time.Location
	enr   *enrollment.Recorder
	log   *slog.Logger
	audit *audit.Log
	now   func() time.Time

	// Background imports: their own context (not a request's), at most one running at a time.
	bg    context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
	slots chan struct{}

	// Shared imports (shared.go): this instance's name in claims, the clock of the leases, and
	// whether uploads received here wait for a runner (RunQueued) instead of starting here.
	instance    string
	leaseNow    func() time.Time
	receiveOnly bool
	chunkBytes  int
	// batchHook (tests only) is told of each batch an upload's run has written.
	batchHook func(id int64, rows int)
}

// New wires the importer: loc is the business time zone (the import date and "today" for
// ID numbers), enr records the new enrollments an import shows.
func New(db *sqlx.DB, kr *pii.Keyring, loc *time.Location, enr *enrollment.Recorder, log *slog.Logger) *Importer {
	if loc == nil || enr == nil {
		panic("importer: no time zone or enrollment recorder")
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	bg, stop := context.WithCancel(context.Background())
	return &Importer{db: db, kr: kr, loc: loc, enr: enr, log: log, audit: audit.New(db), now: time.Now,
		bg: bg, stop: stop, slots: make(chan struct{}, 1), instance: uuid.NewString(), leaseNow: database.Now, chunkBytes: ChunkBytes}
}

// Shutdown stops the background imports (they are marked failed and can be imported again)
// and waits for them, at most until ctx ends.
func (im *Importer) Shutdown(ctx context.Context) error {
	im.stop()
	done := make(chan struct{})
	go func() { im.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// FailStale marks imports that a stopped process left queued or running, with no progress for
// StaleAfter, as failed. Nothing resumes them: importing the file again is safe.
func (im *Importer) FailStale(ctx context.Context) (int64, error) {
	now := database.Now()
	res, err := im.db.ExecContext(ctx, Queries.Get("import-fail-stale"), msgStale, now, now, now.Add(-StaleAfter))
	if err != nil {
		return 0, database.Map(err)
	}
	return res.RowsAffected()
}

// RunFile imports a roster file from the command line, choosing the format by its extension,
// with a progress bar on progress (nil: none). The import is recorded in roster_imports like
// an upload. The error is for a failed import (unreadable file, missing column, database
// down); rows with bad data are not errors but Result.Errors.
func RunFile(ctx context.Context, im *Importer, path string, progress io.Writer) (Result, error) {
	return im.ImportFile(ctx, path, "", progress)
}

// ImportFile is RunFile with an explicit format ("csv", "xlsx"; "" chooses by extension).
func (im *Importer) ImportFile(ctx context.Context, path, format string, progress io.Writer) (Result, error) {
	f, ok := FormatOf(path)
	if format != "" {
		f, ok = ParseFormat(format)
	}
	if !ok {
		return Result{}, errUnsupportedFormat
	}
	fi, err := os.Stat(path)
	if err != nil {
		return Result{}, fmt.Errorf("importer: %w", err)
	}
	if fi.IsDir() {
		return Result{}, fmt.Errorf("importer: %s is a directory", path)
	}
	actx := audit.System("cli")
	id, err := im.enqueue(ctx, actx, nil, filepath.Base(path), f, fi.Size())
	if err != nil {
		return Result{}, err
	}
	if progress == nil {
		progress = io.Discard
	}
	var bar *progressbar.ProgressBar
	j := job{id: id, path: path, format: f, actx: actx}
	j.onStart = func(total int) {
		if f == FormatCSV {
			bar = progressbar.NewOptions64(fi.Size(), barOptions(progress, true)...)
		} else {
			bar = progressbar.NewOptions64(int64(total), barOptions(progress, false)...)
		}
	}
	j.onProgress = func(rows int, read int64) {
		if bar == nil {
			return
		}
		if f == FormatCSV {
			_ = bar.Set64(read)
		} else {
			_ = bar.Set(rows)
		}
	}
	res, err := im.execute(ctx, j)
	if bar != nil {
		if err == nil {
			_ = bar.Finish()
		} else {
			_ = bar.Exit()
		}
	}
	return res, err
}

// barOptions are progressbar.DefaultBytes's (or Default's) options, writing to w.
func barOptions(w io.Writer, bytes bool) []progressbar.Option {
	opts := []progressbar.Option{
		progressbar.OptionSetDescription("导入花名册"),
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(10),
		progressbar.OptionThrottle(65 * time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionOnCompletion(func() { fmt.Fprint(w, "\n") }),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionFullWidth(),
		progressbar.OptionSetRenderBlankState(true),
	}
	if bytes {
		return append(opts, progressbar.OptionShowBytes(true), progressbar.OptionShowTotalBytes(true))
	}
	return append(opts, progressbar.OptionShowIts(), progressbar.OptionSetItsString("行"))
}

// enqueue records a new import, queued, with its import.create audit row.
func (im *Importer) enqueue(ctx context.Context, actx audit.Context, createdBy *int64, name string, f Format, size int64) (int64, error) {
	var id int64
	err := database.InTx(ctx, im.db, func(tx *sqlx.Tx) error {
		now := database.Now()
		res, err := tx.ExecContext(ctx, Queries.Get("import-insert"), safeFileName(name), string(f), size, createdBy, now, now, nil, im.instance)
		if err != nil {
			return database.Map(err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		return im.audit.RecordTx(ctx, tx, actx.Event(ActionCreate, auditObject, id, audit.Success,
			fmt.Sprintf("format=%s bytes=%d", f, size)))
	})
	return id, err
}

// safeFileName keeps a file name fit to store: its base, no control characters, personal
// numbers masked, at most 255 bytes.
func safeFileName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, name)
	name = pii.Redact(name)
	for len(name) > 255 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name
}

// job is one import to run.
type job struct {
	id     int64
	path   string
	format Format
	actx   audit.Context
	// upload: the file is in import_chunks (path is this run's copy of it); lost is set when
	// another instance took the import over (this run's lease ran out).
	upload bool
	lost   *atomic.Bool
	// onStart is told the number of data rows before the first batch; onProgress the rows
	// processed and the bytes read (CSV) after each batch. Both optional.
	onStart    func(total int)
	onProgress func(rows int, read int64)
}

var errShutdown = errs.New(errs.Unavailable, msgShutdown)

// execute runs an import to its end and records the outcome: completed, or failed with a
// message for the user.
func (im *Importer) execute(ctx context.Context, j job) (Result, error) {
	start := time.Now()
	res := Result{ImportID: j.id}
	err := im.importRows(ctx, j, &res)
	if err != nil {
		return res, im.finishFailed(j, err, res)
	}
	cctx := context.WithoutCancel(ctx)
	err = database.InTx(cctx, im.db, func(tx *sqlx.Tx) error {
		now := database.Now()
		done, err := tx.ExecContext(cctx, Queries.Get("import-complete"), res.RowsTotal, res.RowsDone, res.RowsFailed,
			res.Created, res.Updated, res.Unchanged, res.Enrolled, now, now, j.id, im.instance)
		if err != nil {
			return database.Map(err)
		}
		if n, _ := done.RowsAffected(); n != 1 {
			return errLostLease
		}
		if _, err := tx.ExecContext(cctx, Queries.Get("chunks-delete"), j.id); err != nil {
			return database.Map(err)
		}
		return im.audit.RecordTx(cctx, tx, j.actx.Event(ActionComplete, auditObject, j.id, audit.Success, summary(res)))
	})
	if err != nil {
		return res, im.finishFailed(j, err, res)
	}
	// Whole milliseconds: a float's 15 digits once read as a phone number to the log's PII scan.
	ms := time.Since(start).Milliseconds()
	im.log.Info("roster import completed", "import_id", j.id, "format", string(j.format), "rows", res.RowsDone,
		"failed", res.RowsFailed, "created", res.Created, "updated", res.Updated, "unchanged", res.Unchanged,
		"enrolled", res.Enrolled, "duration_ms", ms)
	return res, nil
}

func summary(r Result) string {
	return fmt.Sprintf("rows=%d failed=%d created=%d updated=%d unchanged=%d enrolled=%d",
		r.RowsDone, r.RowsFailed, r.Created, r.Updated, r.Unchanged, r.Enrolled)
}

// finishFailed marks the import failed with a message for the user and audits it; it returns
// the error to give the caller (the user's message, the cause kept for logs).
func (im *Importer) finishFailed(j job, cause error, res Result) error {
	if j.upload {
		switch {
		case errors.Is(cause, errLostLease) || (j.lost != nil && j.lost.Load()):
			// Another instance runs it now: nothing of its record is this run's to change.
			im.log.Warn("roster import taken over by another instance", "import_id", j.id, "rows", res.RowsDone)
			return errs.Wrap(errs.Conflict, cause, msgTakenOver)
		case errors.Is(cause, errShutdown), errors.Is(cause, context.Canceled) && im.bg.Err() != nil:
			// A stop mid-import: the next instance takes it over and runs it again.
			im.release(j.id)
			im.log.Warn("roster import handed back at shutdown", "import_id", j.id, "rows", res.RowsDone)
			return errs.Wrap(errs.Unavailable, cause, msgShutdown)
		}
	}
	msg := msgSystemError
	e, isDomain := errs.As(cause)
	switch {
	case errors.Is(cause, errShutdown), errors.Is(cause, context.Canceled) && im.bg.Err() != nil:
		msg = msgShutdown
	case errors.Is(cause, context.Canceled):
		msg = msgCancelled
	case isDomain && e.Code != errs.Internal:
		msg = e.Message
	}
	level := slog.LevelWarn
	if msg == msgSystemError {
		level = slog.LevelError
	}
	im.log.Log(context.Background(), level, "roster import failed", "import_id", j.id, "rows", res.RowsDone,
		"failed", res.RowsFailed, "err", pii.Redact(cause.Error()))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := database.InTx(ctx, im.db, func(tx *sqlx.Tx) error {
		now := database.Now()
		if _, err := tx.ExecContext(ctx, Queries.Get("import-fail"), msg, now, now, j.id, im.instance); err != nil {
			return database.Map(err)
		}
		if _, err := tx.ExecContext(ctx, Queries.Get("chunks-delete"), j.id); err != nil {
			return database.Map(err)
		}
		return im.audit.RecordTx(ctx, tx, j.actx.Event(ActionFail, auditObject, j.id, audit.Failure, msg))
	})
	if err != nil {
		im.log.Error("roster import: cannot record the failure", "import_id", j.id, "err", err)
	}
	if isDomain {
		return cause
	}
	return errs.Wrap(errs.Internal, cause, msg)
}

// importRows reads the file, checks the header, counts the rows and writes them batch by
// batch; res holds the totals so far, also when it fails.
func (im *Importer) importRows(ctx context.Context, j job, res *Result) error {
	now := im.now()
	today := web.Today(now, im.loc)
	vills, err := im.villages(ctx)
	if err != nil {
		return err
	}
	tmp := tempDir()
	rr, err := openRows(j.path, j.format, tmp)
	if err != nil {
		return err
	}
	defer rr.Close()
	row, header, err := rr.Next()
	if errors.Is(err, io.EOF) || (err == nil && (row != 1 || blankRow(header))) {
		return errs.New(errs.InvalidInput, "文件为空或第 1 行没有表头，可下载导入模板对照填写")
	}
	if err != nil {
		return err
	}
	lay, err := parseHeader(header)
	if err != nil {
		return err
	}
	total, err := countDataRows(j.path, j.format, tmp)
	if err != nil {
		return err
	}
	res.RowsTotal = total
	if _, err := im.db.ExecContext(ctx, Queries.Get("import-errors-delete"), j.id); err != nil {
		return database.Map(err)
	}
	started, err := im.db.ExecContext(ctx, Queries.Get("import-start"), total, database.Now(), database.Now(), j.id, im.instance)
	if err != nil {
		return database.Map(err)
	}
	if n, _ := started.RowsAffected(); n != 1 {
		return errs.New(errs.Conflict, "该导入已结束，不能再次运行")
	}
	if j.onStart != nil {
		j.onStart(total)
	}

	w, err := openWriter(ctx, im.db, im.enr, j.id, today)
	if err != nil {
		return err
	}
	defer w.Close()
	v := &validator{layout: lay, villages: vills, today: today, kr: im.kr}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan *chunk, 1)
	produced := make(chan error, 1)
	go func() {
		defer close(chunks)
		produced <- produce(ctx, rr, v, newStager(im.kr), chunks)
	}()
	// The loader fills the two staging tables in turn; the hand-over is unbuffered, so it
	// loads chunk k+1 into one while chunk k is written from the other, and never refills a
	// table before its chunk is written.
	type loadedChunk struct {
		c    *chunk
		slot int
		err  error
	}
	loaded := make(chan loadedChunk)
	go func() {
		defer close(loaded)
		slot, failed := 0, false
		for c := range chunks {
			if failed {
				continue // drain, so the reader can stop
			}
			err := w.load(ctx, c, slot)
			select {
			case loaded <- loadedChunk{c: c, slot: slot, err: err}:
			case <-ctx.Done():
				failed = true
			}
			failed = failed || err != nil
			slot = 1 - slot
		}
	}()
	var werr error
	var wait time.Duration // the writer waiting for a loaded chunk: reading, sealing or loading is behind
	for {
		t := time.Now()
		lc, ok := <-loaded
		wait += time.Since(t)
		if !ok {
			break
		}
		b := lc.c
		if werr != nil {
			continue // drain, so the loader can stop
		}
		if werr = lc.err; werr == nil {
			werr = w.write(ctx, b, lc.slot)
		}
		if werr != nil {
			cancel()
			continue
		}
		res.RowsDone, res.RowsFailed = w.totals.done, w.totals.failed
		res.Created, res.Updated, res.Unchanged, res.Enrolled = w.totals.created, w.totals.updated, w.totals.unchanged, w.totals.enrolled
		if j.onProgress != nil {
			j.onProgress(w.totals.done, b.read)
		}
	}
	perr := <-produced
	res.Errors = w.errors
	ph := w.phases
	im.log.Info("roster import writes", "import_id", j.id, "wait_ms", wait.Milliseconds(), "load_ms", ph.load.Milliseconds(),
		"lookup_ms", ph.lookup.Milliseconds(), "update_ms", ph.update.Milliseconds(), "insert_ms", ph.insert.Milliseconds(),
		"rest_ms", ph.rest.Milliseconds())
	if werr != nil {
		return werr
	}
	if perr != nil {
		return perr
	}
	// Stopped (shutdown, cancel) after the last chunk was read but before it was written: the
	// import did not finish, whatever the reader says.
	if err := ctx.Err(); err != nil {
		return err
	}
	// A file that changed between the count and the import: the total is what was imported.
	res.RowsTotal = res.RowsDone
	return nil
}

// produce reads and validates rows and sends them in chunks, prepared for the writer by st;
// it stops when ctx ends.
func produce(ctx context.Context, rr rowReader, v *validator, st *stager, out chan<- *chunk) error {
	rows := make([]parsed, 0, chunkRows)
	send := func() error {
		c, err := st.prepare(rows, rr.Read())
		if err != nil {
			return err
		}
		select {
		case out <- c:
			rows = make([]parsed, 0, chunkRows)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		row, cells, err := rr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if blankRow(cells) {
			continue
		}
		rows = append(rows, v.parse(row, cells))
		if len(rows) == chunkRows {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if len(rows) > 0 {
		return send()
	}
	return nil
}

// villages loads the town's villages by code and by name.
func (im *Importer) villages(ctx context.Context) (villages, error) {
	var list []struct {
		Code string `db:"code"`
		Name string `db:"name"`
	}
	if err := im.db.SelectContext(ctx, &list, Queries.Get("villages-all")); err != nil {
		return nil, database.Map(err)
	}
	v := villages{}
	for _, x := range list {
		v[x.Name] = x.Code
	}
	for _, x := range list { // a code wins over a name that looks like it
		v[x.Code] = x.Code
		v[strings.ToLower(x.Code)] = x.Code
	}
	return v, nil
}

// tempDir is where uploads wait and excelize unpacks large worksheets.
func tempDir() string {
	dir := filepath.Join(os.TempDir(), "canbao-imports")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return os.TempDir()
	}
	return dir
}
