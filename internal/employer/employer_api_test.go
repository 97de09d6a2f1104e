package employer_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/creditcode"
	"github.com/canbao/canbao/internal/employer"
	"github.com/canbao/canbao/internal/platform/xlsxcheck"
	"github.com/canbao/canbao/internal/server/servertest"
)

var (
	codeA = creditcode.Generate("91", "350583", "MA2Y0001") // 罗东鞋业有限公司
	codeB = creditcode.Generate("92", "350583", "L0000001") // 个体工商户: 罗溪小吃店
	codeC = creditcode.Generate("93", "350583", "NB000003") // 合作社, everyone insured
)

type employerList struct {
	Items []struct {
		CreditCode        *string  `json:"credit_code"`
		Name              string   `json:"name"`
		EmployedUninsured int      `json:"employed_uninsured"`
		Villages          []string `json:"villages"`
		Case              *struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
		} `json:"case"`
	} `json:"items"`
	Total int `json:"total"`
}

type caseOut struct {
	ID           int64  `json:"id"`
	Status       string `json:"status"`
	CreditCode   string `json:"credit_code"`
	EmployerName string `json:"employer_name"`
	InsuredCount *int   `json:"insured_count"`
	Notes        []struct {
		Status string `json:"status"`
		Note   string `json:"note"`
	} `json:"notes"`
}

// roster puts people with employers in both villages:
// A: 3 in zhenxing, 1 in luoxi unenrolled employed, 1 insured, 1 aged 62 (not counted);
// B: 1 in luoxi; C: 2 insured (no row); unknown employer: 2 employed, 1 not employed (no row).
func roster(env *servertest.Env) {
	add := func(village, status string, age int, name, code string, employed bool) {
		env.AddResident(servertest.ResidentSpec{Village: village, Status: status, Age: age, Employed: employed, Employer: name, EmployerCode: code})
	}
	for range 3 {
		add("zhenxing", "unenrolled", 35, "罗东鞋业有限公司", codeA, true)
	}
	add("luoxi", "unenrolled", 40, "罗东鞋业有限公司", codeA, true)
	add("zhenxing", "employee_pension", 30, "罗东鞋业有限公司", codeA, true)
	add("zhenxing", "unenrolled", 62, "罗东鞋业有限公司", codeA, true)
	add("luoxi", "unenrolled", 45, "罗溪小吃店", codeB, true)
	add("luoxi", "employee_pension", 45, "罗溪农机合作社", codeC, true)
	add("luoxi", "employee_pension", 46, "罗溪农机合作社", codeC, true)
	add("zhenxing", "unenrolled", 28, "", "", true)
	add("luoxi", "unenrolled", 29, "", "", true)
	add("luoxi", "unenrolled", 29, "", "", false)
}

