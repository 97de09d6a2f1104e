package progress_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/xuri/excelize/v2"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/progress"
	"github.com/canbao/canbao/internal/server/servertest"
	"github.com/canbao/canbao/internal/visit"
)

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

// reasonsFixture is a plan and visits recorded through the visit service on a fixed clock
// (10 October 2019). Hand-computed September 2019, each person by their latest visit:
//
//	zhenxing P1 09-03 refused cannot_afford, 09-20 refused unwilling  → unwilling
//	         P2 09-05 considering cannot_afford                      → cannot_afford
//	         P3 09-06 refused cannot_afford                          → cannot_afford
//	         P4 09-07 not_home                                       → visited, not staying out
//	         P5 09-08 refused, no reason                             → without reason
//	         P6 08-30 refused unwilling                              → August: not counted
//	luoxi    Q1 09-10 refused unable                                 → unable
//	         Q2 09-11 agreed                                         → visited, not staying out
//	         Q3 10-01 00:30 (30 September in UTC) refused unable     → October: not counted
//
// zhenxing: visited 5, staying out 4, without reason 1; unwilling 1, cannot_afford 2.
// luoxi: visited 2, staying out 1; unable 1. Town: visited 7, staying out 5, without reason 1;
// unwilling 1, unable 1, cannot_afford 2; main reasons 缴不起费 2, 不愿参保 1, 不能参保 1.
type reasonsFixture struct {
	env    *servertest.Env
	visits *visit.Service
	vols   map[string]*auth.Principal
	people map[string]int64
}

func newReasonsFixture(t *testing.T) *reasonsFixture {
	env := withPlan(t)
	f := &reasonsFixture{env: env, vols: map[string]*auth.Principal{}, people: map[string]int64{},
		visits: visit.NewService(env.DB, audit.New(env.DB), shanghai, enrollment.New(shanghai, 30), env.Keyring).
			WithClock(func() time.Time { return time.Date(2019, 10, 10, 12, 0, 0, 0, shanghai) })}
	for _, v := range []string{"zhenxing", "luoxi"} {
		_, id := env.Staff(auth.RoleVolunteer, v)
		f.vols[v] = &auth.Principal{Kind: auth.KindStaff, ID: id, Role: auth.RoleVolunteer, Village: v, Version: 1}
	}
	for _, p := range []string{"P1", "P2", "P3", "P4", "P5", "P6"} {
		f.people[p], _ = env.AddResident(servertest.ResidentSpec{Village: "zhenxing"})
	}
	for _, p := range []string{"Q1", "Q2", "Q3"} {
		f.people[p], _ = env.AddResident(servertest.ResidentSpec{Village: "luoxi"})
	}
	for _, v := range []struct{ who, village, at, outcome, reason string }{
		{"P1", "zhenxing", "2019-09-03 10:00", "refused", "cannot_afford"},
		{"P1", "zhenxing", "2019-09-20 10:00", "refused", "unwilling"},
		{"P2", "zhenxing", "2019-09-05 10:00", "considering", "cannot_afford"},
		{"P3", "zhenxing", "2019-09-06 10:00", "refused", "cannot_afford"},
		{"P4", "zhenxing", "2019-09-07 10:00", "not_home", ""},
		{"P5", "zhenxing", "2019-09-08 10:00", "refused", ""},
		{"P6", "zhenxing", "2019-08-30 10:00", "refused", "unwilling"},
		{"Q1", "luoxi", "2019-09-10 10:00", "refused", "unable"},
		{"Q2", "luoxi", "2019-09-11 10:00", "agreed", ""},
		{"Q3", "luoxi", "2019-10-01 00:30", "refused", "unable"},
	} {
		f.visit(t, v.who, v.village, v.at, v.outcome, v.reason)
	}
	return f
}

