package progress_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/server/servertest"
)

func withPlan(t *testing.T) *servertest.Env {
	env := servertest.New(t)
	env.Exec(`INSERT INTO plans (id, code, title, base_year, quota, created_at) VALUES (1, 'p', '测试计划', 2019, 100, NOW(6))`)
	env.Exec(`INSERT INTO plan_milestones (plan_id, year, ratio) VALUES (1, 2019, 0.8), (1, 2020, 1.0)`)
	env.Exec(`INSERT INTO plan_targets VALUES (1, 'zhenxing', 300, 200, 100, 67), (1, 'luoxi', 150, 100, 50, 33)`)
	env.Exec(`INSERT INTO plan_tasks VALUES (1, 'zhenxing', 2019, 53), (1, 'luoxi', 2019, 27), (1, 'zhenxing', 2020, 67), (1, 'luoxi', 2020, 33)`)
	return env
}

func TestProgressEndpointsScopeAndShapes(t *testing.T) {
	env := withPlan(t)
	admin, _ := env.Staff(auth.RoleAdmin, "")
	staff, _ := env.Staff(auth.RoleStaff, "")
	vadmin, _ := env.Staff(auth.RoleVillageAdmin, "luoxi")
	vol, _ := env.Staff(auth.RoleVolunteer, "luoxi")
	get := func(tok, path string) *servertest.Response {
		return env.Do(servertest.Request{Method: "GET", Path: path, Token: tok})
	}
	w := get(staff, "/api/v1/admin/progress?as_of=2019-09-30")
	if w.Code != 200 || !strings.Contains(string(w.Body), `"code":"zhenxing"`) || !strings.Contains(string(w.Body), `"total":{"population_16_59":450`) {
		t.Fatalf("staff progress: %d %s", w.Code, w.Body)
	}
	w = get(vadmin, "/api/v1/admin/progress?as_of=2019-09-30")
	if w.Code != 200 || strings.Contains(string(w.Body), "zhenxing") || !strings.Contains(string(w.Body), `"expansion_target":33`) {
		t.Fatalf("village admin sees only their row: %s", w.Body)
	}
	if w := get(vol, "/api/v1/admin/progress"); w.Code != 403 {
		t.Fatalf("volunteer: %d", w.Code)
	}
	if w := get(staff, "/api/v1/admin/progress?as_of=30/09/2019"); w.Code != 400 {
		t.Fatalf("bad date: %d", w.Code)
	}
	if w := get(vadmin, "/api/v1/admin/reports/monthly?month=2019-09"); w.Code != 403 {
		t.Fatalf("village admin monthly: %d", w.Code)
	}
	w = get(staff, "/api/v1/admin/reports/monthly?month=2019-09")
	if w.Code != 200 || !strings.Contains(string(w.Body), `"frozen":true`) || !strings.Contains(string(w.Body), `"behind_pace":["zhenxing","luoxi"]`) {
		t.Fatalf("monthly: %d %s", w.Code, w.Body)
	}
	for _, q := range []string{"month=2019-13", "month=", "month=2019-09&format=pdf", "month=2999-01"} {
		if w := get(staff, "/api/v1/admin/reports/monthly?"+q); w.Code != 400 {
			t.Errorf("%s: %d", q, w.Code)
		}
	}
	x := get(admin, "/api/v1/admin/reports/monthly?month=2019-09&format=xlsx")
	if x.Code != 200 || !strings.Contains(x.Header.Get("Content-Disposition"), "canbao-monthly-2019-09.xlsx") {
		t.Fatalf("xlsx: %d %v", x.Code, x.Header)
	}
	if _, err := excelize.OpenReader(bytes.NewReader(x.Body)); err != nil {
		t.Fatalf("xlsx does not open: %v", err)
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'report.export'`); n != 1 {
		t.Fatalf("export audit rows %d", n)
	}
	a := get(staff, "/api/v1/admin/reports/assessment?year=2019")
	if a.Code != 200 || !strings.Contains(string(a.Body), `"not_met":2`) || !strings.Contains(string(a.Body), `"final":true`) {
		t.Fatalf("assessment: %s", a.Body)
	}
	if w := get(staff, "/api/v1/admin/reports/assessment?year=2999"); w.Code != 400 {
		t.Fatalf("future year: %d", w.Code)
	}
}

func TestAllocateDryRunAndAdopt(t *testing.T) {
	env := withPlan(t)
	admin, _ := env.Staff(auth.RoleAdmin, "")
	staff, _ := env.Staff(auth.RoleStaff, "")
	post := func(tok string, b any) *servertest.Response {
		return env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/targets/allocate", Token: tok, Body: b})
	}
	req := map[string]any{"quota": 200, "milestones": map[string]float64{"2019": 0.5}, "method": "largest_remainder", "dry_run": true}
	w := post(admin, req)
	if w.Code != 200 || !strings.Contains(string(w.Body), `"expansion_target":133`) || !strings.Contains(string(w.Body), `"warnings":[]`) {
		t.Fatalf("dry run: %s", w.Body)
	}
	if n := env.Count(`SELECT expansion_target FROM plan_targets WHERE village_code = 'zhenxing'`); n != 67 {
		t.Fatal("a dry run changed the targets")
	}
	for _, bad := range []map[string]any{
		{"quota": 0, "milestones": map[string]float64{"2019": 0.5}, "method": "round"},
		{"quota": 10, "milestones": map[string]float64{"2019": 1.5}, "method": "round"},
		{"quota": 10, "milestones": map[string]float64{"nineteen": 0.5}, "method": "round"},
		{"quota": 10, "milestones": map[string]float64{}, "method": "round"},
		{"quota": 10, "milestones": map[string]float64{"2019": 0.5}, "method": "coin"},
	} {
		if w := post(admin, bad); w.Code != 400 {
			t.Errorf("%v: %d %s", bad, w.Code, w.Body)
		}
	}
	if w := post(staff, req); w.Code != 403 {
		t.Fatalf("staff allocating: %d", w.Code)
	}
	req["dry_run"], req["method"] = false, "round"
	w = post(admin, req)
	if w.Code != 200 {
		t.Fatalf("adopt: %d %s", w.Code, w.Body)
	}
	if n := env.Count(`SELECT expansion_target FROM plan_targets WHERE village_code = 'zhenxing'`); n != 133 {
		t.Fatalf("adopted target %d", n)
	}
	if n := env.Count(`SELECT task FROM plan_tasks WHERE village_code = 'zhenxing' AND year = 2019`); n != 67 {
		t.Fatalf("adopted task %d", n)
	}
	if n := env.Count(`SELECT quota FROM plans WHERE id = 1`); n != 200 {
		t.Fatalf("quota %d", n)
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'targets.adopt'`); n != 1 {
		t.Fatalf("audit %d", n)
	}
}

