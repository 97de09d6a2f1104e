package importer

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
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

// batchRows is how many rows of the file go into one transaction.
const batchRows = 1000

// maxKeptErrors is how many row errors a Result (and the status answer) holds.
const maxKeptErrors = 1000

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

// current is a person already on the roster, as a batch finds them.
type current struct {
	ID              int64        `db:"id"`
	Bidx            []byte       `db:"id_number_bidx"`
	Name            string       `db:"name"`
	Village         string       `db:"village_code"`
	Employed        bool         `db:"employed"`
	Land            bool         `db:"land_expropriated"`
	Status          string       `db:"status"`
	StatusChangedOn sql.NullTime `db:"status_changed_on"`
	PhoneBidx       []byte       `db:"phone_bidx"`
}

// writer writes the batches of one import through one connection (which holds the import's
// table of IDs seen).
type writer struct {
	kr       *pii.Keyring
	conn     *sqlx.Conn
	enr      *enrollment.Recorder
	importID int64
	today    time.Time // the import date in the business time zone, as 00:00 UTC
	totals   counts
	errors   []RowError
}

// openWriter pins a connection and creates the import's table of IDs seen.
func openWriter(ctx context.Context, db *sqlx.DB, kr *pii.Keyring, enr *enrollment.Recorder, importID int64, today time.Time) (*writer, error) {
	conn, err := db.Connx(ctx)
	if err != nil {
		return nil, database.Map(err)
	}
	if _, err := conn.ExecContext(ctx, seenDrop); err != nil {
		_ = conn.Close()
		return nil, database.Map(err)
	}
	if _, err := conn.ExecContext(ctx, seenCreate); err != nil {
		_ = conn.Close()
		return nil, database.Map(err)
	}
	return &writer{kr: kr, enr: enr, conn: conn, importID: importID, today: today}, nil
}

// Close drops the table of IDs seen and gives the connection back to the pool.
func (w *writer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := w.conn.ExecContext(ctx, seenDrop); err != nil {
		// The session may keep the table; a broken connection is discarded by the pool anyway.
		_ = w.conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	_ = w.conn.Close()
}

// write stores one batch in one transaction, retrying a deadlock, a lock timeout or a
// concurrent insert of the same person.
func (w *writer) write(ctx context.Context, batch []parsed) error {
	var (
		delta   counts
		rowErrs []RowError
		err     error
	)
	for attempt := 0; attempt < 4; attempt++ {
		delta, rowErrs, err = w.tryWrite(ctx, batch)
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
	for _, e := range rowErrs {
		if len(w.errors) >= maxKeptErrors {
			break
		}
		w.errors = append(w.errors, e)
	}
	return nil
}

func retryable(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1213, 1205, 1062: // deadlock, lock wait timeout, duplicate key (a concurrent insert)
			return true
		}
	}
	return false
}