func (f *reasonsFixture) visit(t *testing.T, who, village, at, result, reason string) int64 {
	t.Helper()
	when, err := time.ParseInLocation("2006-01-02 15:04", at, shanghai)
	if err != nil {
		t.Fatal(err)
	}
	in := visit.Input{ClientID: uuid.NewString(), ResidentID: f.people[who], VisitedAt: when.Format(time.RFC3339), Outcome: result}
	if reason != "" {
		in.Reason = &reason
	}
	res, err := f.visits.Record(context.Background(), audit.System("test"), f.vols[village], []visit.Input{in}, false)
	if err != nil {
		t.Fatalf("visit %s %s: %v", who, at, err)
	}
	return res.Visits[0].ID
}

// line writes a row of the section compactly.
func line(r progress.ReasonFigures) string {
	var b strings.Builder
	fmt.Fprintf(&b, "visited=%d out=%d none=%d", r.Visited, r.StayingOut, r.WithoutReason)
	for _, c := range r.ByReason {
		fmt.Fprintf(&b, " %s=%d", c.Code, c.Count)
	}
	b.WriteString(" top:")
	for _, c := range r.TopReasons {
		fmt.Fprintf(&b, " %s=%d", c.Label, c.Count)
	}
	return b.String()
}

const (
	wantZhenxing = "visited=5 out=4 none=1 unwilling=1 unable=0 inconvenient=0 cannot_afford=2 top: 缴不起费=2 不愿参保=1"
	wantLuoxi    = "visited=2 out=1 none=0 unwilling=0 unable=1 inconvenient=0 cannot_afford=0 top: 不能参保=1"
	wantTown     = "visited=7 out=5 none=1 unwilling=1 unable=1 inconvenient=0 cannot_afford=2 top: 缴不起费=2 不愿参保=1 不能参保=1"
)

func checkSection(t *testing.T, what string, rs *progress.MonthlyReasons) {
	t.Helper()
	if rs == nil {
		t.Fatalf("%s: no reasons section", what)
	}
	if rs.From != "2019-09-01" || rs.To != "2019-09-30" || rs.Counting != "latest_visit_per_person" || len(rs.Villages) != 2 {
		t.Fatalf("%s: %+v", what, rs)
	}
	for _, c := range []struct{ got, want string }{
		{rs.Villages[0].Code + " " + line(rs.Villages[0].ReasonFigures), "zhenxing " + wantZhenxing},
		{rs.Villages[1].Code + " " + line(rs.Villages[1].ReasonFigures), "luoxi " + wantLuoxi},
		{line(rs.Total), wantTown},
	} {
		if c.got != c.want {
			t.Errorf("%s\n got %s\nwant %s", what, c.got, c.want)
		}
	}
}

// TestBulletinReasonsSectionFiguresAndFreeze: the closed month's bulletin carries the
// section with the hand-computed figures, in the JSON and on a sheet of its own in the
// workbook; the stored bulletin holds the section, and a visit logged late and dated in the
// closed month changes neither.
func TestBulletinReasonsSectionFiguresAndFreeze(t *testing.T) {
	f := newReasonsFixture(t)
	staff, _ := f.env.Staff(auth.RoleStaff, "")
	get := func(format string) *servertest.Response {
		w := f.env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/reports/monthly?month=2019-09&format=" + format, Token: staff})
		if w.Code != 200 {
			t.Fatalf("monthly %s: %d %s", format, w.Code, w.Body)
		}
		return w
	}
	var m progress.Monthly
	get("json").JSON(t, &m)
	if !m.Frozen {
		t.Fatal("September 2019 is closed: the bulletin should be frozen")
	}
	checkSection(t, "answer", m.Reasons)
	if m.Reasons.KnownBy != nil {
		t.Errorf("a section stored with its bulletin has no known_by: %v", m.Reasons.KnownBy)
	}
	var body []byte
	if err := f.env.DB.Get(&body, `SELECT body FROM monthly_reports WHERE month = '2019-09'`); err != nil {
		t.Fatal(err)
	}
	var stored progress.Monthly
	if err := json.Unmarshal(body, &stored); err != nil {
		t.Fatal(err)
	}
	checkSection(t, "stored", stored.Reasons)

	// A late visit dated in September: P4 refused, unable. The stored bulletin does not move.
	f.visit(t, "P4", "zhenxing", "2019-09-29 10:00", "refused", "unable")
	var again progress.Monthly
	get("json").JSON(t, &again)
	checkSection(t, "after a late visit", again.Reasons)

	x, err := excelize.OpenReader(bytes.NewReader(get("xlsx").Body))
	if err != nil {
		t.Fatal(err)
	}
	if sheets := strings.Join(x.GetSheetList(), ","); sheets != "通报,未参保原因分析" {
		t.Fatalf("sheets %s", sheets)
	}
	rows, err := x.GetRows("未参保原因分析")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"村（居）", "走访人数", "未参保人数（拒绝或考虑中）", "不愿参保", "不能参保", "不便参保", "缴不起费", "未注明原因", "主要原因"},
		{"振兴村", "5", "4", "1", "0", "0", "2", "1", "缴不起费 2人、不愿参保 1人"},
		{"罗溪村", "2", "1", "0", "1", "0", "0", "0", "不能参保 1人"},
		{"合计", "7", "5", "1", "1", "0", "2", "1", "缴不起费 2人、不愿参保 1人、不能参保 1人"},
	}
	if len(rows) != 7 || rows[0][0] != "2019年9月未参保原因分析" || !strings.Contains(rows[1][0], "2019-09-01 至 2019-09-30") {
		t.Fatalf("sheet rows %q", rows)
	}
	for i, w := range want {
		if got := strings.Join(rows[3+i], "|"); got != strings.Join(w, "|") {
			t.Errorf("sheet row %d\n got %s\nwant %s", 4+i, got, strings.Join(w, "|"))
		}
	}
}

