package enrollment_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/dbtest"
)

func date(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestAgeBand(t *testing.T) {
	cases := []struct {
		birth, on, want string
	}{
		// The leap year before the birthday must not shift it: 30 on the day.
		{"1980-03-01", "2010-03-01", "30-39"},
		{"1980-03-01", "2010-02-28", "16-29"},
		{"1980-12-31", "2010-12-31", "30-39"},
		{"1981-01-01", "2010-12-31", "16-29"},
		// Born on 29 February: a year older on 1 March of common years, on 29 February of leap years.
		{"2000-02-29", "2016-02-28", "other"},
		{"2000-02-29", "2016-02-29", "16-29"},
		{"1996-02-29", "2026-02-28", "16-29"},
		{"1996-02-29", "2026-03-01", "30-39"},
		{"1984-02-29", "2024-02-28", "30-39"},
		{"1984-02-29", "2024-02-29", "40-44"},
		// Band edges: 15/16, 29/30, 39/40, 44/45, 59/60.
		{"2000-06-15", "2016-06-14", "other"},
		{"2000-06-15", "2016-06-15", "16-29"},
		{"2000-06-15", "2030-06-14", "16-29"},
		{"2000-06-15", "2030-06-15", "30-39"},
		{"2000-06-15", "2040-06-14", "30-39"},
		{"2000-06-15", "2040-06-15", "40-44"},
		{"2000-06-15", "2045-06-14", "40-44"},
		{"2000-06-15", "2045-06-15", "45-59"},
		{"2000-06-15", "2060-06-14", "45-59"},
		{"2000-06-15", "2060-06-15", "other"},
	}
	for _, c := range cases {
		if got := enrollment.AgeBand(date(c.birth), date(c.on)); got != c.want {
			t.Errorf("AgeBand(%s, %s) = %q, want %q", c.birth, c.on, got, c.want)
		}
	}
}

// env is a database with two villages and a few residents.
type env struct {
	t  *testing.T
	db *sqlx.DB
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db := dbtest.New(t)
	now := database.Now()
	if _, err := db.Exec(`INSERT INTO villages (code,name,town,sort_order,created_at) VALUES
		('zhenxing','振兴村','罗东镇',1,?),('luoxi','罗溪村','罗东镇',2,?)`, now, now); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, db: db}
}

