package server_test

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/xuri/excelize/v2"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/config"
	"github.com/canbao/canbao/internal/creditcode"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/server/servertest"
	"github.com/canbao/canbao/internal/village"
	"github.com/canbao/canbao/internal/wechat/wechattest"
)

// readOnlyPOSTs compute or preview and change nothing.
var readOnlyPOSTs = map[string]bool{
	"POST /api/v1/eligibility":                 true,
	"POST /api/v1/admin/campaigns/:id/preview": true,
	"POST /api/v1/admin/campaigns/preview":     true,
}

func multipartBody(t *testing.T, name string, data []byte) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	return &b, mw.FormDataContentType()
}

// zh is n Chinese characters (3 bytes each in UTF-8): the longest allowed free text.
func zh(n int) string {
	const text = "全民参保扩面入户走访登记原因说明村居委会养老保险政策宣传"
	rs := []rune(text)
	out := make([]rune, n)
	for i := range out {
		out[i] = rs[i%len(rs)]
	}
	return string(out)
}

// TestEveryMutatingRouteWritesExactlyOneAuditRow calls every mutating route once, successfully,
// and checks the audit log grew by exactly one row each time. A new mutating route without a
// case here fails the test. Every free-text field carries its longest allowed Chinese text, so
// no audited action fails on a long multi-byte input, and every audit row is valid UTF-8.
func TestEveryMutatingRouteWritesExactlyOneAuditRow(t *testing.T) {
	fake := wechattest.NewServer(t, "wx-app", "wx-secret-0123456789")
	fake.AddCode("login-code", "oAUDIT-openid-aaaaaaaaaaaaaaaa", "c2Vzc2lvbi1rZXk=")
	env := servertest.New(t, func(c *config.Config) {
		c.WeChat.APIBase, c.WeChat.AppID, c.WeChat.Secret = fake.URL, "wx-app", "wx-secret-0123456789"
	})
	env.Exec(`INSERT INTO plans (id, code, title, base_year, quota, created_at) VALUES (1, 'p', '测试计划', 2019, 100, NOW(6))`)
	env.Exec(`INSERT INTO plan_targets VALUES (1, 'zhenxing', 300, 200, 100, 67), (1, 'luoxi', 150, 100, 50, 33)`)
	admin, _ := env.Staff(auth.RoleAdmin, "")
	staff, _ := env.Staff(auth.RoleStaff, "")
	vadmin, _ := env.Staff(auth.RoleVillageAdmin, "zhenxing")
	vol, _ := env.Staff(auth.RoleVolunteer, "zhenxing")
	resident, _ := env.Resident()
	resident3, _ := env.Resident()
	person, _ := env.AddResident(servertest.ResidentSpec{Village: "zhenxing", Phone: "13712340000"})
	employerCode := creditcode.Generate("91", "350583", "MA2Y0001")
	env.AddResident(servertest.ResidentSpec{Village: "zhenxing", Employed: true, Employer: "罗东鞋业有限公司", EmployerCode: employerCode})
	env.AllowPII["/api/v1/admin/residents/:id/reveal"] = true
	if _, err := auth.CreateStaffUser(servertest.Ctx(), env.DB, village.NewStore(env.DB), auth.NewStaffUser{Username: "auditee", Password: "Audit-Pass-2019", Role: auth.RoleStaff}); err != nil {
		t.Fatal(err)
	}
	y, m, d := time.Now().Date()
	idFor := func(seq int) string {
		return idcard.Generate("350583", time.Date(y-50, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -seq), seq, idcard.Male)
	}
	regBody := func(seq int) map[string]any {
		return map[string]any{"name": zh(30), "id_number": idFor(seq), "phone": "13800001111", "village_code": "zhenxing",
			"employed": false, "land_expropriated": false, "scheme": "resident_pension", "tier": 100}
	}
	var refresh string
	ids := map[string]string{}
	store := func(key string) func(*servertest.Response) {
		return func(r *servertest.Response) {
			var v struct{ ID int64 }
			r.JSON(t, &v)
			ids[key] = fmt.Sprint(v.ID)
		}
	}
	campaign := map[string]any{"name": zh(100), "segment": map[string]any{}, "channels": []string{"log"},
		"template": map[string]any{"text": "{{name}}" + zh(490)}, "schedule": map[string]any{
			"start_at": time.Now().Add(time.Hour).Format(time.RFC3339), "window": map[string]string{"from": "09:00", "to": "20:00"}}}
	ansFile := func() []byte {
		f := excelize.NewFile()
		_ = f.SetSheetRow("Sheet1", "A1", &[]any{"登记编号", "办理结果", "原因"})
		_ = f.SetSheetRow("Sheet1", "A2", &[]any{ids["reg1"], "已办理", ""})
		_ = f.SetSheetRow("Sheet1", "A3", &[]any{ids["reg3"], "未办理", zh(200)})
		var b bytes.Buffer
		_ = f.Write(&b)
		return b.Bytes()
	}
	type call struct {
		route  string // "METHOD /path/template"
		token  func() string
		path   func() string
		body   func() any
		upload func() []byte
		status int
		after  func(*servertest.Response)
	}
	tok := func(s string) func() string { return func() string { return s } }
	path := func(p string) func() string { return func() string { return p } }
	body := func(b any) func() any { return func() any { return b } }
	calls := []call{
		{route: "POST /api/v1/auth/staff", path: path("/api/v1/auth/staff"), body: body(map[string]string{"username": "auditee", "password": "Audit-Pass-2019"}), status: 200,
			after: func(r *servertest.Response) {
				var s struct {
					RefreshToken string `json:"refresh_token"`
				}
				r.JSON(t, &s)
				refresh = s.RefreshToken
			}},
		{route: "POST /api/v1/auth/refresh", path: path("/api/v1/auth/refresh"), body: func() any { return map[string]string{"refresh_token": refresh} }, status: 200},
		{route: "POST /api/v1/auth/wechat", path: path("/api/v1/auth/wechat"), body: body(map[string]string{"code": "login-code"}), status: 200},
		{route: "POST /api/v1/subscriptions", token: tok(resident), path: path("/api/v1/subscriptions"), body: body(map[string]any{"template_id": env.Config.WeChat.Templates()[0], "count": 1}), status: 201},
		{route: "POST /api/v1/registrations", token: tok(resident), path: path("/api/v1/registrations"), body: body(regBody(1)), status: 201, after: store("reg1")},
		{route: "POST /api/v1/admin/registrations/:id/confirm", token: tok(vadmin), path: func() string { return "/api/v1/admin/registrations/" + ids["reg1"] + "/confirm" }, status: 200},
		{route: "POST /api/v1/registrations", token: tok(resident3), path: path("/api/v1/registrations"), body: body(regBody(3)), status: 201, after: store("reg3")},
		{route: "POST /api/v1/admin/registrations/:id/confirm", token: tok(vadmin), path: func() string { return "/api/v1/admin/registrations/" + ids["reg3"] + "/confirm" }, status: 200},
		{route: "POST /api/v1/admin/city-answers", token: tok(admin), path: path("/api/v1/admin/city-answers"), upload: ansFile, status: 200},
		{route: "POST /api/v1/registrations", token: tok(resident), path: path("/api/v1/registrations"), body: body(regBody(2)), status: 201, after: store("reg2")},
		{route: "POST /api/v1/admin/registrations/:id/reject", token: tok(vadmin), path: func() string { return "/api/v1/admin/registrations/" + ids["reg2"] + "/reject" }, body: body(map[string]string{"reason": zh(200)}), status: 200},
		{route: "POST /api/v1/admin/residents/:id/reveal", token: tok(vadmin), path: path(fmt.Sprintf("/api/v1/admin/residents/%d/reveal", person)), body: body(map[string]string{"reason": zh(200)}), status: 200},
		{route: "POST /api/v1/admin/residents/:id/opt-out", token: tok(vadmin), path: path(fmt.Sprintf("/api/v1/admin/residents/%d/opt-out", person)), body: body(map[string]any{"opted_out": true, "reason": zh(200)}), status: 200},
		{route: "POST /api/v1/admin/visits", token: tok(vol), path: path("/api/v1/admin/visits"), body: body(map[string]any{"visits": []any{
			map[string]any{"client_id": uuid.NewString(), "resident_id": person, "visited_at": time.Now().Add(-time.Hour).Format(time.RFC3339), "outcome": "not_home", "note": zh(500)},
			map[string]any{"client_id": uuid.NewString(), "resident_id": person, "visited_at": time.Now().Add(-time.Minute).Format(time.RFC3339), "outcome": "agreed", "note": zh(500)}}}), status: 201},
		{route: "POST /api/v1/admin/imports", token: tok(admin), path: path("/api/v1/admin/imports"), upload: func() []byte {
			return []byte("身份证号码,姓名,村居,参保状态\n" + idFor(9) + "," + zh(30) + ",振兴村,未参保\n")
		}, status: 202},
		{route: "POST /api/v1/admin/policies", token: tok(staff), path: path("/api/v1/admin/policies"), body: body(map[string]any{"slug": "audit-test", "title": zh(30), "summary": zh(80), "body": zh(20000), "category": "faq"}), status: 201},
		{route: "PUT /api/v1/admin/policies/:slug", token: tok(staff), path: path("/api/v1/admin/policies/audit-test"), body: body(map[string]any{"title": zh(29) + "二", "summary": zh(80), "body": zh(19999) + "二", "category": "faq", "status": "published"}), status: 200},
		{route: "POST /api/v1/admin/targets/allocate", token: tok(admin), path: path("/api/v1/admin/targets/allocate"), body: body(map[string]any{"quota": 100, "milestones": map[string]float64{"2019": 0.8}, "method": "round"}), status: 200},
		{route: "POST /api/v1/admin/users", token: tok(admin), path: path("/api/v1/admin/users"), body: body(map[string]any{"username": "newbie", "password": "Fr1" + zh(125), "role": "volunteer", "village_code": "luoxi"}), status: 201, after: store("user")},
		{route: "PATCH /api/v1/admin/users/:id", token: tok(admin), path: func() string { return "/api/v1/admin/users/" + ids["user"] }, body: body(map[string]any{"disabled": true}), status: 200},
		{route: "POST /api/v1/admin/users/:id/password", token: tok(admin), path: func() string { return "/api/v1/admin/users/" + ids["user"] + "/password" }, body: body(map[string]any{"password": "An2" + zh(125)}), status: 204},
		{route: "POST /api/v1/admin/campaigns", token: tok(staff), path: path("/api/v1/admin/campaigns"), body: body(campaign), status: 201, after: store("campaign")},
		{route: "POST /api/v1/admin/campaigns/:id/schedule", token: tok(staff), path: func() string { return "/api/v1/admin/campaigns/" + ids["campaign"] + "/schedule" }, status: 200},
		{route: "POST /api/v1/admin/campaigns/:id/pause", token: tok(staff), path: func() string { return "/api/v1/admin/campaigns/" + ids["campaign"] + "/pause" }, status: 200},
		{route: "POST /api/v1/admin/campaigns/:id/resume", token: tok(staff), path: func() string { return "/api/v1/admin/campaigns/" + ids["campaign"] + "/resume" }, status: 200},
		{route: "POST /api/v1/admin/campaigns/:id/retry-failed", token: tok(staff), path: func() string { return "/api/v1/admin/campaigns/" + ids["campaign"] + "/retry-failed" }, status: 200},
		{route: "POST /api/v1/admin/campaigns/:id/cancel", token: tok(staff), path: func() string { return "/api/v1/admin/campaigns/" + ids["campaign"] + "/cancel" }, status: 200},
		{route: "POST /api/v1/admin/employers/:credit_code/referrals", token: tok(staff), path: path("/api/v1/admin/employers/" + employerCode + "/referrals"),
			body: body(map[string]any{"note": zh(1000)}), status: 201, after: store("referral")},
		{route: "PATCH /api/v1/admin/referrals/:id", token: tok(staff), path: func() string { return "/api/v1/admin/referrals/" + ids["referral"] },
			body: body(map[string]any{"status": "inspected", "note": zh(1000), "insured_count": 1}), status: 200},
		{route: "POST /api/v1/admin/events", token: tok(staff), path: path("/api/v1/admin/events"), body: body(map[string]any{"title": zh(40), "kind": "enterprise",
			"place": zh(60), "starts_at": time.Now().Add(-time.Hour).Format(time.RFC3339), "ends_at": time.Now().Add(time.Hour).Format(time.RFC3339),
			"village_codes": []string{"zhenxing", "luoxi"}, "employer_credit_code": "91350583MA2YXK0T38"}), status: 201,
			after: func(r *servertest.Response) {
				var v struct{ Scene string }
				r.JSON(t, &v)
				ids["scene"] = v.Scene
			}},
		{route: "POST /api/v1/events/checkin", token: tok(resident), path: path("/api/v1/events/checkin"), body: func() any { return map[string]string{"scene": ids["scene"]} }, status: 200},
		{route: "POST /api/v1/auth/logout", token: tok(vadmin), path: path("/api/v1/auth/logout"), status: 204},
	}
	covered := map[string]bool{}
	for _, c := range calls {
		var code int
		var resp *servertest.Response
		token := ""
		if c.token != nil {
			token = c.token()
		}
		if c.upload != nil {
			name := zh(60) + ".xlsx"
			if strings.Contains(c.route, "imports") {
				name = zh(80) + ".csv"
			}
			b, ct := multipartBody(t, name, c.upload())
			resp = env.Do(servertest.Request{Method: http.MethodPost, Path: c.path(), Token: token, Body: b.Bytes(),
				Header: map[string]string{"Content-Type": ct}})
			code = resp.Code
		} else {
			var b any
			if c.body != nil {
				b = c.body()
			}
			method := strings.SplitN(c.route, " ", 2)[0]
			resp = env.Do(servertest.Request{Method: method, Path: c.path(), Token: token, Body: b})
			code = resp.Code
		}
		if code != c.status {
			t.Fatalf("%s: %d %s", c.route, code, resp.Body)
		}
		if c.after != nil {
			c.after(resp)
		}
		// Rows of this request (a background import adds its own completion row later).
		rid := resp.Header.Get("X-Request-Id")
		if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE request_id = ?`, rid); rid == "" || n != 1 {
			t.Errorf("%s wrote %d audit rows (request %q), want exactly 1", c.route, n, rid)
		}
		covered[c.route] = true
	}
	for _, rt := range env.Server.Engine.Routes() {
		key := rt.Method + " " + rt.Path
		if rt.Method == http.MethodGet || readOnlyPOSTs[key] {
			continue
		}
		if !covered[key] {
			t.Errorf("mutating route %s has no audit case in this test", key)
		}
	}
	// Audit rows carry ids, never personal data; they are valid UTF-8, and free text the
	// audit keeps is there whole.
	var rows []string
	_ = env.DB.Select(&rows, `SELECT CONCAT_WS('|', actor_kind, COALESCE(actor_id, ''), role, ip, request_id, action, object_type, object_id, result, detail) FROM audit_log`)
	for _, r := range rows {
		if !utf8.ValidString(r) {
			t.Errorf("audit row is not valid UTF-8: %q", r)
		}
	}
	for action, want := range map[string]string{
		"resident.opt_out": "opted_out=true reason=" + zh(200),
		"resident.reveal":  "reason=" + zh(200),
	} {
		if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = ? AND detail = ?`, action, want); n != 1 {
			t.Errorf("%s: %d audit rows with the whole reason, want 1", action, n)
		}
	}
	var reg3 []string
	_ = env.DB.Select(&reg3, `SELECT CONCAT_WS('|', status, COALESCE(city_result, ''), COALESCE(city_reason, ''), COALESCE(reject_reason, '')) FROM registrations WHERE id = ?`, ids["reg3"])
	if want := "rejected|refused|" + zh(200) + "|社保中心反馈：" + zh(192) + "…"; len(reg3) != 1 || reg3[0] != want {
		t.Errorf("the city's refusal with a 200-character reason: registration %v, want %q", reg3, want)
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'registration.city_answers' AND detail = 'rows=2 processed=0 refused=1 failed=0'`); n != 1 {
		t.Errorf("city answers: the refusal with a 200-character reason did not apply")
	}
	for _, r := range rows {
		if strings.Contains(r, "oAUDIT") || strings.Contains(r, "13712340000") || strings.Contains(r, idFor(1)) {
			t.Errorf("audit row carries personal data: %s", r)
		}
	}
}

// TestBOLAMatrix: a zhenxing volunteer and village admin against luoxi's people, registrations
// and visits, and residents against each other's records: always 404 (or 403 where the role
// may not use the route at all), and lists never leak another village.
func TestBOLAMatrix(t *testing.T) {
	env := servertest.New(t)
	vol, _ := env.Staff(auth.RoleVolunteer, "zhenxing")
	vadmin, _ := env.Staff(auth.RoleVillageAdmin, "zhenxing")
	luoxiVol, _ := env.Staff(auth.RoleVolunteer, "luoxi")
	own, _ := env.AddResident(servertest.ResidentSpec{Village: "zhenxing"})
	other, _ := env.AddResident(servertest.ResidentSpec{Village: "luoxi"})
	env.AllowPII["/api/v1/admin/residents/:id/reveal"] = true
	resA, _ := env.Resident()
	resB, _ := env.Resident()
	y, m, d := time.Now().Date()
	reg := func(tok, village string, seq int) string {
		w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/registrations", Token: tok, Body: map[string]any{
			"name": "甲", "id_number": idcard.Generate("350583", time.Date(y-50, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -seq), seq, idcard.Female),
			"phone": "13800002222", "village_code": village, "employed": false, "land_expropriated": false, "scheme": "resident_pension", "tier": 200}})
		if w.Code != 201 {
			t.Fatalf("register: %d %s", w.Code, w.Body)
		}
		var r struct{ ID int64 }
		w.JSON(t, &r)
		return fmt.Sprint(r.ID)
	}
	regOther := reg(resB, "luoxi", 1)
	reg(resA, "zhenxing", 2)
	visitOther := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/visits", Token: luoxiVol, Body: map[string]any{
		"client_id": uuid.NewString(), "resident_id": other, "visited_at": time.Now().Add(-time.Hour).Format(time.RFC3339), "outcome": "not_home"}})
	if visitOther.Code != 201 {
		t.Fatalf("luoxi visit: %d %s", visitOther.Code, visitOther.Body)
	}
	cases := []struct {
		name, token, method, path string
		body                      any
		want                      int
	}{
		{"roster filter other village (vol)", vol, "GET", "/api/v1/admin/residents?village=luoxi", nil, 404},
		{"roster filter other village (vadmin)", vadmin, "GET", "/api/v1/admin/residents?village=luoxi", nil, 404},
		{"reveal other village", vadmin, "POST", fmt.Sprintf("/api/v1/admin/residents/%d/reveal", other), map[string]string{"reason": "核对信息"}, 404},
		{"reveal as volunteer", vol, "POST", fmt.Sprintf("/api/v1/admin/residents/%d/reveal", own), map[string]string{"reason": "核对信息"}, 403},
		{"registrations filter other village", vadmin, "GET", "/api/v1/admin/registrations?village=luoxi", nil, 404},
		{"confirm other village", vadmin, "POST", "/api/v1/admin/registrations/" + regOther + "/confirm", nil, 404},
		{"reject other village", vadmin, "POST", "/api/v1/admin/registrations/" + regOther + "/reject", map[string]string{"reason": "x"}, 404},
		{"visits filter other village (vol)", vol, "GET", "/api/v1/admin/visits?village=luoxi", nil, 404},
		{"visits filter other village (vadmin)", vadmin, "GET", "/api/v1/admin/visits?village=luoxi", nil, 404},
		{"visit another village's resident", vol, "POST", "/api/v1/admin/visits", map[string]any{"client_id": uuid.NewString(), "resident_id": other,
			"visited_at": time.Now().Add(-time.Hour).Format(time.RFC3339), "outcome": "agreed"}, 404},
		{"export as village admin", vadmin, "GET", "/api/v1/admin/exports/registrations?from=2026-01-01&to=2026-01-02", nil, 403},
		{"monthly report as village admin", vadmin, "GET", "/api/v1/admin/reports/monthly?month=2019-09", nil, 403},
		{"campaigns as village admin", vadmin, "GET", "/api/v1/admin/campaigns", nil, 403},
		{"resident on staff list", resA, "GET", "/api/v1/admin/registrations", nil, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if w := env.Do(servertest.Request{Method: c.method, Path: c.path, Token: c.token, Body: c.body}); w.Code != c.want {
				t.Fatalf("%d, want %d: %s", w.Code, c.want, w.Body)
			}
		})
	}
	// Lists scoped without a filter never show another village or another resident's records.
	for _, l := range []struct{ token, path, leak string }{
		{vol, "/api/v1/admin/residents?page_size=100", `"village_code":"luoxi"`},
		{vadmin, "/api/v1/admin/registrations?page_size=100", `"village_code":"luoxi"`},
		{vadmin, "/api/v1/admin/visits?page_size=100", `"village_code":"luoxi"`},
		{vol, fmt.Sprintf("/api/v1/admin/visits?resident_id=%d", other), `"resident_id"`},
		{vol, "/api/v1/admin/visit-tasks?page_size=100", fmt.Sprintf(`"resident_id":%d`, other)},
		{resA, "/api/v1/registrations/mine", `"village_code":"luoxi"`},
	} {
		w := env.Do(servertest.Request{Method: "GET", Path: l.path, Token: l.token})
		if w.Code != 200 || strings.Contains(string(w.Body), l.leak) {
			t.Errorf("%s leaked (%d): %s", l.path, w.Code, w.Body)
		}
	}
}
