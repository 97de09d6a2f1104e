// Package enrollment records new enrollments (新增参保): a person counts once, on the day a
// registration was confirmed, an import showed them insured, or a visit found them enrolled.
// Every write goes through here, so the aggregates that progress reports read (the per-village
// daily totals, enrollment_daily, and running totals, enrollment_totals) stay equal to the rows
// they sum: they change in the same transaction as the enrollments rows.
package enrollment

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/platform/database"
)

//go:embed queries.sql
var queryFS embed.FS

// Queries are the package's named SQL, checked against the server at start-up.
var Queries = database.RegisterQueries("enrollment", queryFS, "queries.sql")

// Sources of a new enrollment.
const (
	SourceRegistration = "registration"
	SourceImport       = "import"
	SourceVisit        = "visit"
)

// Enrollment is one new enrollment.
type Enrollment struct {
	ResidentID int64
	Village    string
	Scheme     string
	Source     string
	SourceID   int64
	Day        time.Time // civil date in the business time zone, as 00:00 UTC
}

// Recorder records new enrollments and credits them to the campaigns that reached the
// person. Its business time zone and attribution window come from the configuration.
type Recorder struct {
	loc  *time.Location
	days int
}

// New builds a recorder for the business time zone loc (config business.timezone) and an
// attribution window of attributionDays whole days (config campaigns.attribution_days).
// It panics on a nil zone or a window under one day: both are programmer errors, checked
// when the configuration loads.
func New(loc *time.Location, attributionDays int) *Recorder {
	if loc == nil {
		panic("enrollment: nil time zone")
	}
	if attributionDays < 1 {
		panic("enrollment: attribution window under one day")
	}
	return &Recorder{loc: loc, days: attributionDays}
}

// Location is the business time zone the recorder reads days in.
func (r *Recorder) Location() *time.Location { return r.loc }

// AttributionDays is how long after being reached an enrollment counts as a campaign's
// conversion.
func (r *Recorder) AttributionDays() int { return r.days }

// Record adds the enrollment unless the person already counts; it reports whether it counted.
// It must run inside the transaction that changed the person's status.
func (r *Recorder) Record(ctx context.Context, tx *sqlx.Tx, e Enrollment) (bool, error) {
	n, err := r.RecordBatch(ctx, tx, []Enrollment{e})
	return n == 1, err
}

// batchMax bounds the statements of a batch (placeholders per statement).
const batchMax = 1000

// RecordBatch records many enrollments with a few statements per thousand (roster imports),
// inside the transaction that changed the people's status; it returns how many counted. A
// person already counted, or named twice, counts once.
func (r *Recorder) RecordBatch(ctx context.Context, tx *sqlx.Tx, es []Enrollment) (int, error) {
	seen := make(map[int64]bool, len(es))
	uniq := make([]Enrollment, 0, len(es))
	for _, e := range es {
		if seen[e.ResidentID] {
			continue
		}
		seen[e.ResidentID] = true
		e.Day = civil(e.Day)
		uniq = append(uniq, e)
	}
	counted := 0
	for start := 0; start < len(uniq); start += batchMax {
		n, err := r.recordChunk(ctx, tx, uniq[start:min(start+batchMax, len(uniq))])
		counted += n
		if err != nil {
			return counted, err
		}
	}
	return counted, nil
}

