package importer_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/creditcode"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/importer"
	"github.com/canbao/canbao/internal/server/servertest"
)

// multipartBody builds an upload with a file part and optional extra fields.
func multipartBody(t *testing.T, fileName string, content []byte, fields map[string]string) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.SetBoundary("canbao-test-boundary"); err != nil {
		t.Fatal(err)
	}
	if fileName != "" {
		fw, err := mw.CreateFormFile("file", fileName)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(content)
	}
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

func upload(env *servertest.Env, token, fileName string, content []byte, fields map[string]string, header map[string]string) *servertest.Response {
	body, ct := multipartBody(env.T.(*testing.T), fileName, content, fields)
	h := map[string]string{"Content-Type": ct}
	for k, v := range header {
		h[k] = v
	}
	return env.Do(servertest.Request{Method: http.MethodPost, Path: importer.UploadRoute, Token: token, Body: body, Header: h})
}

// waitDone polls the import until it ends (at most 30 s).
func waitDone(t *testing.T, env *servertest.Env, token string, id int64) importer.Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		w := env.Do(servertest.Request{Method: http.MethodGet, Path: fmt.Sprintf("%s/%d", importer.UploadRoute, id), Token: token})
		if w.Code != http.StatusOK {
			t.Fatalf("GET import: %d %s", w.Code, w.Body)
		}
		var st importer.Status
		w.JSON(t, &st)
		if st.Status == importer.ImportCompleted || st.Status == importer.ImportFailed {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("import %d still %s after 30 s", id, st.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAPIImportRoster(t *testing.T) {
	env := servertest.New(t)
	admin, adminID := env.Staff(auth.RoleAdmin, "")
	m := mixedRoster()

	w := upload(env, admin, "花名册.csv", csvOf(m.rows), nil, nil)
	if w.Code != http.StatusAccepted {
		t.Fatalf("POST: %d %s", w.Code, w.Body)
	}
	var created struct{ ID int64 }
	w.JSON(t, &created)
	if created.ID <= 0 || w.Header.Get("Location") != fmt.Sprintf("%s/%d", importer.UploadRoute, created.ID) {
		t.Fatalf("answer %s, Location %q", w.Body, w.Header.Get("Location"))
	}
	st := waitDone(t, env, admin, created.ID)
	if st.Status != importer.ImportCompleted || st.RowsTotal != m.wantTotal || st.RowsDone != m.wantTotal ||
		st.RowsFailed != m.wantFailed || st.RowsCreated != 5 || st.Error != nil || st.Format != "csv" || st.FinishedAt == nil {
		t.Errorf("status = %+v", st)
	}
	if got := errorPairs(st.Errors); !slices.Equal(got, m.wantErrors) {
		t.Errorf("errors = %v, want %v", got, m.wantErrors)
	}
	if n := env.Count(`SELECT COUNT(*) FROM residents WHERE source = 'import'`); n != 5 {
		t.Errorf("%d residents", n)
	}
	if n := env.Count(`SELECT COUNT(*) FROM roster_imports WHERE id = ? AND created_by = ?`, created.ID, adminID); n != 1 {
		t.Error("created_by not the admin")
	}

	// The error report.
	w = env.Do(servertest.Request{Method: http.MethodGet, Path: fmt.Sprintf("%s/%d/errors.xlsx", importer.UploadRoute, created.ID), Token: admin})
	if w.Code != http.StatusOK || !strings.Contains(w.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("errors.xlsx: %d %v", w.Code, w.Header)
	}
	f, err := excelize.OpenReader(bytes.NewReader(w.Body))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.GetRows(f.GetSheetList()[0])
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+m.wantFailed || !slices.Equal(rows[0], []string{"行号", "列", "错误说明"}) {
		t.Fatalf("report rows = %v", rows)
	}
	if !slices.Equal(rows[1][:2], []string{"4", "身份证号码"}) || !slices.Equal(rows[7], []string{"10", "身份证号码", "与第 2 行身份证号码重复"}) {
		t.Errorf("report = %v", rows)
	}

	// Audit: create in the request, complete at the end, the export.
	for _, action := range []string{"import.create", "import.complete", "import.export_errors"} {
		if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = ? AND object_type = 'roster_import' AND object_id = ?
			AND actor_kind = 'staff' AND actor_id = ?`, action, fmt.Sprint(created.ID), adminID); n != 1 {
			t.Errorf("%d %s audit rows, want 1", n, action)
		}
	}

	// The same file again changes nothing.
	w = upload(env, admin, "花名册.csv", csvOf(m.rows), nil, nil)
	w.JSON(t, &created)
	st = waitDone(t, env, admin, created.ID)
	if st.RowsUnchanged != 5 || st.RowsCreated != 0 || st.RowsUpdated != 0 || st.RowsFailed != m.wantFailed {
		t.Errorf("second import = %+v", st)
	}
}

func TestAPIImportXLSXWithExplicitFormatAndIdempotencyKey(t *testing.T) {
	env := servertest.New(t)
	admin, _ := env.Staff(auth.RoleAdmin, "")
	m := mixedRoster()
	content := xlsxOf(t, m.rows)
	key := map[string]string{"Idempotency-Key": "import-xlsx-1"}
	w1 := upload(env, admin, "roster.bin", content, map[string]string{"format": "xlsx"}, key)
	if w1.Code != http.StatusAccepted {
		t.Fatalf("POST: %d %s", w1.Code, w1.Body)
	}
	var created struct{ ID int64 }
	w1.JSON(t, &created)
	st := waitDone(t, env, admin, created.ID)
	if st.Status != importer.ImportCompleted || st.Format != "xlsx" || st.RowsCreated != 5 || st.RowsFailed != m.wantFailed {
		t.Errorf("status = %+v", st)
	}
	// A retry with the same key and body gets the same answer and imports nothing new.
	w2 := upload(env, admin, "roster.bin", content, map[string]string{"format": "xlsx"}, key)
	if w2.Code != http.StatusAccepted || !bytes.Equal(w2.Body, w1.Body) {
		t.Errorf("retry: %d %s, first %s", w2.Code, w2.Body, w1.Body)
	}
	if n := env.Count(`SELECT COUNT(*) FROM roster_imports`); n != 1 {
		t.Fatalf("%d imports", n)
	}
}

func TestAPIImportFailureIsReported(t *testing.T) {
	env := servertest.New(t)
	admin, _ := env.Staff(auth.RoleAdmin, "")
	w := upload(env, admin, "roster.csv", []byte("姓名,身份证号码\n林志强,350583199001011234\n"), nil, nil)
	if w.Code != http.StatusAccepted {
		t.Fatalf("POST: %d %s", w.Code, w.Body)
	}
	var created struct{ ID int64 }
	w.JSON(t, &created)
	st := waitDone(t, env, admin, created.ID)
	if st.Status != importer.ImportFailed || st.Error == nil || !strings.Contains(*st.Error, "缺少必填列") {
		t.Errorf("status = %+v", st)
	}
	if n := env.Count(`SELECT COUNT(*) FROM residents`); n != 0 {
		t.Errorf("%d residents", n)
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'import.fail' AND object_id = ?`, fmt.Sprint(created.ID)); n != 1 {
		t.Errorf("%d import.fail rows", n)
	}
}

func TestAPIImportBadUploads(t *testing.T) {
	env := servertest.New(t)
	admin, _ := env.Staff(auth.RoleAdmin, "")
	csv := []byte("身份证号码,姓名,村居,参保状态\n")
	cases := []struct {
		name     string
		file     string
		content  []byte
		fields   map[string]string
		wantCode string
		field    string
	}{
		{"no file", "", nil, map[string]string{"format": "csv"}, "INVALID_INPUT", "file"},
		{"empty file", "roster.csv", []byte{}, nil, "INVALID_INPUT", "file"},
		{"unknown extension", "roster.pdf", csv, nil, "INVALID_INPUT", "file"},
		{"old xls", "roster.xls", []byte{0xD0, 0xCF, 0x11, 0xE0, 0, 0, 0, 0}, map[string]string{"format": "xlsx"}, "INVALID_INPUT", "file"},
		{"xlsx that is not", "roster.xlsx", csv, nil, "INVALID_INPUT", "file"},
		{"bad format", "roster.csv", csv, map[string]string{"format": "pdf"}, "INVALID_INPUT", "format"},
		{"unknown part", "roster.csv", csv, map[string]string{"village": "x"}, "UNKNOWN_FIELD", "village"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := upload(env, admin, c.file, c.content, c.fields, nil)
			if w.Code != http.StatusBadRequest || w.ErrorCode() != c.wantCode || w.ErrorField() != c.field {
				t.Errorf("%d %s", w.Code, w.Body)
			}
		})
	}
	w := env.Do(servertest.Request{Method: http.MethodPost, Path: importer.UploadRoute, Token: admin, Body: `{"file":"x"}`})
	if w.Code != http.StatusBadRequest {
		t.Errorf("JSON body: %d %s", w.Code, w.Body)
	}
	if n := env.Count(`SELECT COUNT(*) FROM roster_imports`); n != 0 {
		t.Errorf("%d imports recorded", n)
	}
}

func TestAPIImportRolesAndNotFound(t *testing.T) {
	env := servertest.New(t)
	admin, _ := env.Staff(auth.RoleAdmin, "")
	staff, _ := env.Staff(auth.RoleStaff, "")
	volunteer, _ := env.Staff(auth.RoleVolunteer, "zhenxing")
	villageAdmin, _ := env.Staff(auth.RoleVillageAdmin, "zhenxing")
	m := mixedRoster()
	for _, tok := range []string{staff, volunteer, villageAdmin} {
		if w := upload(env, tok, "roster.csv", csvOf(m.rows), nil, nil); w.Code != http.StatusForbidden {
			t.Errorf("POST as non-admin: %d", w.Code)
		}
		for _, path := range []string{"/1", "/1/errors.xlsx", "/template"} {
			if w := env.Do(servertest.Request{Method: http.MethodGet, Path: importer.UploadRoute + path, Token: tok}); w.Code != http.StatusForbidden {
				t.Errorf("GET %s as non-admin: %d", path, w.Code)
			}
		}
	}
	for _, path := range []string{"/999", "/999/errors.xlsx", "/abc"} {
		w := env.Do(servertest.Request{Method: http.MethodGet, Path: importer.UploadRoute + path, Token: admin})
		if w.Code != http.StatusNotFound && !(path == "/abc" && w.Code == http.StatusBadRequest) {
			t.Errorf("GET %s: %d %s", path, w.Code, w.Body)
		}
	}
	if n := env.Count(`SELECT COUNT(*) FROM roster_imports`); n != 0 {
		t.Errorf("%d imports", n)
	}
}

func TestAPITemplate(t *testing.T) {
	env := servertest.New(t)
	admin, _ := env.Staff(auth.RoleAdmin, "")
	header := []string{"身份证号码", "姓名", "性别", "手机号码", "村居", "是否就业", "是否被征地农民", "参保状态", "工作单位", "统一社会信用代码"}

	w := env.Do(servertest.Request{Method: http.MethodGet, Path: importer.UploadRoute + "/template", Token: admin})
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header.Get("Content-Type"), "application/vnd.openxmlformats") {
		t.Fatalf("template: %d %v", w.Code, w.Header)
	}
	f, err := excelize.OpenReader(bytes.NewReader(w.Body))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.GetRows(f.GetSheetList()[0])
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || !slices.Equal(rows[0], header) || rows[1][4] != "振兴村" || rows[1][3] != "" || !creditcode.Valid(rows[1][9]) {
		t.Fatalf("template rows = %v", rows)
	}

	// The CSV template holds a synthetic, valid ID number in clear: allowed for this route only.
	env.AllowPII[importer.UploadRoute+"/template"] = true
	w = env.Do(servertest.Request{Method: http.MethodGet, Path: importer.UploadRoute + "/template?format=csv", Token: admin})
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header.Get("Content-Type"), "text/csv") ||
		!bytes.HasPrefix(w.Body, []byte("\xEF\xBB\xBF"+strings.Join(header, ",")+"\r\n")) {
		t.Fatalf("csv template: %d %s", w.Code, w.Body)
	}
	if w := env.Do(servertest.Request{Method: http.MethodGet, Path: importer.UploadRoute + "/template?format=pdf", Token: admin}); w.Code != http.StatusBadRequest {
		t.Errorf("format=pdf: %d", w.Code)
	}

	// Importing the template as it is takes nothing: the example row is refused.
	w = upload(env, admin, "roster-template.xlsx", mustTemplate(t, env, admin), nil, nil)
	var created struct{ ID int64 }
	w.JSON(t, &created)
	st := waitDone(t, env, admin, created.ID)
	if st.Status != importer.ImportCompleted || st.RowsFailed != 1 || st.RowsCreated != 0 || len(st.Errors) != 1 || st.Errors[0].Field != "name" {
		b, _ := json.Marshal(st)
		t.Errorf("template import = %s", b)
	}
}

