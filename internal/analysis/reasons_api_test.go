package analysis_test

import (
	"fmt"
	"testing"

	"github.com/canbao/canbao/internal/analysis"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/server/servertest"
)

func (f *fixture) get(tok, query string) (*servertest.Response, analysis.Report) {
	f.t.Helper()
	w := f.env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/analysis/reasons" + query, Token: tok})
	var r analysis.Report
	if w.Code == 200 {
		w.JSON(f.t, &r)
	}
	return w, r
}

// TestReasonsCountEachPersonsLatestVisit checks the whole answer against the hand-computed
// September fixture: each person's latest visit in the window counts once (several visits, a
// tie at the same minute, a visit before and after the window, a person who moved between
// villages), the window's ends are Asia/Shanghai days, ages are taken on the window's last day
// at every band edge, and the figures are split by village, age band and gender.
func TestReasonsCountEachPersonsLatestVisit(t *testing.T) {
	f := september(t)
	staff, _ := f.env.Staff(auth.RoleStaff, "")
	w, r := f.get(staff, "?from=2019-09-01&to=2019-09-30")
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if r.From != "2019-09-01" || r.To != "2019-09-30" || r.AgeOn != "2019-09-30" || r.Village != nil || r.Counting != "latest_visit_per_person" {
		t.Errorf("header: %+v", r)
	}
	if want := (analysis.Totals{Visits: 15, People: 11, StayingOut: 8, WithoutReason: 1}); r.Totals != want {
		t.Errorf("totals %+v, want %+v", r.Totals, want)
	}
	town := analysis.Group{People: r.Totals.People, StayingOut: r.Totals.StayingOut, WithoutReason: r.Totals.WithoutReason,
		ByOutcome: r.ByOutcome, ByReason: r.ByReason}
	if got, want := summary(town), "people=11 out=8 none=1 unwilling=2 unable=2 inconvenient=1 cannot_afford=2 | agreed=1 considering=3 refused=5 not_home=2"; got != want {
		t.Errorf("town\n got %s\nwant %s", got, want)
	}
	if r.ByReason[3].Code != "cannot_afford" || r.ByReason[3].Label != "缴不起费" || r.ByOutcome[3].Label != "拒绝" || len(r.ByOutcome) != 8 {
		t.Errorf("labels: %+v %+v", r.ByReason, r.ByOutcome)
	}
	want := map[string]map[string]string{
		"village": {
			"zhenxing": "people=5 out=4 none=1 unwilling=0 unable=1 inconvenient=1 cannot_afford=1 | considering=1 refused=3 not_home=1",
			"luoxi":    "people=6 out=4 none=0 unwilling=2 unable=1 inconvenient=0 cannot_afford=1 | agreed=1 considering=2 refused=2 not_home=1",
		},
		"age band": {
			"16-29": "people=4 out=4 none=0 unwilling=1 unable=2 inconvenient=0 cannot_afford=1 | considering=1 refused=3",
			"30-39": "people=2 out=1 none=1 unwilling=0 unable=0 inconvenient=0 cannot_afford=0 | agreed=1 considering=1",
			"40-44": "people=2 out=2 none=0 unwilling=1 unable=0 inconvenient=0 cannot_afford=1 | considering=1 refused=1",
			"45-59": "people=1 out=0 none=0 unwilling=0 unable=0 inconvenient=0 cannot_afford=0 | not_home=1",
			"other": "people=2 out=1 none=0 unwilling=0 unable=0 inconvenient=1 cannot_afford=0 | refused=1 not_home=1",
		},
		"gender": {
			"male":   "people=6 out=5 none=0 unwilling=2 unable=1 inconvenient=1 cannot_afford=1 | agreed=1 considering=1 refused=4",
			"female": "people=5 out=3 none=1 unwilling=0 unable=1 inconvenient=0 cannot_afford=1 | considering=2 refused=1 not_home=2",
		},
	}
	got := map[string]map[string]string{"village": byCode(r.ByVillage), "age band": byCode(r.ByAgeBand), "gender": byCode(r.ByGender)}
	for kind, rows := range want {
		if len(got[kind]) != len(rows) {
			t.Errorf("%s: rows %v", kind, got[kind])
		}
		for code, s := range rows {
			if got[kind][code] != s {
				t.Errorf("%s %s\n got %s\nwant %s", kind, code, got[kind][code], s)
			}
		}
	}
	if c := codes(r.ByVillage) + " " + codes(r.ByAgeBand) + " " + codes(r.ByGender); c != "zhenxing,luoxi 16-29,30-39,40-44,45-59,other male,female" {
		t.Errorf("row order %s", c)
	}
	if r.ByVillage[0].Label != "振兴村" || r.ByGender[1].Label != "女" || r.ByAgeBand[0].Label != "16-29岁" {
		t.Errorf("labels %q %q %q", r.ByVillage[0].Label, r.ByGender[1].Label, r.ByAgeBand[0].Label)
	}

	// Up to 19 September: A's latest visit is the one of the 10th, M's the one in zhenxing,
	// and ages are taken on the 19th (B is 29, E 59, Y 15, G 39).
	_, r = f.get(staff, "?from=2019-09-01&to=2019-09-19")
	if got, want := summary(r.ByVillage[0]), "people=5 out=5 none=1 unwilling=1 unable=1 inconvenient=1 cannot_afford=1 | considering=2 refused=3"; got != want {
		t.Errorf("zhenxing to the 19th\n got %s\nwant %s", got, want)
	}
	bands := map[string]int{}
	for _, g := range r.ByAgeBand {
		bands[g.Code] = g.People
	}
	if want := map[string]int{"16-29": 4, "30-39": 2, "40-44": 1, "45-59": 1, "other": 1}; !equal(bands, want) {
		t.Errorf("bands on the 19th %v, want %v", bands, want)
	}
}