// TestBulletinStoredBeforeTheSectionGetsItAsItStoodThen: a bulletin stored before the section
// existed is answered with the section computed from the visits recorded by the time it was
// stored (known_by), so a visit recorded later does not count; the stored row is not changed.
func TestBulletinStoredBeforeTheSectionGetsItAsItStoodThen(t *testing.T) {
	f := newReasonsFixture(t)
	staff, _ := f.env.Staff(auth.RoleStaff, "")
	ctx := context.Background()
	m, err := progress.NewStore(f.env.DB).WithLocation(shanghai).ComputeMonthly(ctx, time.Date(2019, 9, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2019, 9, 30, 0, 0, 0, 0, time.UTC), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	checkSection(t, "computed", m.Reasons)
	m.Frozen, m.Reasons = true, nil
	old, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(old, []byte(`"reasons"`)) {
		t.Fatal("the old-style body still has a reasons section")
	}
	var storedAt time.Time
	if err := f.env.DB.Get(&storedAt, `SELECT MAX(created_at) FROM visits`); err != nil {
		t.Fatal(err)
	}
	f.env.Exec(`INSERT INTO monthly_reports (plan_id, month, body, generated_at) VALUES (1, '2019-09', ?, ?)`, old, storedAt)
	// Recorded after the bulletin was stored (its created_at is later than generated_at).
	id := f.visit(t, "P4", "zhenxing", "2019-09-29 10:00", "refused", "unable")
	f.env.Exec(`UPDATE visits SET created_at = ? WHERE id = ?`, storedAt.Add(time.Second), id)

	w := f.env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/reports/monthly?month=2019-09", Token: staff})
	var got progress.Monthly
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	w.JSON(t, &got)
	checkSection(t, "old bulletin", got.Reasons)
	if got.Reasons.KnownBy == nil || !got.Reasons.KnownBy.Equal(storedAt) {
		t.Errorf("known_by %v, want %v", got.Reasons.KnownBy, storedAt)
	}
	var body []byte
	if err := f.env.DB.Get(&body, `SELECT body FROM monthly_reports WHERE month = '2019-09'`); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, old) {
		t.Error("answering an old bulletin changed its stored body")
	}
	// The live analysis does count the late visit: P4 is now refused, unable.
	w = f.env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/analysis/reasons?from=2019-09-01&to=2019-09-30&village=zhenxing", Token: staff})
	if w.Code != 200 || !strings.Contains(string(w.Body), `"totals":{"visits":7,"people":5,"staying_out":5,"without_reason":1}`) {
		t.Errorf("live analysis: %d %s", w.Code, w.Body)
	}
}
