package importer

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/roster"
)

//go:embed queries.sql
var queryFS embed.FS

// Queries are the package's named SQL, checked against the server at start-up.
var Queries = database.RegisterQueries("importer", queryFS, "queries.sql")

// Completed is an xlsx import that ran elsewhere, entered as finished: every row of it updated
// a person already on the roster and showed them insured.
type Completed struct {
	FileName          string
	FileBytes, Rows   int
	CreatedBy         *int64 // nil for no staff member
	Started, Finished time.Time
}

// InsertCompleted enters a completed import and returns its ID, in the caller's transaction:
// the demo seed's weekly lists. It returns the driver's errors as they are.
func InsertCompleted(ctx context.Context, ext sqlx.ExecerContext, c Completed) (int64, error) {
	res, err := ext.ExecContext(ctx, Queries.Get("import-insert-completed"), c.FileName, c.FileBytes, c.Rows, c.Rows, c.Rows,
		c.Rows, c.CreatedBy, c.Started, c.Started, c.Finished, c.Finished)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// Rows travel in chunks: the reader parses and validates chunkRows rows, drops the
// duplicates, seals the good rows and encodes them for a staging table while the writer
// loads the previous chunk into one (LOAD DATA) and writes the one before in one transaction with a few
// set-based statements. Four chunks at most are in memory at once (one being prepared, one
// waiting, one being loaded, one being written): about 40 MB, with the IDs seen (32 MB per
// 1,000,000 rows).
const chunkRows = 10_000

// maxKeptErrors is how many row errors a Result (and the status answer) holds.
const maxKeptErrors = 1000

// errorTuples is how many failed rows one INSERT of roster_import_errors takes.
const errorTuples = 1000

// counts are the running totals of an import.
type counts struct {
	done, failed, created, updated, unchanged, enrolled int
}

func (c *counts) add(d counts) {
	c.done += d.done
	c.failed += d.failed
	c.created += d.created
	c.updated += d.updated
	c.unchanged += d.unchanged
	c.enrolled += d.enrolled
}

// chunk is up to chunkRows rows of the file, ready to write.
type chunk struct {
	done    int        // data rows, good or bad
	rowErrs []RowError // bad rows and duplicates, in file order
	good    []*record  // sorted by blind index
	sealed  []sealedRecord
	byRow   map[int]int // row number → index in good
	data    roster.StageData
	read    int64 // bytes of the file read so far (CSV)
}

// seenKey is the first 16 bytes of an ID number's blind index (an HMAC-SHA-256): a 128-bit
// prefix, whose chance of two different ID numbers sharing it among 10^6 rows is about 10^-27.
type seenKey [16]byte

// stager turns parsed rows into chunks; it remembers the ID numbers the file has shown so far
// (about 32 bytes each: 32 MB for 1,000,000 rows), so a later row with the same number is
// reported as a duplicate of the first, across chunks.
type stager struct {
	kr   *pii.Keyring
	seen map[seenKey]int32
}

func newStager(kr *pii.Keyring) *stager {
	return &stager{kr: kr, seen: make(map[seenKey]int32)}
}

// prepare finds the duplicates of rows (the first row with an ID number claims it, even when
// another of its cells is bad), seals the good rows and encodes them for the staging table.
func (s *stager) prepare(rows []parsed, read int64) (*chunk, error) {
	c := &chunk{done: len(rows), read: read}
	for _, p := range rows {
		if p.bidx != nil {
			key := seenKey(p.bidx[:16])
			if first, dup := s.seen[key]; dup {
				c.rowErrs = append(c.rowErrs, RowError{Row: p.row, Field: FieldIDNumber, Message: fmt.Sprintf("与第 %d 行身份证号码重复", first)})
				continue
			}
			s.seen[key] = int32(p.row)
		}
		if p.err != nil {
			c.rowErrs = append(c.rowErrs, *p.err)
			continue
		}
		c.good = append(c.good, p.rec)
	}
	if len(c.good) == 0 {
		return c, nil
	}
	slices.SortFunc(c.good, func(a, b *record) int { return bytes.Compare(a.idBidx, b.idBidx) })
	sealed, err := seal(s.kr, c.good)
	if err != nil {
		return nil, err
	}
	c.sealed = sealed
	c.byRow = make(map[int]int, len(c.good))
	staged := make([]roster.Staged, len(c.good))
	for i, r := range c.good {
		c.byRow[r.row] = i
		st := roster.Staged{Row: r.row, IDEnc: sealed[i].idEnc, IDBidx: r.idBidx, KeyID: sealed[i].keyID, Name: r.name,
			Gender: r.gender, Birth: r.birth, Village: r.village, Employed: r.employed.ptr(), Land: r.land.ptr(), Status: r.status,
			EmployerName: r.employerName, EmployerCode: r.employerCode}
		if r.phone != "" {
			st.PhoneEnc, st.PhoneBidx = sealed[i].phoneEnc, r.phoneBidx
		}
		staged[i] = st
	}
	c.data = roster.EncodeStage(staged)
	return c, nil
}

// writer writes the chunks of one import through two connections, each holding a staging
// table: one chunk is loaded into one while the previous chunk's transaction runs on the other.
type writer struct {
	conns    [2]*sqlx.Conn
	stages   [2]*roster.Stage
	enr      *enrollment.Recorder
	importID int64
	today    time.Time // the import date in the business time zone, as 00:00 UTC
	totals   counts
	phases   phases
	errors   []RowError
}

var errNoLocalInfile = errs.New(errs.Unavailable, "数据库未开启 local_infile，无法导入花名册：请管理员在数据库配置中设置 local_infile = ON 后重新导入")

// openWriter pins two connections and creates a staging table on each.
func openWriter(ctx context.Context, db *sqlx.DB, enr *enrollment.Recorder, importID int64, today time.Time) (*writer, error) {
	var infile string
	if err := db.GetContext(ctx, &infile, Queries.Get("local-infile")); err != nil {
		return nil, database.Map(err)
	}
	if infile != "1" && !strings.EqualFold(infile, "ON") {
		return nil, errNoLocalInfile
	}
	w := &writer{enr: enr, importID: importID, today: today}
	for i := range w.conns {
		conn, err := db.Connx(ctx)
		if err != nil {
			w.Close()
			return nil, database.Map(err)
		}
		w.conns[i] = conn
		if w.stages[i], err = roster.OpenStage(ctx, conn); err != nil {
			w.Close()
			return nil, database.Map(err)
		}
	}
	return w, nil
}

// Close drops the staging tables and gives the connections back to the pool.
func (w *writer) Close() {
	for i, conn := range w.conns {
		if w.stages[i] != nil {
			w.stages[i].Close()
		}
		if conn != nil {
			_ = conn.Close()
		}
	}
}

// phases is where a writer's time went, for the completion log: loading the staging tables
// (alongside the writes), and in the chunks' transactions the lookup of the people on the
// roster, the updates, the INSERT … SELECT, and the rest (enrollments, errors, totals, commit).
type phases struct {
	load, lookup, update, insert, rest time.Duration
}

// load loads a chunk into the staging table of slot (0 or 1), outside any transaction.
func (w *writer) load(ctx context.Context, c *chunk, slot int) error {
	start := time.Now()
	err := w.stages[slot].Load(ctx, c.data)
	w.phases.load += time.Since(start) // only the loader goroutine writes it; read after it ends
	return err
}

// write stores a chunk loaded into slot's staging table in one transaction, retrying a
// deadlock, a lock timeout or a concurrent insert of the same person.
func (w *writer) write(ctx context.Context, c *chunk, slot int) error {
	var (
		delta counts
		err   error
	)
	for attempt := 0; attempt < 4; attempt++ {
		delta, err = w.tryWrite(ctx, c, slot)
		if err == nil || !retryable(err) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(20*(attempt+1)) * time.Millisecond):
		}
	}
	if err != nil {
		return err
	}
	w.totals.add(delta)
	for _, e := range c.rowErrs {
		if len(w.errors) >= maxKeptErrors {
			break
		}
		w.errors = append(w.errors, e)
	}
	return nil
}