// resident adds a synthetic person (no real personal data; the ciphertexts are random bytes).
func (e *env) resident(village, gender, birth string) int64 {
	e.t.Helper()
	enc, bidx := make([]byte, 40), make([]byte, 32)
	_, _ = rand.Read(enc)
	_, _ = rand.Read(bidx)
	now := database.Now()
	res, err := e.db.Exec(`INSERT INTO residents (id_number_enc, id_number_bidx, pii_key_id, name, gender, birth_date, village_code,
		status, source, created_at, updated_at) VALUES (?, ?, 'k1', '测试', ?, ?, ?, 'unenrolled', 'import', ?, ?)`,
		enc, bidx, gender, birth, village, now, now)
	if err != nil {
		e.t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	return id
}

// delivery records that campaign 7 reached a person by SMS at sentAt.
func (e *env) delivery(resident int64, village string, sentAt time.Time) int64 {
	e.t.Helper()
	now := database.Now()
	res, err := e.db.Exec(`INSERT INTO deliveries (campaign_id, run_id, resident_id, village_code, status, channel, sent_at, created_at, updated_at)
		VALUES (7, ?, ?, ?, 'sent', 'sms', ?, ?, ?)`, sentAt.UnixNano(), resident, village, sentAt.UTC(), now, now)
	if err != nil {
		e.t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	return id
}

func (e *env) batch(r *enrollment.Recorder, es []enrollment.Enrollment) int {
	e.t.Helper()
	var n int
	err := database.InTx(context.Background(), e.db, func(tx *sqlx.Tx) error {
		var err error
		n, err = r.RecordBatch(context.Background(), tx, es)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

type daily struct {
	Village string    `db:"village_code"`
	Day     time.Time `db:"enrolled_on"`
	N       int       `db:"enrolled"`
}

// consistent checks that enrollment_daily equals the enrollments it sums, and returns it.
func (e *env) consistent() map[string]int {
	e.t.Helper()
	var got, want []daily
	if err := e.db.Select(&got, `SELECT village_code, enrolled_on, enrolled FROM enrollment_daily WHERE enrolled <> 0 ORDER BY 1, 2`); err != nil {
		e.t.Fatal(err)
	}
	if err := e.db.Select(&want, `SELECT village_code, enrolled_on, COUNT(*) AS enrolled FROM enrollments GROUP BY 1, 2 ORDER BY 1, 2`); err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int{}
	for _, d := range got {
		out[d.Village+" "+d.Day.Format(time.DateOnly)] = d.N
	}
	if len(got) != len(want) {
		e.t.Fatalf("enrollment_daily %v, enrollments give %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			e.t.Fatalf("enrollment_daily %v, enrollments give %v", got, want)
		}
	}
	// The per-village running totals equal the enrollments too.
	type total struct {
		Village string `db:"village_code"`
		N       int    `db:"enrolled"`
	}
	var gotT, wantT []total
	if err := e.db.Select(&gotT, `SELECT village_code, enrolled FROM enrollment_totals WHERE enrolled <> 0 ORDER BY 1`); err != nil {
		e.t.Fatal(err)
	}
	if err := e.db.Select(&wantT, `SELECT village_code, COUNT(*) AS enrolled FROM enrollments GROUP BY 1 ORDER BY 1`); err != nil {
		e.t.Fatal(err)
	}
	if len(gotT) != len(wantT) {
		e.t.Fatalf("enrollment_totals %v, enrollments give %v", gotT, wantT)
	}
	for i := range gotT {
		if gotT[i] != wantT[i] {
			e.t.Fatalf("enrollment_totals %v, enrollments give %v", gotT, wantT)
		}
	}
	return out
}

func TestRecordBatchCountsEachPersonOnceAndKeepsTheDailyTotals(t *testing.T) {
	e := newEnv(t)
	r := enrollment.New(time.UTC, 30)
	a, b, c := e.resident("zhenxing", "male", "1980-03-01"), e.resident("zhenxing", "female", "1990-05-05"), e.resident("luoxi", "male", "1970-01-01")
	d1, d2 := date("2019-09-09"), date("2019-09-10")
	es := []enrollment.Enrollment{
		{ResidentID: a, Village: "zhenxing", Scheme: "resident_pension", Source: enrollment.SourceImport, SourceID: 1, Day: d1},
		{ResidentID: b, Village: "zhenxing", Scheme: "employee_pension", Source: enrollment.SourceImport, SourceID: 1, Day: d1},
		{ResidentID: a, Village: "zhenxing", Scheme: "resident_pension", Source: enrollment.SourceImport, SourceID: 1, Day: d1}, // twice in one batch
		{ResidentID: c, Village: "luoxi", Scheme: "resident_pension", Source: enrollment.SourceImport, SourceID: 1, Day: d2},
	}
	if n := e.batch(r, es); n != 3 {
		t.Fatalf("counted %d, want 3", n)
	}
	want := map[string]int{"zhenxing 2019-09-09": 2, "luoxi 2019-09-10": 1}
	if got := e.consistent(); len(got) != len(want) || got["zhenxing 2019-09-09"] != 2 || got["luoxi 2019-09-10"] != 1 {
		t.Fatalf("daily = %v, want %v", got, want)
	}
	// Again, and one by one: nobody counts twice.
	if n := e.batch(r, es); n != 0 {
		t.Errorf("again counted %d, want 0", n)
	}
	for _, x := range es {
		err := database.InTx(context.Background(), e.db, func(tx *sqlx.Tx) error {
			ok, err := r.Record(context.Background(), tx, x)
			if ok {
				t.Errorf("resident %d counted again", x.ResidentID)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := e.consistent(); len(got) != 2 || got["zhenxing 2019-09-09"] != 2 || got["luoxi 2019-09-10"] != 1 {
		t.Fatalf("daily after again = %v", got)
	}
	if n := e.batch(r, nil); n != 0 {
		t.Errorf("empty batch counted %d", n)
	}
	// A revoked enrollment leaves the daily and the running totals.
	err := database.InTx(context.Background(), e.db, func(tx *sqlx.Tx) error {
		ok, err := enrollment.Revoke(context.Background(), tx, b, enrollment.SourceImport, 1)
		if !ok && err == nil {
			t.Error("nothing revoked")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.consistent(); len(got) != 2 || got["zhenxing 2019-09-09"] != 1 {
		t.Fatalf("daily after revoke = %v", got)
	}
}

type conversion struct {
	Resident int64     `db:"resident_id"`
	Delivery int64     `db:"delivery_id"`
	Campaign int64     `db:"campaign_id"`
	Channel  string    `db:"channel"`
	Village  string    `db:"village_code"`
	AgeBand  string    `db:"age_band"`
	Gender   string    `db:"gender"`
	On       time.Time `db:"converted_on"`
}

func (e *env) conversions() map[int64]conversion {
	e.t.Helper()
	var cs []conversion
	if err := e.db.Select(&cs, `SELECT resident_id, delivery_id, campaign_id, channel, village_code, age_band, gender, converted_on FROM conversions`); err != nil {
		e.t.Fatal(err)
	}
	out := map[int64]conversion{}
	for _, c := range cs {
		out[c.Resident] = c
	}
	return out
}

// The attribution window is whole days of the configured zone, and as long as configured.
func TestAttributionUsesTheConfiguredZoneAndWindow(t *testing.T) {
	e := newEnv(t)
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	r := enrollment.New(ny, 10)
	day := date("2019-09-20")
	at := func(d string, h, m int) time.Time {
		x := date(d)
		return time.Date(x.Year(), x.Month(), x.Day(), h, m, 0, 0, ny)
	}
	late := e.resident("zhenxing", "male", "1980-03-01")      // reached 23:30 on the day in New York (next day in Shanghai)
	first := e.resident("luoxi", "female", "1985-01-01")      // reached 00:10 on the first day of the window
	before := e.resident("zhenxing", "male", "1990-01-01")    // reached 23:50 the day before the window
	tooLate := e.resident("zhenxing", "female", "1975-07-07") // reached 00:05 the day after
	latest := e.resident("luoxi", "male", "2000-02-29")       // reached twice: the later delivery gets the credit
	dLate := e.delivery(late, "zhenxing", at("2019-09-20", 23, 30))
	dFirst := e.delivery(first, "luoxi", at("2019-09-10", 0, 10))
	e.delivery(before, "zhenxing", at("2019-09-09", 23, 50))
	e.delivery(tooLate, "zhenxing", at("2019-09-21", 0, 5))
	e.delivery(latest, "luoxi", at("2019-09-12", 9, 0))
	dLatest := e.delivery(latest, "luoxi", at("2019-09-15", 9, 0))
	var es []enrollment.Enrollment
	for _, p := range []struct {
		id      int64
		village string
	}{{late, "zhenxing"}, {first, "luoxi"}, {before, "zhenxing"}, {tooLate, "zhenxing"}, {latest, "luoxi"}} {
		es = append(es, enrollment.Enrollment{ResidentID: p.id, Village: p.village, Scheme: "resident_pension",
			Source: enrollment.SourceImport, SourceID: 3, Day: day})
	}
	if n := e.batch(r, es); n != 5 {
		t.Fatalf("counted %d, want 5", n)
	}
	got := e.conversions()
	want := map[int64]conversion{
		late:   {Resident: late, Delivery: dLate, Campaign: 7, Channel: "sms", Village: "zhenxing", AgeBand: "30-39", Gender: "male", On: day},
		first:  {Resident: first, Delivery: dFirst, Campaign: 7, Channel: "sms", Village: "luoxi", AgeBand: "30-39", Gender: "female", On: day},
		latest: {Resident: latest, Delivery: dLatest, Campaign: 7, Channel: "sms", Village: "luoxi", AgeBand: "16-29", Gender: "male", On: day},
	}
	if len(got) != len(want) {
		t.Fatalf("conversions %+v, want %+v", got, want)
	}
	for id, w := range want {
		if g := got[id]; g != w {
			t.Errorf("conversion of %d = %+v, want %+v", id, g, w)
		}
	}
}

func TestNewRejectsAMissingZoneOrWindow(t *testing.T) {
	for _, f := range []func(){
		func() { enrollment.New(nil, 30) },
		func() { enrollment.New(time.UTC, 0) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("New did not panic")
				}
			}()
			f()
		}()
	}
}