func TestEmployerListCountsScopesAndPages(t *testing.T) {
	env := servertest.New(t)
	roster(env)
	staff, _ := env.Staff(auth.RoleStaff, "")
	vadmin, _ := env.Staff(auth.RoleVillageAdmin, "zhenxing")
	vol, _ := env.Staff(auth.RoleVolunteer, "zhenxing")
	get := func(tok, q string) (*servertest.Response, employerList) {
		w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/employers" + q, Token: tok})
		var l employerList
		if w.Code == 200 {
			w.JSON(t, &l)
		}
		return w, l
	}
	w, l := get(staff, "")
	if w.Code != 200 || l.Total != 3 || len(l.Items) != 3 {
		t.Fatalf("staff list: %d %s", w.Code, w.Body)
	}
	a, unknown, b := l.Items[0], l.Items[1], l.Items[2]
	if a.CreditCode == nil || *a.CreditCode != codeA || a.Name != "罗东鞋业有限公司" || a.EmployedUninsured != 4 ||
		strings.Join(a.Villages, ",") != "luoxi,zhenxing" || a.Case != nil {
		t.Fatalf("employer A: %+v", a)
	}
	if unknown.CreditCode != nil || unknown.Name != "未知单位" || unknown.EmployedUninsured != 2 {
		t.Fatalf("unknown employer row: %+v", unknown)
	}
	if b.CreditCode == nil || *b.CreditCode != codeB || b.EmployedUninsured != 1 {
		t.Fatalf("employer B: %+v", b)
	}
	// A village admin sees their village's people only, whatever the query says.
	for _, q := range []string{"", "?village=zhenxing"} {
		_, vl := get(vadmin, q)
		if vl.Total != 2 || vl.Items[0].EmployedUninsured != 3 || strings.Join(vl.Items[0].Villages, ",") != "zhenxing" ||
			vl.Items[1].CreditCode != nil || vl.Items[1].EmployedUninsured != 1 {
			t.Fatalf("village admin %q: %+v", q, vl)
		}
	}
	for _, tc := range []struct {
		tok, q string
		code   int
		total  int
	}{
		{vadmin, "?village=luoxi", 404, 0}, {vol, "", 403, 0},
		{staff, "?village=luoxi", 200, 3}, {staff, "?uninsured_min=2", 200, 2}, {staff, "?uninsured_min=5", 200, 0},
		{staff, "?uninsured_min=0", 400, 0}, {staff, "?uninsured_min=x", 400, 0}, {staff, "?page_size=101", 400, 0},
		{staff, "?village=no%20such", 400, 0},
	} {
		if w, l := get(tc.tok, tc.q); w.Code != tc.code || l.Total != tc.total {
			t.Errorf("%s: %d total %d, want %d total %d: %s", tc.q, w.Code, l.Total, tc.code, tc.total, w.Body)
		}
	}
	// Paging: total counts every employer; the second page of size 2 holds the third.
	if _, pl := get(staff, "?page=2&page_size=2"); pl.Total != 3 || len(pl.Items) != 1 || *pl.Items[0].CreditCode != codeB {
		t.Fatalf("page 2: %+v", pl)
	}
	// An employer known by its code only.
	codeD := creditcode.Generate("91", "350583", "MA2Y0004")
	env.AddResident(servertest.ResidentSpec{Village: "luoxi", Age: 30, Employed: true, EmployerCode: codeD})
	if _, pl := get(staff, "?page=2&page_size=2"); pl.Total != 4 || len(pl.Items) != 2 || pl.Items[0].Name != "单位名称未登记" || *pl.Items[0].CreditCode != codeD {
		t.Fatalf("code-only employer: %+v", pl)
	}
}