// retryable: a deadlock, a lock wait timeout, a TiDB write conflict or schema change
// (database.IsRetryable), or a duplicate key (a concurrent insert of the same person).
func retryable(err error) bool {
	return database.IsRetryable(err) || database.IsDuplicate(err)
}

func (w *writer) tryWrite(ctx context.Context, c *chunk, slot int) (delta counts, err error) {
	stage := w.stages[slot]
	tx, err := w.conns[slot].BeginTxx(ctx, nil)
	if err != nil {
		return delta, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	now := database.Now()
	delta.done, delta.failed = c.done, len(c.rowErrs)
	start := time.Now()
	var lookup, update, insert time.Duration
	defer func() {
		w.phases.lookup += lookup
		w.phases.update += update
		w.phases.insert += insert
		w.phases.rest += time.Since(start) - lookup - update - insert
	}()

	// 1. The people of the chunk already on the roster (one join on the blind index): changed
	// people one UPDATE each, the newly insured recorded as new enrollments.
	var enrolled []enrollment.Enrollment
	if len(c.good) > 0 {
		t := time.Now()
		found, err := stage.Existing(ctx, tx)
		if err != nil {
			return delta, err
		}
		lookup = time.Since(t)
		t = time.Now()
		for _, cur := range found {
			i, ok := c.byRow[cur.Row]
			if !ok {
				return delta, fmt.Errorf("importer: the staging table has row %d, not in the chunk", cur.Row)
			}
			r := c.good[i]
			employed, land := r.employed.or(cur.Employed), r.land.or(cur.Land)
			phoneChanged := r.phone != "" && !bytes.Equal(r.phoneBidx, cur.PhoneBidx)
			empName, empCode := keep(r.employerName, cur.EmployerName), keep(r.employerCode, cur.EmployerCode)
			if r.name == cur.Name && r.village == cur.Village && employed == cur.Employed && land == cur.Land &&
				r.status == cur.Status && !phoneChanged && empName == cur.EmployerName && empCode == cur.EmployerCode {
				delta.unchanged++
				continue
			}
			var changedOn any = cur.StatusChangedOn
			if r.status != cur.Status {
				changedOn = w.today
			}
			change := roster.ImportChange{ID: cur.ID, Name: r.name, Village: r.village, Employed: employed, Land: land,
				Status: r.status, StatusChangedOn: changedOn, EmployerName: empName, EmployerCode: empCode}
			if phoneChanged {
				s := c.sealed[i]
				change.NewPhone = &roster.SealedPhone{IDEnc: s.idEnc, PhoneEnc: s.phoneEnc, PhoneBidx: r.phoneBidx, KeyID: s.keyID}
			}
			if err := roster.UpdateFromImport(ctx, tx, change, now); err != nil {
				return delta, err
			}
			delta.updated++
			if !insured(cur.Status) && insured(r.status) {
				enrolled = append(enrolled, enrollment.Enrollment{ResidentID: cur.ID, Village: r.village, Scheme: r.status,
					Source: enrollment.SourceImport, SourceID: w.importID, Day: w.today})
			}
		}

		update = time.Since(t)

		// 2. The others, new, in one INSERT … SELECT from the staging table.
		t = time.Now()
		created, err := stage.InsertNew(ctx, tx, len(found), now)
		if err != nil {
			return delta, err
		}
		insert = time.Since(t)
		if want := len(c.good) - len(found); created != want {
			return delta, fmt.Errorf("importer: %d new people written, want %d", created, want)
		}
		delta.created = created
	}

	// 3. The newly insured count once each as a new enrollment on the import date, in the
	// daily totals and conversions too (a few statements per thousand).
	if len(enrolled) > 0 {
		n, err := w.enr.RecordBatch(ctx, tx, enrolled)
		if err != nil {
			return delta, err
		}
		delta.enrolled += n
	}

	// 4. The chunk's failed rows, and the running totals.
	for start := 0; start < len(c.rowErrs); start += errorTuples {
		part := c.rowErrs[start:min(start+errorTuples, len(c.rowErrs))]
		args := make([]any, 0, len(part)*4)
		for _, e := range part {
			args = append(args, w.importID, e.Row, e.Field, e.Message)
		}
		if _, err := tx.ExecContext(ctx, database.MultiRow(Queries.Get("import-error-insert"), len(part)), args...); err != nil {
			return delta, err
		}
	}
	t := w.totals
	t.add(delta)
	if _, err := tx.ExecContext(ctx, Queries.Get("import-progress"), t.done, t.failed, t.created, t.updated, t.unchanged,
		t.enrolled, now, w.importID); err != nil {
		return delta, err
	}
	if err := tx.Commit(); err != nil {
		return delta, err
	}
	return delta, nil
}

// sealedRecord holds a record's ciphertexts.
type sealedRecord struct {
	idEnc, phoneEnc []byte
	keyID           string
}

// seal encrypts the ID numbers and phones of records under the active key, in parallel for
// large batches. Only records about to be written are sealed.
func seal(kr *pii.Keyring, recs []*record) ([]sealedRecord, error) {
	out := make([]sealedRecord, len(recs))
	one := func(i int) error {
		r := recs[i]
		ct, kid, err := kr.Encrypt(r.idNumber, pii.AADResidentIDNumber)
		if err != nil {
			return fmt.Errorf("importer: encrypt: %w", err)
		}
		out[i] = sealedRecord{idEnc: ct, keyID: kid}
		if r.phone != "" {
			if out[i].phoneEnc, _, err = kr.Encrypt(r.phone, pii.AADResidentPhone); err != nil {
				return fmt.Errorf("importer: encrypt: %w", err)
			}
		}
		return nil
	}
	workers := min(runtime.GOMAXPROCS(0), 4, len(recs)/64)
	if workers < 2 {
		for i := range recs {
			if err := one(i); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	chunk := (len(recs) + workers - 1) / workers
	for start := 0; start < len(recs); start += chunk {
		end := min(start+chunk, len(recs))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := start; i < end; i++ {
				if err := one(i); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return nil, err
	}
	return out, nil
}

// keep is the file's value when the row gives one, else the roster's.
func keep(file *string, cur sql.NullString) sql.NullString {
	if file == nil {
		return cur
	}
	return sql.NullString{String: *file, Valid: true}
}