func (w *writer) tryWrite(ctx context.Context, batch []parsed) (delta counts, rowErrs []RowError, err error) {
	tx, err := w.conn.BeginTxx(ctx, nil)
	if err != nil {
		return delta, nil, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	now := database.Now()

	// 1. Duplicates: the first row with an ID number claims it, in this batch or an earlier one.
	firstRow := batch[0].row
	var claims [][]byte
	for _, p := range batch {
		if p.bidx != nil {
			claims = append(claims, p.bidx)
		}
	}
	seen := make(map[string]int, len(claims))
	if len(claims) > 0 {
		rows, err := tx.QueryxContext(ctx, database.ExpandIn(seenLookup, len(claims)), bytesArgs(claims)...)
		if err != nil {
			return delta, nil, err
		}
		for rows.Next() {
			var b []byte
			var row int
			if err := rows.Scan(&b, &row); err != nil {
				rows.Close()
				return delta, nil, err
			}
			if row < firstRow { // not a leftover of this batch's rolled-back attempt
				seen[string(b)] = row
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return delta, nil, err
		}
	}
	var good []*record
	var newClaims []any
	for _, p := range batch {
		delta.done++
		if p.bidx != nil {
			key := string(p.bidx)
			if first, dup := seen[key]; dup {
				delta.failed++
				rowErrs = append(rowErrs, RowError{Row: p.row, Field: FieldIDNumber, Message: fmt.Sprintf("与第 %d 行身份证号码重复", first)})
				continue
			}
			seen[key] = p.row
			newClaims = append(newClaims, p.bidx, p.row)
		}
		if p.err != nil {
			delta.failed++
			rowErrs = append(rowErrs, *p.err)
			continue
		}
		good = append(good, p.rec)
	}
	if len(newClaims) > 0 {
		if _, err := tx.ExecContext(ctx, database.MultiRow(seenInsert, len(newClaims)/2), newClaims...); err != nil {
			return delta, nil, err
		}
	}

	// 2. The people of the batch already on the roster.
	byBidx := make(map[string]*current, len(good))
	if len(good) > 0 {
		bidxs := make([][]byte, len(good))
		for i, r := range good {
			bidxs[i] = r.idBidx
		}
		var found []current
		if err := tx.SelectContext(ctx, &found, database.ExpandIn(Queries.Get("residents-by-bidx"), len(bidxs)), bytesArgs(bidxs)...); err != nil {
			return delta, nil, err
		}
		for i := range found {
			byBidx[string(found[i].Bidx)] = &found[i]
		}
	}

	// 3. New people in one multi-row INSERT; changed people one UPDATE each.
	var fresh []*record
	var enrolled []enrollment.Enrollment
	for _, r := range good {
		cur, ok := byBidx[string(r.idBidx)]
		if !ok {
			fresh = append(fresh, r)
			continue
		}
		employed, land := r.employed.or(cur.Employed), r.land.or(cur.Land)
		phoneChanged := r.phone != "" && !bytes.Equal(r.phoneBidx, cur.PhoneBidx)
		if r.name == cur.Name && r.village == cur.Village && employed == cur.Employed && land == cur.Land &&
			r.status == cur.Status && !phoneChanged {
			delta.unchanged++
			continue
		}
		var changedOn any = cur.StatusChangedOn
		if r.status != cur.Status {
			changedOn = w.today
		}
		change := roster.ImportChange{ID: cur.ID, Name: r.name, Village: r.village, Employed: employed, Land: land,
			Status: r.status, StatusChangedOn: changedOn}
		if phoneChanged {
			sealed, err := seal(w.kr, []*record{r})
			if err != nil {
				return delta, nil, err
			}
			s := sealed[0]
			change.NewPhone = &roster.SealedPhone{IDEnc: s.idEnc, PhoneEnc: s.phoneEnc, PhoneBidx: r.phoneBidx, KeyID: s.keyID}
		}
		if err := roster.UpdateFromImport(ctx, tx, change, now); err != nil {
			return delta, nil, err
		}
		delta.updated++
		if !insured(cur.Status) && insured(r.status) {
			enrolled = append(enrolled, enrollment.Enrollment{ResidentID: cur.ID, Village: r.village, Scheme: r.status,
				Source: enrollment.SourceImport, SourceID: w.importID, Day: w.today})
		}
	}
	if len(fresh) > 0 {
		sealed, err := seal(w.kr, fresh)
		if err != nil {
			return delta, nil, err
		}
		people := make([]roster.Imported, len(fresh))
		for i, r := range fresh {
			s := sealed[i]
			people[i] = roster.Imported{IDEnc: s.idEnc, IDBidx: r.idBidx, KeyID: s.keyID, Name: r.name, Gender: r.gender,
				Birth: r.birth, Village: r.village, Employed: r.employed.or(false), Land: r.land.or(false), Status: r.status}
			if r.phone != "" { // NULL without a phone
				people[i].PhoneEnc, people[i].PhoneBidx = s.phoneEnc, r.phoneBidx
			}
		}
		if err := roster.InsertFromImport(ctx, tx, people, now); err != nil {
			return delta, nil, err
		}
		delta.created += len(fresh)
	}

	// 4. The newly insured count once each as a new enrollment on the import date, in the
	// daily totals and conversions too (one statement each per batch).
	if len(enrolled) > 0 {
		n, err := w.enr.RecordBatch(ctx, tx, enrolled)
		if err != nil {
			return delta, nil, err
		}
		delta.enrolled += n
	}

	// 5. The batch's failed rows, and the running totals.
	if len(rowErrs) > 0 {
		args := make([]any, 0, len(rowErrs)*4)
		for _, e := range rowErrs {
			args = append(args, w.importID, e.Row, e.Field, e.Message)
		}
		if _, err := tx.ExecContext(ctx, database.MultiRow(Queries.Get("import-error-insert"), len(rowErrs)), args...); err != nil {
			return delta, nil, err
		}
	}
	t := w.totals
	t.add(delta)
	if _, err := tx.ExecContext(ctx, Queries.Get("import-progress"), t.done, t.failed, t.created, t.updated, t.unchanged,
		t.enrolled, now, w.importID); err != nil {
		return delta, nil, err
	}
	if err := tx.Commit(); err != nil {
		return delta, nil, err
	}
	return delta, rowErrs, nil
}

func bytesArgs(bs [][]byte) []any {
	out := make([]any, len(bs))
	for i, b := range bs {
		out[i] = b
	}
	return out
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