// Before any plan exists the reports and the allocation say so (404 NOT_FOUND, as the contract
// declares), and a plan without unenrolled people cannot be allocated over (422).
func TestReportsWithoutAPlan(t *testing.T) {
	env := servertest.New(t)
	admin, _ := env.Staff(auth.RoleAdmin, "")
	allocate := func() *servertest.Response {
		return env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/targets/allocate", Token: admin,
			Body: map[string]any{"quota": 100, "milestones": map[string]float64{"2019": 0.8}, "method": "round", "dry_run": true}})
	}
	for _, path := range []string{"/api/v1/admin/reports/monthly?month=2019-09", "/api/v1/admin/reports/assessment?year=2019"} {
		if w := env.Do(servertest.Request{Method: "GET", Path: path, Token: admin}); w.Code != 404 || w.ErrorCode() != "NOT_FOUND" {
			t.Errorf("%s without a plan: %d %s", path, w.Code, w.Body)
		}
	}
	if w := allocate(); w.Code != 404 || w.ErrorCode() != "NOT_FOUND" {
		t.Errorf("allocate without a plan: %d %s", w.Code, w.Body)
	}
	env.Exec(`INSERT INTO plans (id, code, title, base_year, quota, created_at) VALUES (1, 'p', '测试计划', 2019, 100, NOW(6))`)
	env.Exec(`INSERT INTO plan_targets VALUES (1, 'zhenxing', 300, 300, 0, 0), (1, 'luoxi', 150, 150, 0, 0)`)
	if w := allocate(); w.Code != 422 || w.ErrorCode() != "RULE_VIOLATION" {
		t.Errorf("allocate over nobody: %d %s", w.Code, w.Body)
	}
}
