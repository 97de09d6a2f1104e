package registration_test

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/server/servertest"
)

// upload posts a workbook as multipart; servertest checks the answer against the contract.
func upload(t *testing.T, env *servertest.Env, token, path string, data []byte) *servertest.Response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "answer.xlsx")
	fw.Write(data)
	mw.Close()
	return env.Do(servertest.Request{Method: http.MethodPost, Path: path, Token: token, Body: body.Bytes(),
		Header: map[string]string{"Content-Type": mw.FormDataContentType()}})
}

func TestHandoverToTheCityAndBack(t *testing.T) {
	env := servertest.New(t)
	tok, _ := env.Resident()
	tok2, _ := env.Resident()
	admin, _ := env.Staff(auth.RoleAdmin, "")
	staff, _ := env.Staff(auth.RoleStaff, "")
	vadmin, _ := env.Staff(auth.RoleVillageAdmin, "zhenxing")

	// Two resident-pension registrations confirmed by the village, one flexible referral.
	var ids []int64
	for i, b := range []map[string]any{
		body(idAged(50, idcard.Male, 71), nil),
		body(idAged(52, idcard.Female, 72), map[string]any{"phone": "13922223333"}),
		body(idAged(30, idcard.Male, 73), map[string]any{"scheme": "employee_pension", "tier": nil}),
	} {
		tk := tok
		if i == 2 {
			tk = tok2
		}
		w := post(env, tk, b)
		if w.Code != 201 {
			t.Fatalf("register %d: %d %s", i, w.Code, w.Body)
		}
		var r struct{ ID int64 }
		w.JSON(t, &r)
		ids = append(ids, r.ID)
	}
	for _, id := range ids[:2] {
		if w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/registrations/" + strconv.FormatInt(id, 10) + "/confirm", Token: vadmin}); w.Code != 200 {
			t.Fatalf("confirm: %d %s", w.Code, w.Body)
		}
	}
	if n := env.Count(`SELECT COUNT(*) FROM enrollments`); n != 2 {
		t.Fatalf("enrollments before the hand-over: %d", n)
	}
	now := time.Now().In(time.FixedZone("CST", 8*3600))
	today, monthAgo := now.Format(time.DateOnly), now.AddDate(0, -1, 0).Format(time.DateOnly)
	export := func(token string) (*servertest.Response, *excelize.File) {
		env.AllowPII["/api/v1/admin/exports/registrations"] = token == admin
		w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/exports/registrations?from=" + monthAgo + "&to=" + today, Token: token})
		if w.Code != 200 {
			return w, nil
		}
		f, err := excelize.OpenReader(bytes.NewReader(w.Body))
		if err != nil {
			t.Fatal(err)
		}
		return w, f
	}
	ew, f := export(admin)
	if f == nil {
		t.Fatalf("admin export: %d %s", ew.Code, ew.Body)
	}
	rows, _ := f.GetRows("参保登记")
	if len(rows) != 4 || rows[0][0] != "登记编号" || !strings.Contains(strings.Join(rows[2], ","), "13922223333") {
		t.Fatalf("admin export rows: %v", rows)
	}
	_, fs := export(staff)
	srows, _ := fs.GetRows("参保登记")
	if strings.Contains(fmt.Sprint(srows), "13922223333") || !strings.Contains(fmt.Sprint(srows), "139****3333") {
		t.Fatalf("staff export not masked: %v", srows)
	}
	if w, _ := export(vadmin); w.Code != 403 {
		t.Fatalf("village admin export: %d", w.Code)
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'registration.export'`); n != 2 {
		t.Fatalf("export audit rows: %d", n)
	}
	if w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/exports/registrations?from=2020-01-01&to=2019-01-01", Token: admin}); w.Code != 400 {
		t.Fatalf("reversed range: %d", w.Code)
	}
	if w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/exports/registrations?from=" + monthAgo + "&to=" + today +
		"&village=" + url.QueryEscape("x'); DELETE FROM registrations; -- "), Token: admin}); w.Code != 400 ||
		w.ErrorCode() != "INVALID_INPUT" || w.ErrorField() != "village" {
		t.Fatalf("a village that is no code: %d %s", w.Code, w.Body)
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'registration.export'`); n != 2 {
		t.Fatalf("a refused export was audited: %d rows", n)
	}

	// The centre answers: #1 processed (already confirmed: unchanged), #2 refused, #3 (referral)
	// processed, plus a bad row and an unknown id.
	ans := excelize.NewFile()
	sh := ans.GetSheetName(0)
	_ = ans.SetSheetRow(sh, "A1", &[]any{"登记编号", "村（居）", "办理结果", "原因"})
	_ = ans.SetSheetRow(sh, "A2", &[]any{ids[0], "zhenxing", "已办理", ""})
	_ = ans.SetSheetRow(sh, "A3", &[]any{ids[1], "zhenxing", "未办理", "已在外地参保"})
	_ = ans.SetSheetRow(sh, "A4", &[]any{ids[2], "zhenxing", "已办理", ""})
	_ = ans.SetSheetRow(sh, "A5", &[]any{ids[0], "zhenxing", "也许", ""})
	_ = ans.SetSheetRow(sh, "A6", &[]any{999999, "zhenxing", "已办理", ""})
	var buf bytes.Buffer
	_ = ans.Write(&buf)
	if w := upload(t, env, staff, "/api/v1/admin/city-answers", buf.Bytes()); w.Code != 403 {
		t.Fatalf("staff uploading answers: %d", w.Code)
	}
	w := upload(t, env, admin, "/api/v1/admin/city-answers", buf.Bytes())
	if w.Code != 200 {
		t.Fatalf("answers: %d %s", w.Code, w.Body)
	}
	got := string(w.Body)
	for _, want := range []string{`"rows_total":5`, `"processed":1`, `"refused":1`, `"unchanged":1`, `"rows_failed":2`, `"row":5`, `"field":"办理结果"`, `"row":6`} {
		if !strings.Contains(got, want) {
			t.Errorf("answer result lacks %s: %s", want, got)
		}
	}
	status := func(id int64) string {
		var s string
		_ = env.DB.Get(&s, `SELECT status FROM registrations WHERE id = ?`, id)
		return s
	}
	if status(ids[0]) != "confirmed" || status(ids[1]) != "rejected" || status(ids[2]) != "confirmed" {
		t.Fatalf("statuses %s %s %s", status(ids[0]), status(ids[1]), status(ids[2]))
	}
	// #2's enrollment is withdrawn, #3's counted: still two, and the daily aggregate agrees.
	if n := env.Count(`SELECT COUNT(*) FROM enrollments`); n != 2 {
		t.Fatalf("enrollments after the answers: %d", n)
	}
	if n := env.Count(`SELECT COALESCE(SUM(enrolled), 0) FROM enrollment_daily`); n != 2 {
		t.Fatalf("daily aggregate: %d", n)
	}
	if n := env.Count(`SELECT COUNT(*) FROM residents r JOIN registrations g ON g.resident_id = r.id WHERE g.id = ? AND r.status = 'unenrolled'`, ids[1]); n != 1 {
		t.Fatal("a refused registration left the person insured")
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'registration.city_answers'`); n != 1 {
		t.Fatalf("answer audit rows: %d", n)
	}
	// The same answer file again changes nothing more.
	w = upload(t, env, admin, "/api/v1/admin/city-answers", buf.Bytes())
	if !strings.Contains(string(w.Body), `"processed":0`) || env.Count(`SELECT COUNT(*) FROM enrollments`) != 2 {
		t.Fatalf("second upload: %s", w.Body)
	}
}