func equal(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestReasonsScopeForVillageAdmins: a village admin gets their own village whatever the query
// says (another village is 404, as everywhere), staff can ask for one village, and a
// volunteer may not read the analysis.
func TestReasonsScopeForVillageAdmins(t *testing.T) {
	f := september(t)
	staff, _ := f.env.Staff(auth.RoleStaff, "")
	vadmin, _ := f.env.Staff(auth.RoleVillageAdmin, "luoxi")
	vol, _ := f.env.Staff(auth.RoleVolunteer, "luoxi")
	const luoxi = "people=6 out=4 none=0 unwilling=2 unable=1 inconvenient=0 cannot_afford=1 | agreed=1 considering=2 refused=2 not_home=1"
	for _, q := range []string{"?from=2019-09-01&to=2019-09-30", "?from=2019-09-01&to=2019-09-30&village=luoxi"} {
		w, r := f.get(vadmin, q)
		if w.Code != 200 || codes(r.ByVillage) != "luoxi" || summary(r.ByVillage[0]) != luoxi || r.Village == nil || *r.Village != "luoxi" {
			t.Fatalf("village admin %s: %d %s", q, w.Code, w.Body)
		}
		if r.Totals != (analysis.Totals{Visits: 7, People: 6, StayingOut: 4, WithoutReason: 0}) {
			t.Errorf("village admin totals %+v", r.Totals)
		}
		var ages, genders int
		for _, g := range r.ByAgeBand {
			ages += g.People
		}
		for _, g := range r.ByGender {
			genders += g.People
		}
		if ages != 6 || genders != 6 {
			t.Errorf("village admin's bands add up to %d, genders to %d", ages, genders)
		}
	}
	if w, _ := f.get(vadmin, "?from=2019-09-01&to=2019-09-30&village=zhenxing"); w.Code != 404 || w.ErrorCode() != "NOT_FOUND" {
		t.Errorf("village admin asking for another village: %d %s", w.Code, w.Body)
	}
	w, r := f.get(staff, "?from=2019-09-01&to=2019-09-30&village=luoxi")
	if w.Code != 200 || codes(r.ByVillage) != "luoxi" || summary(r.ByVillage[0]) != luoxi || r.Totals.People != 6 {
		t.Errorf("staff asking for luoxi: %d %s", w.Code, w.Body)
	}
	if w, _ := f.get(staff, "?from=2019-09-01&to=2019-09-30&village=nowhere"); w.Code != 400 || w.ErrorCode() != "VILLAGE_UNKNOWN" || w.ErrorField() != "village" {
		t.Errorf("unknown village: %d %s", w.Code, w.Body)
	}
	if w, _ := f.get(vol, "?from=2019-09-01&to=2019-09-30"); w.Code != 403 {
		t.Errorf("volunteer: %d", w.Code)
	}
}

// TestReasonsEmptyRangeAndBadInput: a window without visits answers every row with zeros;
// bad dates, a window that ends before it starts, after today or lasts over a year are 400
// with a Chinese message naming the field, and change nothing.
func TestReasonsEmptyRangeAndBadInput(t *testing.T) {
	f := september(t)
	admin, _ := f.env.Staff(auth.RoleAdmin, "")
	w, r := f.get(admin, "?from=2019-07-01&to=2019-07-31")
	if w.Code != 200 || r.Totals != (analysis.Totals{}) || codes(r.ByVillage) != "zhenxing,luoxi" || len(r.ByAgeBand) != 5 || len(r.ByGender) != 2 {
		t.Fatalf("empty range: %d %s", w.Code, w.Body)
	}
	for _, g := range append(append(r.ByVillage, r.ByAgeBand...), r.ByGender...) {
		if s := summary(g); s != "people=0 out=0 none=0 unwilling=0 unable=0 inconvenient=0 cannot_afford=0 |" {
			t.Errorf("empty range %s: %s", g.Code, s)
		}
	}

	checksum := func() string {
		var rows []struct {
			Table    string `db:"Table"`
			Checksum *int64 `db:"Checksum"`
		}
		if err := f.env.DB.Select(&rows, `CHECKSUM TABLE visits, residents, audit_log, monthly_reports, enrollments`); err != nil {
			t.Fatal(err)
		}
		out := ""
		for _, r := range rows {
			if r.Checksum == nil {
				t.Fatalf("no checksum for %s", r.Table)
			}
			out += fmt.Sprintf("%s=%d ", r.Table, *r.Checksum)
		}
		return out
	}
	before := checksum()
	for _, c := range []struct{ query, field, message string }{
		{"?from=2019-13-01&to=2019-09-30", "from", "日期格式应为 YYYY-MM-DD"},
		{"?from=2019-09-01&to=30/09/2019", "to", "日期格式应为 YYYY-MM-DD"},
		{"?from=1999-12-31&to=2000-01-31", "from", "日期须在 2000 年至 2100 年之间"},
		{"?from=2019-09-30&to=2019-09-01", "from", "开始日期不能晚于结束日期"},
		{"?from=2018-09-29&to=2019-09-30", "to", "统计时段最长 366 天，请缩短日期范围"},
		{"?to=2100-01-01", "to", "结束日期不能晚于今天"},
		{"?from=2019-09-01&to=2019-09-30&village=a%20b", "village", ""},
	} {
		w, _ := f.get(admin, c.query)
		var e struct {
			Error struct{ Code, Field, Message string }
		}
		if w.Code == 400 {
			w.JSON(t, &e)
		}
		if w.Code != 400 || e.Error.Code != "INVALID_INPUT" || e.Error.Field != c.field || (c.message != "" && e.Error.Message != c.message) {
			t.Errorf("%s: %d %s", c.query, w.Code, w.Body)
		}
	}
	if after := checksum(); after != before {
		t.Errorf("bad requests changed the data:\n%s\n%s", before, after)
	}
}
