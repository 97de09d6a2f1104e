package progress_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/event"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/progress"
	"github.com/canbao/canbao/internal/village"
)

// TestMonthlyListsTheMonthsEvents: the bulletin lists the events that start in its month with
// their check-ins and attributed enrollments, in the JSON and on the workbook's 集中宣传 sheet;
// the village figures are the same as without events.
func TestMonthlyListsTheMonthsEvents(t *testing.T) {
	db := seeded(t)
	ctx := context.Background()
	loc, _ := time.LoadLocation("Asia/Shanghai")
	clock := time.Date(2019, 9, 1, 8, 0, 0, 0, loc)
	svc := event.NewService(event.Deps{DB: db, Villages: village.NewStore(db), Audit: audit.New(db), Location: loc, AttributionDays: 30})
	svc.Now = func() time.Time { return clock }
	ac := audit.System("test")
	sept, err := svc.Create(ctx, ac, 1, event.Input{Title: "振兴村集中宣传", Kind: event.KindVillage, Place: "振兴村文化广场",
		StartsAt: time.Date(2019, 9, 20, 9, 0, 0, 0, loc), EndsAt: time.Date(2019, 9, 20, 12, 0, 0, 0, loc), VillageCodes: []string{"zhenxing"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(ctx, ac, 1, event.Input{Title: "十月集市宣传", Kind: event.KindMarket, Place: "罗东集市",
		StartsAt: time.Date(2019, 10, 1, 0, 30, 0, 0, loc), EndsAt: time.Date(2019, 10, 1, 11, 0, 0, 0, loc)}); err != nil {
		t.Fatal(err)
	}
	var person int64
	if err := db.Get(&person, `SELECT id FROM residents WHERE village_code = 'zhenxing' AND status = 'unenrolled' ORDER BY id LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	res, err := db.Exec(`INSERT INTO resident_accounts (openid, resident_id, created_at, last_login_at) VALUES ('o-bulletin', ?, ?, ?)`, person, database.Now(), database.Now())
	if err != nil {
		t.Fatal(err)
	}
	account, _ := res.LastInsertId()
	clock = time.Date(2019, 9, 20, 10, 0, 0, 0, loc)
	if _, err := svc.CheckIn(ctx, ac, account, sept.Scene); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO enrollments (resident_id, village_code, scheme, source, enrolled_on, created_at) VALUES (?, 'zhenxing', 'resident_pension', 'visit', '2019-09-25', ?)`,
		person, database.Now()); err != nil {
		t.Fatal(err)
	}
	before, err := progress.NewStore(db).ComputeMonthly(ctx, day("2019-09-01"), day("2019-09-30"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(before.Events) != 0 {
		t.Fatalf("a store without an event source lists %d events", len(before.Events))
	}
	s := progress.NewStore(db).WithEvents(svc)
	m, err := s.ComputeMonthly(ctx, day("2019-09-01"), day("2019-09-30"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Events) != 1 || m.Events[0].ID != sept.ID || m.Events[0].CheckedIn != 1 || m.Events[0].Enrolled != 1 || m.Events[0].Registered != 0 {
		t.Fatalf("events %+v", m.Events)
	}
	if a, b := js(t, m.Villages, m.Total), js(t, before.Villages, before.Total); a != b {
		t.Fatal("the events section changed the village figures")
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
	for cell, want := range map[string]string{"A1": "2019年9月集中宣传活动", "A4": "振兴村集中宣传", "B4": "进村宣传", "C4": "振兴村文化广场",
		"D4": "2019-09-20 09:00", "E4": "1", "F4": "0", "G4": "1", "A5": "合计", "E5": "1"} {
		if got, _ := f.GetCellValue("集中宣传", cell); got != want {
			t.Errorf("集中宣传!%s = %q, want %q", cell, got, want)
		}
	}
	oct, err := s.ComputeMonthly(ctx, day("2019-10-01"), day("2019-10-31"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(oct.Events) != 1 || oct.Events[0].Title != "十月集市宣传" { // 00:30 Shanghai on 1 October is still 30 September in UTC
		t.Fatalf("October %+v", oct.Events)
	}
}

func js(t *testing.T, v ...any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