func TestReferralLifecycle(t *testing.T) {
	env := servertest.New(t)
	roster(env)
	staff, staffID := env.Staff(auth.RoleStaff, "")
	vadmin, _ := env.Staff(auth.RoleVillageAdmin, "zhenxing")
	refer := func(tok, code string, body any) *servertest.Response {
		return env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/employers/" + code + "/referrals", Token: tok, Body: body})
	}
	move := func(id int64, body any) *servertest.Response {
		return env.Do(servertest.Request{Method: "PATCH", Path: fmt.Sprintf("/api/v1/admin/referrals/%d", id), Token: staff, Body: body})
	}
	// Lower case is normalised.
	w := refer(staff, strings.ToLower(codeA), map[string]string{"note": "12 名员工未参保，移交监察大队"})
	if w.Code != 201 {
		t.Fatalf("refer: %d %s", w.Code, w.Body)
	}
	var created struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
	}
	w.JSON(t, &created)
	if created.Status != "referred" || env.Count(`SELECT COUNT(*) FROM referral_cases WHERE credit_code = ? AND referred_count = 4 AND created_by = ?`, codeA, staffID) != 1 {
		t.Fatalf("created %+v", created)
	}
	// The employer list shows the open case.
	var l employerList
	env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/employers", Token: staff}).JSON(t, &l)
	if l.Items[0].Case == nil || l.Items[0].Case.ID != created.ID || l.Items[0].Case.Status != "referred" {
		t.Fatalf("list case: %+v", l.Items[0])
	}
	// A second referral while the case is open: 409, and nothing written.
	if w := refer(staff, codeA, map[string]string{"note": "再次移交"}); w.Code != 409 || w.ErrorCode() != "REFERRAL_OPEN" {
		t.Fatalf("double referral: %d %s", w.Code, w.Body)
	}
	if n := env.Count(`SELECT COUNT(*) FROM referral_cases`); n != 1 {
		t.Fatalf("cases after the double referral: %d", n)
	}
	if w := refer(vadmin, codeB, map[string]string{"note": "x"}); w.Code != 403 {
		t.Fatalf("village admin refers: %d", w.Code)
	}
	// Illegal moves: 409, nothing changes.
	for _, body := range []map[string]any{{"status": "resolved", "note": "跳过核查"}} {
		if w := move(created.ID, body); w.Code != 409 || w.ErrorCode() != "REFERRAL_STATE_CONFLICT" {
			t.Fatalf("skip to resolved: %d %s", w.Code, w.Body)
		}
	}
	if w := move(created.ID, map[string]any{"status": "inspected", "note": "已现场核查，责令整改", "insured_count": 3}); w.Code != 200 {
		t.Fatalf("inspect: %d %s", w.Code, w.Body)
	}
	if w := move(created.ID, map[string]any{"status": "inspected", "note": "again"}); w.Code != 409 || w.ErrorCode() != "REFERRAL_STATE_CONFLICT" {
		t.Fatalf("inspect twice: %d %s", w.Code, w.Body)
	}
	if w := refer(staff, codeA, map[string]string{"note": "再次移交"}); w.Code != 409 {
		t.Fatalf("referral of an inspected case's employer: %d", w.Code)
	}
	w = move(created.ID, map[string]any{"status": "resolved", "note": "已全部参保"})
	var done caseOut
	w.JSON(t, &done)
	if w.Code != 200 || done.Status != "resolved" || done.InsuredCount == nil || *done.InsuredCount != 3 || len(done.Notes) != 3 ||
		done.Notes[0].Status != "referred" || done.Notes[2].Note != "已全部参保" {
		t.Fatalf("resolve: %d %s", w.Code, w.Body)
	}
	if w := move(created.ID, map[string]any{"status": "inspected", "note": "back"}); w.Code != 409 {
		t.Fatalf("move back from resolved: %d", w.Code)
	}
	if w := move(999999, map[string]any{"status": "inspected", "note": "x"}); w.Code != 404 {
		t.Fatalf("unknown case: %d", w.Code)
	}
	var one caseOut
	w = env.Do(servertest.Request{Method: "GET", Path: fmt.Sprintf("/api/v1/admin/referrals/%d", created.ID), Token: staff})
	w.JSON(t, &one)
	if w.Code != 200 || one.Status != "resolved" || one.CreditCode != codeA || len(one.Notes) != 3 {
		t.Fatalf("one case: %d %s", w.Code, w.Body)
	}
	for path, code := range map[string]int{"/api/v1/admin/referrals/0": 404, "/api/v1/admin/referrals/x": 404, "/api/v1/admin/referrals/999999": 404} {
		if w := env.Do(servertest.Request{Method: "GET", Path: path, Token: staff}); w.Code != code {
			t.Errorf("%s: %d %s", path, w.Code, w.Body)
		}
	}
	if w := env.Do(servertest.Request{Method: "GET", Path: fmt.Sprintf("/api/v1/admin/referrals/%d", created.ID), Token: vadmin}); w.Code != 403 {
		t.Errorf("village admin reads a case: %d", w.Code)
	}
	// Resolved frees the employer: a new case opens.
	if w := refer(staff, codeA, map[string]string{"note": "复查仍有未参保"}); w.Code != 201 {
		t.Fatalf("new case after resolved: %d %s", w.Code, w.Body)
	}
	// Every change is audited: two creations, two moves.
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action IN ('referral.create', 'referral.move') AND result = 'success'`); n != 4 {
		t.Fatalf("audit rows: %d", n)
	}
	// The case list: open by default, all on request.
	var cl struct {
		Items []caseOut `json:"items"`
		Total int       `json:"total"`
	}
	env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/referrals", Token: staff}).JSON(t, &cl)
	if cl.Total != 1 || cl.Items[0].Status != "referred" {
		t.Fatalf("open cases: %+v", cl)
	}
	env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/referrals?status=all", Token: staff}).JSON(t, &cl)
	if cl.Total != 2 || len(cl.Items[1].Notes) != 3 {
		t.Fatalf("all cases: %+v", cl)
	}
	if w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/referrals?status=gone", Token: staff}); w.Code != 400 {
		t.Fatalf("bad status filter: %d", w.Code)
	}
}

// TestBadInputChangesNothing: every refused referral or move leaves the tables and the audit
// log as they were.
func TestBadInputChangesNothing(t *testing.T) {
	env := servertest.New(t)
	roster(env)
	staff, _ := env.Staff(auth.RoleStaff, "")
	w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/employers/" + codeB + "/referrals", Token: staff, Body: map[string]string{"note": "移交"}})
	var created struct{ ID int64 }
	w.JSON(t, &created)
	snapshot := func() string {
		return fmt.Sprint(env.Count(`SELECT COUNT(*) FROM referral_cases`), env.Count(`SELECT COUNT(*) FROM referral_notes`),
			env.Count(`SELECT COUNT(*) FROM audit_log`), env.Count(`SELECT COUNT(*) FROM referral_cases WHERE status = 'referred'`))
	}
	before := snapshot()
	swap := func(s string, i int, c byte) string { b := []byte(s); b[i] = c; return string(b) }
	wrongCheck := swap(codeA, 17, map[bool]byte{true: '1', false: '0'}[codeA[17] == '0'])
	for _, tc := range []struct {
		name, code string
		body       any
		status     int
		errCode    string
	}{
		{"length", codeA[:17], map[string]string{"note": "x"}, 400, "CREDIT_CODE_INVALID"},
		{"character", swap(codeA, 9, 'I'), map[string]string{"note": "x"}, 400, "CREDIT_CODE_INVALID"},
		{"authority", "B" + codeA[1:], map[string]string{"note": "x"}, 400, "CREDIT_CODE_INVALID"},
		{"kind", "94" + codeA[2:], map[string]string{"note": "x"}, 400, "CREDIT_CODE_INVALID"},
		{"region", codeA[:2] + "99" + codeA[4:], map[string]string{"note": "x"}, 400, "CREDIT_CODE_INVALID"},
		{"org check", swap(codeA, 16, map[bool]byte{true: '1', false: '0'}[codeA[16] == '0']), map[string]string{"note": "x"}, 400, "CREDIT_CODE_INVALID"},
		{"check char", wrongCheck, map[string]string{"note": "x"}, 400, "CREDIT_CODE_INVALID"},
		{"no note", codeA, map[string]string{"note": "  "}, 400, "INVALID_INPUT"},
		{"long note", codeA, map[string]string{"note": strings.Repeat("长", 1001)}, 400, "INVALID_INPUT"},
		{"unknown field", codeA, map[string]string{"note": "x", "status": "resolved"}, 400, "UNKNOWN_FIELD"},
		{"not on the roster", creditcode.Generate("91", "350583", "ABCD1234"), map[string]string{"note": "x"}, 404, "NOT_FOUND"},
	} {
		w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/employers/" + tc.code + "/referrals", Token: staff, Body: tc.body})
		if w.Code != tc.status || w.ErrorCode() != tc.errCode {
			t.Errorf("%s: %d %s", tc.name, w.Code, w.Body)
		}
		if tc.errCode == "CREDIT_CODE_INVALID" && (w.ErrorField() != "credit_code" || !strings.Contains(string(w.Body), "统一社会信用代码")) {
			t.Errorf("%s: %s", tc.name, w.Body)
		}
	}
	for _, body := range []any{
		map[string]any{"status": "resolved", "note": "x"},
		map[string]any{"status": "referred", "note": "x"},
		map[string]any{"status": "inspected", "note": ""},
		map[string]any{"status": "inspected", "note": "x", "insured_count": -1},
		map[string]any{"status": "inspected"},
	} {
		w := env.Do(servertest.Request{Method: "PATCH", Path: fmt.Sprintf("/api/v1/admin/referrals/%d", created.ID), Token: staff, Body: body})
		if w.Code != 400 && w.Code != 409 {
			t.Errorf("%v: %d %s", body, w.Code, w.Body)
		}
	}
	if after := snapshot(); after != before {
		t.Fatalf("refused requests changed something: %s → %s", before, after)
	}
}

func TestExportMasksUnlessAdminAsksAndAudits(t *testing.T) {
	env := servertest.New(t)
	id, number := env.AddResident(servertest.ResidentSpec{Village: "zhenxing", Age: 33, Employed: true, Name: "王小明", Employer: "罗东鞋业有限公司", EmployerCode: codeA})
	_ = id
	env.AddResident(servertest.ResidentSpec{Village: "luoxi", Age: 34, Employed: true, Name: "李小红", Employer: "罗东鞋业有限公司", EmployerCode: codeA})
	env.AddResident(servertest.ResidentSpec{Village: "luoxi", Age: 34, Employed: true, Name: "张未移", Employer: "罗溪小吃店", EmployerCode: codeB})
	staff, _ := env.Staff(auth.RoleStaff, "")
	admin, _ := env.Staff(auth.RoleAdmin, "")
	if w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/employers/" + codeA + "/referrals", Token: staff, Body: map[string]string{"note": "移交监察"}}); w.Code != 201 {
		t.Fatalf("refer: %d %s", w.Code, w.Body)
	}
	export := func(tok, q string) (*servertest.Response, *excelize.File) {
		env.AllowPII["/api/v1/admin/exports/referrals"] = strings.Contains(q, "full_ids=true")
		w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/exports/referrals" + q, Token: tok})
		if w.Code != 200 {
			return w, nil
		}
		if err := xlsxcheck.Check(bytes.NewReader(w.Body), int64(len(w.Body)), xlsxcheck.Default); err != nil {
			t.Fatalf("workbook refused by xlsxcheck: %v", err)
		}
		f, err := excelize.OpenReader(bytes.NewReader(w.Body))
		if err != nil {
			t.Fatal(err)
		}
		return w, f
	}
	masked := number[:4] + strings.Repeat("*", 10) + number[14:]
	for _, tc := range []struct{ tok, q string }{{staff, "?format=xlsx"}, {admin, ""}, {admin, "?full_ids=false"}} {
		_, f := export(tc.tok, tc.q)
		if f == nil {
			t.Fatalf("export %s failed", tc.q)
		}
		people, _ := f.GetRows("未参保人员")
		cases, _ := f.GetRows("移交案件")
		all := fmt.Sprint(people)
		if len(people) != 3 || !strings.Contains(all, masked) || strings.Contains(all, number) || strings.Contains(all, "张未移") ||
			!strings.Contains(all, "王小明") || !strings.Contains(all, "振兴村") {
			t.Fatalf("masked export %s: %v", tc.q, people)
		}
		if len(cases) != 2 || cases[1][2] != codeA || cases[1][3] != "已移交" || !strings.Contains(cases[1][6], "罗溪村") || !strings.Contains(cases[1][8], "移交监察") {
			t.Fatalf("cases sheet: %v", cases)
		}
	}
	if w, _ := export(staff, "?full_ids=true"); w.Code != 403 {
		t.Fatalf("staff asks for full IDs: %d", w.Code)
	}
	if w, _ := export(admin, "?format=csv"); w.Code != 400 {
		t.Fatalf("csv: %d", w.Code)
	}
	_, f := export(admin, "?full_ids=true")
	people, _ := f.GetRows("未参保人员")
	if !strings.Contains(fmt.Sprint(people), number) {
		t.Fatalf("admin full export: %v", people)
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'referral.export' AND detail LIKE '%full_ids=true%'`); n != 1 {
		t.Fatalf("full export audit rows: %d", n)
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'referral.export'`); n != 4 {
		t.Fatalf("export audit rows: %d", n)
	}
	// Over the limits: 422, and no audit row.
	restore := employer.SetExportLimits(5000, 1)
	if w, _ := export(admin, ""); w.Code != 422 || w.ErrorCode() != "RULE_VIOLATION" {
		t.Fatalf("too many people: %d %s", w.Code, w.Body)
	}
	restore()
	defer employer.SetExportLimits(0, 100000)()
	if w, _ := export(staff, ""); w.Code != 422 || w.ErrorCode() != "RULE_VIOLATION" {
		t.Fatalf("too many cases: %d %s", w.Code, w.Body)
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'referral.export'`); n != 4 {
		t.Fatalf("refused exports were audited: %d", n)
	}
}