func mustTemplate(t *testing.T, env *servertest.Env, token string) []byte {
	t.Helper()
	w := env.Do(servertest.Request{Method: http.MethodGet, Path: importer.UploadRoute + "/template?format=xlsx", Token: token})
	if w.Code != http.StatusOK {
		t.Fatalf("template: %d", w.Code)
	}
	return w.Body
}

// An import that shows people newly insured counts them in the daily totals progress reads,
// per village, on the import date, and credits the campaign that reached them; importing the
// same file again counts nobody twice.
func TestAPIImportCountsNewEnrollmentsInProgress(t *testing.T) {
	env := servertest.New(t)
	env.Exec(`INSERT INTO plans (id, code, title, base_year, quota, created_at) VALUES (1, 'p', '测试计划', 2019, 100, NOW(6))`)
	env.Exec(`INSERT INTO plan_targets VALUES (1, 'zhenxing', 300, 200, 100, 67), (1, 'luoxi', 150, 100, 50, 33)`)
	admin, _ := env.Staff(auth.RoleAdmin, "")
	header := []string{"身份证号码", "姓名", "村居", "参保状态"}
	type person struct{ id, name, village, first, later string }
	people := []person{
		{idAged(30, idcard.Male, 1), "林一", "振兴村", "未参保", "城乡居民养老保险"},
		{idAged(40, idcard.Female, 2), "林二", "振兴村", "未参保", "企业职工养老保险"},
		{idAged(20, idcard.Male, 3), "林三", "振兴村", "不需参保", "城乡居民养老保险"},
		{idAged(50, idcard.Female, 4), "林四", "罗溪村", "未参保", "城乡居民养老保险"},
		{idAged(35, idcard.Male, 5), "林五", "罗溪村", "未参保", "企业职工基本养老保险"},
		{idAged(45, idcard.Female, 6), "林六", "罗溪村", "城乡居民养老保险", "城乡居民养老保险"}, // insured all along
		{idAged(25, idcard.Male, 7), "林七", "罗溪村", "未参保", "未参保"},
	}
	file := func(later bool) []byte {
		rows := [][]string{header}
		for _, p := range people {
			st := p.first
			if later {
				st = p.later
			}
			rows = append(rows, []string{p.id, p.name, p.village, st})
		}
		return csvOf(rows)
	}
	run := func(content []byte) importer.Status {
		t.Helper()
		w := upload(env, admin, "花名册.csv", content, nil, nil)
		if w.Code != http.StatusAccepted {
			t.Fatalf("POST: %d %s", w.Code, w.Body)
		}
		var created struct{ ID int64 }
		w.JSON(t, &created)
		st := waitDone(t, env, admin, created.ID)
		if st.Status != importer.ImportCompleted {
			t.Fatalf("import = %+v", st)
		}
		return st
	}
	type row struct {
		Code        string `json:"code"`
		NewEnrolled int    `json:"new_enrolled"`
	}
	progress := func() map[string]int {
		t.Helper()
		w := env.Do(servertest.Request{Method: http.MethodGet, Path: "/api/v1/admin/progress", Token: admin})
		if w.Code != http.StatusOK {
			t.Fatalf("progress: %d %s", w.Code, w.Body)
		}
		var r struct {
			Villages []row `json:"villages"`
			Total    row   `json:"total"`
		}
		w.JSON(t, &r)
		out := map[string]int{"total": r.Total.NewEnrolled}
		for _, v := range r.Villages {
			out[v.Code] = v.NewEnrolled
		}
		return out
	}
	daily := func() map[string]int {
		t.Helper()
		var ds []struct {
			Village string    `db:"village_code"`
			On      time.Time `db:"enrolled_on"`
			N       int       `db:"enrolled"`
		}
		if err := env.DB.Select(&ds, `SELECT village_code, enrolled_on, enrolled FROM enrollment_daily`); err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, d := range ds {
			out[d.Village+" "+d.On.Format(time.DateOnly)] += d.N
		}
		return out
	}

	if st := run(file(false)); st.RowsCreated != len(people) || st.RowsEnrolled != 0 {
		t.Fatalf("first import = %+v", st)
	}
	if got := progress(); got["total"] != 0 {
		t.Fatalf("progress after the first import = %v, want nobody new", got)
	}
	// 林一 was reached by an SMS campaign an hour ago.
	var lin1 int64
	if err := env.DB.Get(&lin1, `SELECT id FROM residents WHERE name = '林一'`); err != nil {
		t.Fatal(err)
	}
	env.Exec(`INSERT INTO deliveries (campaign_id, run_id, resident_id, village_code, status, channel, sent_at, created_at, updated_at)
		VALUES (9, 1, ?, 'zhenxing', 'sent', 'sms', ?, NOW(6), NOW(6))`, lin1, time.Now().UTC().Add(-time.Hour))

	later := file(true)
	if st := run(later); st.RowsEnrolled != 5 || st.RowsUpdated != 5 {
		t.Fatalf("later import = %+v, want 5 updated and enrolled", st)
	}
	wantDaily := map[string]int{"zhenxing " + today(): 3, "luoxi " + today(): 2}
	wantProgress := map[string]int{"zhenxing": 3, "luoxi": 2, "total": 5}
	check := func(when string) {
		t.Helper()
		if got := daily(); len(got) != len(wantDaily) || got["zhenxing "+today()] != 3 || got["luoxi "+today()] != 2 {
			t.Errorf("%s: enrollment_daily = %v, want %v", when, got, wantDaily)
		}
		if got := progress(); got["zhenxing"] != 3 || got["luoxi"] != 2 || got["total"] != 5 {
			t.Errorf("%s: progress new_enrolled = %v, want %v", when, got, wantProgress)
		}
		if n := env.Count(`SELECT COUNT(*) FROM enrollments WHERE source = 'import'`); n != 5 {
			t.Errorf("%s: %d enrollments, want 5", when, n)
		}
		if n := env.Count(`SELECT COUNT(*) FROM conversions WHERE resident_id = ? AND campaign_id = 9 AND channel = 'sms'
			AND village_code = 'zhenxing' AND age_band = '30-39' AND converted_on = ?`, lin1, today()); n != 1 {
			t.Errorf("%s: 林一's conversion missing", when)
		}
		if n := env.Count(`SELECT COUNT(*) FROM conversions`); n != 1 {
			t.Errorf("%s: %d conversions, want 1", when, n)
		}
	}
	check("after the later import")

	if st := run(later); st.RowsEnrolled != 0 || st.RowsUnchanged != len(people) {
		t.Errorf("same file again = %+v", st)
	}
	check("after importing the same file again")
}
