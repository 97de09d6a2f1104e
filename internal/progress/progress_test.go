package progress_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/xuri/excelize/v2"

	"github.com/canbao/canbao/configs"
	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/dbtest"
	"github.com/canbao/canbao/internal/progress"
	"github.com/canbao/canbao/internal/rules"
	"github.com/canbao/canbao/internal/seed"
)

func seeded(t *testing.T) *sqlx.DB {
	t.Helper()
	db := dbtest.New(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	kr, err := pii.NewKeyring("k1", map[string][]byte{"k1": key}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	book, err := rules.Load(configs.Policy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seed.Demo(context.Background(), db, kr, book, seed.Options{BaselineOnly: true}); err != nil {
		t.Fatal(err)
	}
	return db
}

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

// enroll makes n unenrolled people of a village newly enrolled on a day, as a source would.
func enroll(t *testing.T, db *sqlx.DB, village, on, source string, n int) {
	t.Helper()
	var ids []int64
	if err := db.Select(&ids, `SELECT r.id FROM residents r LEFT JOIN enrollments e ON e.resident_id = r.id
		WHERE r.village_code = ? AND r.status = 'unenrolled' AND e.id IS NULL ORDER BY r.id LIMIT ?`, village, n); err != nil {
		t.Fatal(err)
	}
	err := database.InTx(context.Background(), db, func(tx *sqlx.Tx) error {
		for _, id := range ids {
			if _, err := tx.Exec(`UPDATE residents SET status = 'resident_pension' WHERE id = ?`, id); err != nil {
				return err
			}
			ok, err := enrollment.New(time.UTC, 30).Record(context.Background(), tx, enrollment.Enrollment{ResidentID: id, Village: village,
				Scheme: "resident_pension", Source: source, Day: day(on)})
			if err != nil {
				return err
			}
			if !ok {
				t.Errorf("resident %d did not count", id)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestProgressOnTheSeededDemoEqualsTheAnnex(t *testing.T) {
	db := seeded(t)
	s := progress.NewStore(db)
	r, err := s.Progress(context.Background(), day(seed.ReferenceDay))
	if err != nil {
		t.Fatal(err)
	}
	rows, total, _ := seed.Annex()
	if len(r.Villages) != len(rows) {
		t.Fatalf("%d rows", len(r.Villages))
	}
	for i, a := range rows {
		v := r.Villages[i]
		if v.Name != a.Village || v.Population != a.Population || v.Enrolled != a.Enrolled || v.Unenrolled != a.Unenrolled ||
			v.ExpansionTarget != a.ExpansionTarget || v.Task != a.Task2019 || v.NewEnrolled != 0 || *v.TaskRate != 0 {
			t.Errorf("%s: %+v vs annex %+v", a.Village, v, a)
		}
	}
	tr := r.Total
	if tr.Population != total.Population || tr.Enrolled != total.Enrolled || tr.Unenrolled != total.Unenrolled ||
		tr.ExpansionTarget != total.ExpansionTarget || tr.Task != total.Task2019 {
		t.Fatalf("total %+v vs annex %+v", tr, total)
	}
	// 2020's task is the whole target.
	r20, _ := s.Progress(context.Background(), day("2020-06-30"))
	if r20.Villages[0].Task != rows[0].ExpansionTarget || r20.Total.Task != 9777 {
		t.Fatalf("2020 task: %d / %d", r20.Villages[0].Task, r20.Total.Task)
	}
}

func TestProgressCountsEachEnrollmentOnceOnItsDayAndVillage(t *testing.T) {
	db := seeded(t)
	s := progress.NewStore(db)
	enroll(t, db, "zhenxing", "2019-08-05", enrollment.SourceRegistration, 3)
	enroll(t, db, "zhenxing", "2019-08-20", enrollment.SourceImport, 2)
	enroll(t, db, "luoxi", "2019-09-02", enrollment.SourceVisit, 4)
	// A second record of the same person does not count again.
	var someone int64
	_ = db.Get(&someone, `SELECT resident_id FROM enrollments LIMIT 1`)
	_ = database.InTx(context.Background(), db, func(tx *sqlx.Tx) error {
		ok, err := enrollment.New(time.UTC, 30).Record(context.Background(), tx, enrollment.Enrollment{ResidentID: someone, Village: "zhenxing", Scheme: "x", Source: "visit", Day: day("2019-09-09")})
		if ok || err != nil {
			t.Fatalf("counted twice: %v %v", ok, err)
		}
		return nil
	})
	at := func(d string) map[string]int {
		r, err := s.Progress(context.Background(), day(d))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{"total": r.Total.NewEnrolled}
		for _, v := range r.Villages {
			out[v.Code] = v.NewEnrolled
		}
		return out
	}
	for d, want := range map[string]map[string]int{
		"2019-08-04": {"zhenxing": 0, "luoxi": 0, "total": 0},
		"2019-08-05": {"zhenxing": 3, "luoxi": 0, "total": 3},
		"2019-08-31": {"zhenxing": 5, "luoxi": 0, "total": 5},
		"2019-09-30": {"zhenxing": 5, "luoxi": 4, "total": 9},
	} {
		got := at(d)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s %s: %d, want %d", d, k, got[k], v)
			}
		}
	}
	var daily, rowsN int
	_ = db.Get(&daily, `SELECT SUM(enrolled) FROM enrollment_daily`)
	_ = db.Get(&rowsN, `SELECT COUNT(*) FROM enrollments`)
	if daily != rowsN || rowsN != 9 {
		t.Fatalf("aggregate %d vs rows %d", daily, rowsN)
	}
}

func TestClosedMonthIsFrozen(t *testing.T) {
	db := seeded(t)
	s := progress.NewStore(db)
	ctx := context.Background()
	enroll(t, db, "zhenxing", "2019-08-05", enrollment.SourceRegistration, 10)
	aug := day("2019-08-01")
	first, err := s.Monthly(ctx, aug, day("2019-09-15"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !first.Frozen || first.AsOf != "2019-08-31" || first.Total.NewMonth != 10 {
		t.Fatalf("august: %+v", first.Total)
	}
	// A late correction dated in August does not rewrite the report already sent...
	enroll(t, db, "zhenxing", "2019-08-30", enrollment.SourceImport, 5)
	again, _ := s.Monthly(ctx, aug, day("2019-09-20"), time.Now())
	if again.Total.NewMonth != 10 || !again.GeneratedAt.Equal(first.GeneratedAt) {
		t.Fatalf("frozen month changed: %+v", again.Total)
	}
	// ...while a live computation sees it, and the current month is never stored.
	live, _ := s.ComputeMonthly(ctx, aug, day("2019-08-31"), time.Now())
	if live.Total.NewMonth != 15 {
		t.Fatalf("live: %d", live.Total.NewMonth)
	}
	sep, _ := s.Monthly(ctx, day("2019-09-01"), day("2019-09-20"), time.Now())
	if sep.Frozen {
		t.Fatal("the current month was frozen")
	}
	var stored int
	_ = db.Get(&stored, `SELECT COUNT(*) FROM monthly_reports`)
	if stored != 1 {
		t.Fatalf("stored reports: %d", stored)
	}
}

func TestMonthlyRankPaceAndXLSX(t *testing.T) {
	db := seeded(t)
	s := progress.NewStore(db)
	// zhenxing (task 842) enrolls 100 a week through September; luoxi nothing.
	for w := 0; w < 4; w++ {
		enroll(t, db, "zhenxing", day("2019-09-03").AddDate(0, 0, 7*w).Format(time.DateOnly), enrollment.SourceVisit, 100)
	}
	m, err := s.ComputeMonthly(context.Background(), day("2019-09-01"), day("2019-09-30"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]progress.MonthlyRow{}
	for _, r := range m.Villages {
		rows[r.Code] = r
	}
	z := rows["zhenxing"]
	if z.Rank != 1 || z.NewMonth != 400 || z.WeeklyPace != 100 || z.BehindPace {
		t.Fatalf("zhenxing %+v", z)
	}
	// 400 by 30 Sep at 100 a week: 442 to go = 31 days more.
	if z.ReachTaskOn == nil || *z.ReachTaskOn != "2019-10-31" || z.ProjectedYearEnd < 842 {
		t.Fatalf("projection %+v", z)
	}
	if l := rows["luoxi"]; !l.BehindPace || l.Rank != 2 || l.ReachTaskOn != nil {
		t.Fatalf("luoxi %+v", l)
	}
	if len(m.BehindPace) != 13 || m.Total.NewToDate != 400 || m.Total.Task != 7822 {
		t.Fatalf("behind %d, total %+v", len(m.BehindPace), m.Total)
	}

	data, err := progress.MonthlyXLSX(m)
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	title, _ := f.GetCellValue("通报", "A1")
	if !strings.Contains(title, "2019年9月") {
		t.Fatalf("title %q", title)
	}
	// Row 5 is rank 1: the numbers of the JSON.
	for cell, want := range map[string]string{"A5": "1", "B5": "振兴村", "C5": "400", "D5": "400", "E5": "1053", "F5": "842"} {
		if got, _ := f.GetCellValue("通报", cell); got != want {
			t.Errorf("%s = %q, want %q", cell, got, want)
		}
	}
	totalRow := 5 + len(m.Villages)
	if got, _ := f.GetCellValue("通报", "F"+strconv.Itoa(totalRow)); got != "7822" {
		t.Errorf("total task cell %q", got)
	}
	note, _ := f.GetCellValue("通报", "A"+strconv.Itoa(totalRow+2))
	if !strings.Contains(note, "罗溪村") || strings.Contains(note, "振兴村") {
		t.Errorf("behind-pace note %q", note)
	}
	zr, _ := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	hasChart := false
	for _, zf := range zr.File {
		hasChart = hasChart || strings.HasPrefix(zf.Name, "xl/charts/chart")
	}
	if !hasChart {
		t.Fatal("no chart in the workbook")
	}
}

func TestAssessment(t *testing.T) {
	db := seeded(t)
	s := progress.NewStore(db)
	enroll(t, db, "xinyuting", "2019-10-01", enrollment.SourceVisit, 3) // task 3: met
	enroll(t, db, "yinhexincheng", "2019-10-01", enrollment.SourceVisit, 39)
	a, err := s.Assess(context.Background(), 2019, day("2026-01-01"))
	if err != nil {
		t.Fatal(err)
	}
	met := map[string]bool{}
	for _, v := range a.Villages {
		met[v.Code] = v.Met
	}
	if !a.Final || a.Met != 1 || !met["xinyuting"] || met["yinhexincheng"] || a.AsOf != "2019-12-31" {
		t.Fatalf("%+v", a)
	}
	// 2020 asks for the whole target: 3 of 4 is not enough.
	a20, _ := s.Assess(context.Background(), 2020, day("2026-01-01"))
	for _, v := range a20.Villages {
		if v.Code == "xinyuting" && (v.Met || v.Task != 4) {
			t.Fatalf("2020 xinyuting %+v", v)
		}
	}
}

// TestBackdatedEnrollmentReachesTheLiveFigures: a late import dated in a closed month changes
// every live figure that spans that day at once (the current month's "to date", progress, a
// live computation of the closed month), while the closed month's stored bulletin stays as sent.
// The running totals and the day index are maintained in the enrollment's own transaction, so
// nothing cached can serve the sums from before it.
func TestBackdatedEnrollmentReachesTheLiveFigures(t *testing.T) {
	db := seeded(t)
	s := progress.NewStore(db)
	ctx := context.Background()
	enroll(t, db, "zhenxing", "2019-08-05", enrollment.SourceRegistration, 10)
	enroll(t, db, "zhenxing", "2019-09-02", enrollment.SourceVisit, 2)
	aug, sep, today := day("2019-08-01"), day("2019-09-01"), day("2019-09-20")
	frozen, err := s.Monthly(ctx, aug, today, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	before, err := s.Monthly(ctx, sep, today, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if before.Total.NewToDate != 12 || before.Total.NewMonth != 2 {
		t.Fatalf("before: %+v", before.Total)
	}
	enroll(t, db, "zhenxing", "2019-08-20", enrollment.SourceImport, 5) // backdated into August
	after, _ := s.Monthly(ctx, sep, today, time.Now())
	if after.Total.NewToDate != 17 || after.Total.NewMonth != 2 {
		t.Fatalf("september after the backdated import: %+v", after.Total)
	}
	p, _ := s.Progress(ctx, today)
	if p.Total.NewEnrolled != 17 {
		t.Fatalf("progress after the backdated import: %d", p.Total.NewEnrolled)
	}
	// "To date" on a day before the late one leaves it out; on a day after, it is in.
	for d, want := range map[string]int{"2019-08-19": 10, "2019-08-20": 15, "2019-09-01": 15, "2019-09-02": 17} {
		if p, _ := s.Progress(ctx, day(d)); p.Total.NewEnrolled != want {
			t.Errorf("progress on %s: %d, want %d", d, p.Total.NewEnrolled, want)
		}
	}
	if live, _ := s.ComputeMonthly(ctx, aug, day("2019-08-31"), time.Now()); live.Total.NewMonth != 15 || live.Total.NewToDate != 15 {
		t.Fatalf("august live: %+v", live.Total)
	}
	if again, _ := s.Monthly(ctx, aug, today, time.Now()); again.Total.NewMonth != 10 || !again.GeneratedAt.Equal(frozen.GeneratedAt) {
		t.Fatalf("the stored august bulletin changed: %+v", again.Total)
	}
}