func (r *Recorder) recordChunk(ctx context.Context, tx *sqlx.Tx, es []Enrollment) (int, error) {
	ids := make([]any, len(es))
	for i, e := range es {
		ids[i] = e.ResidentID
	}
	var have []int64
	if err := tx.SelectContext(ctx, &have, database.ExpandIn(Queries.Get("enrollments-lock"), len(ids)), ids...); err != nil {
		return 0, database.Map(err)
	}
	already := make(map[int64]bool, len(have))
	for _, id := range have {
		already[id] = true
	}
	fresh := make([]Enrollment, 0, len(es))
	for _, e := range es {
		if !already[e.ResidentID] {
			fresh = append(fresh, e)
		}
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	fresh, err := insert(ctx, tx, fresh)
	if err != nil || len(fresh) == 0 {
		return 0, err
	}
	if err := bumpAll(ctx, tx, fresh); err != nil {
		return 0, err
	}
	if err := r.attribute(ctx, tx, fresh); err != nil {
		return 0, err
	}
	return len(fresh), nil
}

// insert adds the enrollments in one statement and returns them. If another transaction
// counted one of the people in the meantime, the statement fails as a whole; then they are
// added one by one and only those that went in are returned.
func insert(ctx context.Context, tx *sqlx.Tx, es []Enrollment) ([]Enrollment, error) {
	now := database.Now()
	args := make([]any, 0, len(es)*7)
	for _, e := range es {
		args = append(args, e.ResidentID, e.Village, e.Scheme, e.Source, e.SourceID, e.Day, now)
	}
	_, err := tx.ExecContext(ctx, database.MultiRow(Queries.Get("enrollment-insert"), len(es)), args...)
	if err == nil {
		return es, nil
	}
	if !database.IsDuplicate(err) {
		return nil, database.Map(err)
	}
	in := es[:0:0]
	for _, e := range es {
		_, err := tx.ExecContext(ctx, Queries.Get("enrollment-insert"), e.ResidentID, e.Village, e.Scheme, e.Source, e.SourceID, e.Day, now)
		if database.IsDuplicate(err) {
			continue
		}
		if err != nil {
			return nil, database.Map(err)
		}
		in = append(in, e)
	}
	return in, nil
}

// bumpAll adds the enrollments to the per-village daily totals and the per-village running
// totals, one statement each. Rows are written in (village, day) order, so that two batches
// lock the rows they share in the same order.
func bumpAll(ctx context.Context, tx *sqlx.Tx, es []Enrollment) error {
	type key struct {
		village string
		day     time.Time
	}
	per := map[key]int{}
	perVillage := map[string]int{}
	for _, e := range es {
		per[key{e.Village, e.Day}]++
		perVillage[e.Village]++
	}
	order := make([]key, 0, len(per))
	for k := range per {
		order = append(order, k)
	}
	sort.Slice(order, func(i, j int) bool {
		if order[i].village != order[j].village {
			return order[i].village < order[j].village
		}
		return order[i].day.Before(order[j].day)
	})
	args := make([]any, 0, len(order)*3)
	for _, k := range order {
		args = append(args, k.village, k.day, per[k])
	}
	if _, err := tx.ExecContext(ctx, database.MultiRow(Queries.Get("daily-add"), len(order)), args...); err != nil {
		return database.Map(err)
	}
	villages := make([]string, 0, len(perVillage))
	for v := range perVillage {
		villages = append(villages, v)
	}
	sort.Strings(villages)
	args = args[:0]
	for _, v := range villages {
		args = append(args, v, perVillage[v])
	}
	_, err := tx.ExecContext(ctx, database.MultiRow(Queries.Get("totals-add"), len(villages)), args...)
	return database.Map(err)
}

// window is the attribution window of an enrollment on day: from 00:00 attributionDays days
// before to the end of the day, in the business time zone, as UTC instants.
func (r *Recorder) window(day time.Time) (from, to time.Time) {
	y, m, d := day.Date()
	return time.Date(y, m, d-r.days, 0, 0, 0, 0, r.loc).UTC(), time.Date(y, m, d+1, 0, 0, 0, 0, r.loc).UTC()
}

// attribute credits each new enrollment to the latest campaign delivery that reached the
// person within the attribution window, by campaign, channel, village, age band and gender.
func (r *Recorder) attribute(ctx context.Context, tx *sqlx.Tx, es []Enrollment) error {
	ids := make([]any, 0, len(es)+2)
	var lo, hi time.Time
	for i, e := range es {
		ids = append(ids, e.ResidentID)
		from, to := r.window(e.Day)
		if i == 0 || from.Before(lo) {
			lo = from
		}
		if i == 0 || to.After(hi) {
			hi = to
		}
	}
	var ds []struct {
		ID       int64     `db:"id"`
		Resident int64     `db:"resident_id"`
		Campaign int64     `db:"campaign_id"`
		Channel  string    `db:"channel"`
		Village  string    `db:"village_code"`
		SentAt   time.Time `db:"sent_at"`
		Gender   string    `db:"gender"`
		Birth    time.Time `db:"birth_date"`
	}
	err := tx.SelectContext(ctx, &ds, database.ExpandIn(Queries.Get("deliveries-reaching"), len(es)), append(ids, lo, hi)...)
	if err != nil {
		return database.Map(err)
	}
	if len(ds) == 0 {
		return nil
	}
	byResident := make(map[int64]Enrollment, len(es))
	for _, e := range es {
		byResident[e.ResidentID] = e
	}
	now := database.Now()
	var args []any
	n := 0
	credited := map[int64]bool{}
	for _, d := range ds { // latest first for each person
		e := byResident[d.Resident]
		if credited[d.Resident] {
			continue
		}
		if from, to := r.window(e.Day); d.SentAt.Before(from) || !d.SentAt.Before(to) {
			continue
		}
		credited[d.Resident] = true
		args = append(args, d.Resident, d.ID, d.Campaign, d.Channel, d.Village, AgeBand(d.Birth, e.Day), d.Gender, e.Day, now)
		n++
	}
	if n == 0 {
		return nil
	}
	// A person converts once: an earlier conversion stays.
	_, err = tx.ExecContext(ctx, database.MultiRow(Queries.Get("conversions-insert"), n), args...)
	return database.Map(err)
}

// AgeBand groups ages as the guidance rule does: 16-29, 30-39, 40-44, 45-59, other. The age
// is idcard.AgeOn's, on the civil date on.
func AgeBand(birth, on time.Time) string {
	age := idcard.AgeOn(birth, on)
	switch {
	case age >= 16 && age <= 29:
		return "16-29"
	case age >= 30 && age <= 39:
		return "30-39"
	case age >= 40 && age <= 44:
		return "40-44"
	case age >= 45 && age <= 59:
		return "45-59"
	}
	return "other"
}

// civil is the calendar date of t (read in t's own location) at 00:00 UTC.
func civil(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Revoke removes the enrollment a source made (the city refused a registration); it reports
// whether there was one.
func Revoke(ctx context.Context, tx *sqlx.Tx, residentID int64, source string, sourceID int64) (bool, error) {
	var e struct {
		ID      int64     `db:"id"`
		Village string    `db:"village_code"`
		Day     time.Time `db:"enrolled_on"`
	}
	err := tx.GetContext(ctx, &e, Queries.Get("enrollment-of-source"), residentID, source, sourceID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, database.Map(err)
	}
	if _, err := tx.ExecContext(ctx, Queries.Get("enrollment-delete"), e.ID); err != nil {
		return false, database.Map(err)
	}
	return true, bump(ctx, tx, e.Village, e.Day, -1)
}

// bump moves one village's daily total and running total by delta.
func bump(ctx context.Context, tx *sqlx.Tx, village string, day time.Time, delta int) error {
	if _, err := tx.ExecContext(ctx, Queries.Get("daily-bump"), village, day, delta, delta); err != nil {
		return database.Map(err)
	}
	_, err := tx.ExecContext(ctx, Queries.Get("totals-bump"), village, delta, delta)
	return database.Map(err)
}
