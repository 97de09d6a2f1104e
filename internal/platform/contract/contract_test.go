package contract_test

import (
	"bytes"
	"errors"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/canbao/canbao/internal/platform/contract"
)

func newValidator(t *testing.T) *contract.Validator {
	t.Helper()
	v, err := contract.New()
	if err != nil {
		t.Fatalf("contract.New: %v", err)
	}
	return v
}

func jsonHeader(extra ...string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Request-Id", "req-1")
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return h
}

func TestSpecLoadsAndValidates(t *testing.T) {
	v := newValidator(t)
	if got := v.Doc().OpenAPI; got != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", got)
	}
	if len(v.Doc().Servers) != 1 || v.Doc().Servers[0].URL != "/" {
		t.Errorf("servers = %v, want [{url: /}]", v.Doc().Servers)
	}
}

func TestRoutes(t *testing.T) {
	v := newValidator(t)
	routes := v.Routes()
	want := [][2]string{
		{"GET", "/healthz"}, {"GET", "/readyz"}, {"GET", "/metrics"},
		{"POST", "/api/v1/auth/wechat"}, {"POST", "/api/v1/auth/staff"},
		{"POST", "/api/v1/auth/refresh"}, {"POST", "/api/v1/auth/logout"},
		{"GET", "/api/v1/villages"}, {"GET", "/api/v1/policies"}, {"GET", "/api/v1/policies/{slug}"},
		{"GET", "/api/v1/tiers"}, {"POST", "/api/v1/eligibility"},
		{"POST", "/api/v1/registrations"}, {"GET", "/api/v1/registrations/mine"},
		{"POST", "/api/v1/subscriptions"},
		{"GET", "/api/v1/admin/registrations"},
		{"POST", "/api/v1/admin/registrations/{id}/confirm"}, {"POST", "/api/v1/admin/registrations/{id}/reject"},
		{"GET", "/api/v1/admin/residents"}, {"POST", "/api/v1/admin/residents/{id}/reveal"},
		{"GET", "/api/v1/admin/visits"}, {"POST", "/api/v1/admin/visits"},
		{"POST", "/api/v1/admin/imports"}, {"GET", "/api/v1/admin/imports/{id}"},
		{"GET", "/api/v1/admin/policies"}, {"POST", "/api/v1/admin/policies"},
		{"GET", "/api/v1/admin/policies/{slug}"}, {"PUT", "/api/v1/admin/policies/{slug}"},
		{"POST", "/api/v1/admin/targets/allocate"}, {"GET", "/api/v1/admin/progress"},
		{"GET", "/api/v1/admin/reports/monthly"},
		{"GET", "/api/v1/admin/campaigns"}, {"POST", "/api/v1/admin/campaigns"},
		{"GET", "/api/v1/admin/campaigns/{id}"},
		{"POST", "/api/v1/admin/campaigns/{id}/preview"}, {"POST", "/api/v1/admin/campaigns/{id}/schedule"},
		{"POST", "/api/v1/admin/campaigns/{id}/pause"}, {"POST", "/api/v1/admin/campaigns/{id}/resume"},
		{"POST", "/api/v1/admin/campaigns/{id}/cancel"}, {"GET", "/api/v1/admin/campaigns/{id}/stats"},
		{"GET", "/api/v1/admin/users"}, {"POST", "/api/v1/admin/users"},
		{"PATCH", "/api/v1/admin/users/{id}"}, {"POST", "/api/v1/admin/users/{id}/password"},
	}
	for _, w := range want {
		if !slices.Contains(routes, w) {
			t.Errorf("Routes() lacks %s %s", w[0], w[1])
		}
	}
	// Routes beyond this list are allowed (the server test checks the spec against the engine).
	if !slices.IsSortedFunc(routes, func(a, b [2]string) int {
		if c := strings.Compare(a[1], b[1]); c != 0 {
			return c
		}
		return strings.Compare(a[0], b[0])
	}) {
		t.Error("Routes() is not sorted by path then method")
	}
}

// Every operation declares its roles; public ones, and only they, need no token.
func TestRolesAndSecurity(t *testing.T) {
	v := newValidator(t)
	valid := []string{"public", "resident", "volunteer", "village_admin", "staff", "admin"}
	for _, r := range v.Routes() {
		roles := v.Roles(r[0], r[1])
		if len(roles) == 0 {
			t.Errorf("%s %s: no x-roles", r[0], r[1])
			continue
		}
		for _, role := range roles {
			if !slices.Contains(valid, role) {
				t.Errorf("%s %s: unknown role %q", r[0], r[1], role)
			}
		}
		op := v.Doc().Paths.Value(r[1]).GetOperation(r[0])
		public := slices.Contains(roles, "public")
		noToken := op.Security != nil && len(*op.Security) == 0
		switch {
		case public && len(roles) != 1:
			t.Errorf("%s %s: public mixed with roles %v", r[0], r[1], roles)
		case public && !noToken:
			t.Errorf("%s %s: x-roles [public] but security is not []", r[0], r[1])
		case !public && noToken:
			t.Errorf("%s %s: security [] but x-roles %v", r[0], r[1], roles)
		case !public && op.Responses.Status(401) == nil:
			t.Errorf("%s %s: needs a token but documents no 401", r[0], r[1])
		}
	}
	if got := v.Roles("post", "/api/v1/admin/residents/{id}/reveal"); !slices.Equal(got, []string{"admin", "village_admin"}) {
		t.Errorf("reveal roles = %v", got)
	}
	if got := v.Roles("GET", "/nope"); got != nil {
		t.Errorf("Roles of an unknown route = %v, want nil", got)
	}
}

func TestIdempotencyKeyOnCreatingPOSTs(t *testing.T) {
	v := newValidator(t)
	for _, path := range []string{
		"/api/v1/registrations", "/api/v1/admin/visits", "/api/v1/admin/imports",
		"/api/v1/admin/campaigns", "/api/v1/subscriptions", "/api/v1/admin/users",
	} {
		op := v.Doc().Paths.Value(path).Post
		p := op.Parameters.GetByInAndName("header", "Idempotency-Key")
		if p == nil {
			t.Errorf("POST %s: no Idempotency-Key header", path)
			continue
		}
		if p.Required {
			t.Errorf("POST %s: Idempotency-Key must be optional", path)
		}
		if op.Responses.Status(422) == nil {
			t.Errorf("POST %s: no 422 for IDEMPOTENCY_KEY_REUSED", path)
		}
	}
}

// No schema reachable from a response may carry a plain id_number or phone, except the
// audited reveal.
func TestNoPlainPersonalDataInResponses(t *testing.T) {
	v := newValidator(t)
	for _, r := range v.Routes() {
		op := v.Doc().Paths.Value(r[1]).GetOperation(r[0])
		for code, resp := range op.Responses.Map() {
			if resp.Value == nil {
				continue
			}
			reveal := r[1] == "/api/v1/admin/residents/{id}/reveal" && code == "200"
			for mime, mt := range resp.Value.Content {
				found := plainPII(mt.Schema, map[*openapi3.Schema]bool{}, "")
				if reveal {
					if !slices.Contains(found, ".id_number") || !slices.Contains(found, ".phone") {
						t.Errorf("reveal answer lacks id_number or phone: %v", found)
					}
					continue
				}
				for _, f := range found {
					t.Errorf("%s %s %s %s: plain personal data at %s", r[0], r[1], code, mime, f)
				}
			}
		}
	}
}

// plainPII lists the paths of properties named id_number or phone under s. It does not
// descend into `not` (that is where the guard against them lives).
func plainPII(s *openapi3.SchemaRef, seen map[*openapi3.Schema]bool, at string) []string {
	if s == nil || s.Value == nil || seen[s.Value] {
		return nil
	}
	seen[s.Value] = true
	var out []string
	for name, p := range s.Value.Properties {
		if name == "id_number" || name == "phone" {
			out = append(out, at+"."+name)
		}
		out = append(out, plainPII(p, seen, at+"."+name)...)
	}
	if s.Value.Items != nil {
		out = append(out, plainPII(s.Value.Items, seen, at+"[]")...)
	}
	if ap := s.Value.AdditionalProperties.Schema; ap != nil {
		out = append(out, plainPII(ap, seen, at+".*")...)
	}
	for _, group := range []openapi3.SchemaRefs{s.Value.AllOf, s.Value.AnyOf, s.Value.OneOf} {
		for _, sub := range group {
			out = append(out, plainPII(sub, seen, at)...)
		}
	}
	return out
}

const validRegistrationBody = `{"name":"张三","id_number":"350583199001011234","phone":"13812345678",` +
	`"village_code":"luodong","employed":false,"land_expropriated":false,"scheme":"resident_pension","tier":300}`

func TestCheckGoodExchanges(t *testing.T) {
	v := newValidator(t)
	cases := []struct {
		name   string
		method string
		target string
		reqH   http.Header
		body   string
		status int
		header http.Header
		resp   string
	}{
		{name: "villages", method: "GET", target: "/api/v1/villages", status: 200, header: jsonHeader(),
			resp: `{"items":[{"code":"luodong","name":"罗东村"},{"code":"luoxi","name":"罗溪村"}],"total":2}`},
		{name: "absolute URL", method: "GET", target: "http://example.com/api/v1/villages", status: 200, header: jsonHeader(),
			resp: `{"items":[],"total":0}`},
		{name: "error body 400", method: "POST", target: "/api/v1/registrations",
			body:   strings.Replace(validRegistrationBody, "1234\"", "1235\"", 1),
			status: 400, header: jsonHeader(),
			resp: `{"error":{"code":"ID_NUMBER_INVALID","message":"身份证号码校验位不正确","field":"id_number"}}`},
		{name: "bad input refused with 400", method: "POST", target: "/api/v1/registrations",
			body:   `{"name":"张三","status":"confirmed"}`,
			status: 400, header: jsonHeader(),
			resp: `{"error":{"code":"UNKNOWN_FIELD","message":"不支持的字段","field":"status"}}`},
		{name: "registration created", method: "POST", target: "/api/v1/registrations",
			reqH: http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"4a1f6c1e-0d8b-4b5e-9a57-1a2b3c4d5e6f"}},
			body: validRegistrationBody, status: 201, header: jsonHeader(),
			resp: `{"id":7,"status":"submitted","scheme":"resident_pension","tier":300,"register_at":"village",` +
				`"id_number_masked":"3505**********1234","created_at":"2019-08-01T09:30:00+08:00"}`},
		{name: "already registered", method: "POST", target: "/api/v1/registrations",
			body: validRegistrationBody, status: 409, header: jsonHeader(),
			resp: `{"error":{"code":"ALREADY_REGISTERED","message":"您今年已提交参保登记"}}`},
		{name: "rate limited", method: "POST", target: "/api/v1/auth/staff",
			body: `{"username":"admin","password":"x"}`, status: 429, header: jsonHeader("Retry-After", "30"),
			resp: `{"error":{"code":"RATE_LIMITED","message":"操作过于频繁，请稍后再试"}}`},
		{name: "staff login", method: "POST", target: "/api/v1/auth/staff",
			body: `{"username":"luodong.va","password":"correct horse 1"}`, status: 200, header: jsonHeader(),
			resp: `{"token":"a.b.c","expires_in":1800,"refresh_token":"r","user":{"id":3,"username":"luodong.va","role":"village_admin","village_code":"luodong"}}`},
		{name: "refresh as resident", method: "POST", target: "/api/v1/auth/refresh",
			body: `{"refresh_token":"r"}`, status: 200, header: jsonHeader(),
			resp: `{"token":"a.b.c","expires_in":7200,"refresh_token":"r2","resident":{"id":9,"registered":false}}`},
		{name: "logout", method: "POST", target: "/api/v1/auth/logout", status: 204, header: http.Header{}},
		{name: "policy not modified", method: "GET", target: "/api/v1/policies/resident-pension",
			reqH: http.Header{"If-None-Match": {`"abc"`}}, status: 304, header: http.Header{"Etag": {`"abc"`}}},
		{name: "roster", method: "GET", target: "/api/v1/admin/residents?village=luodong&status=unenrolled&age_min=16&page=2&page_size=50",
			status: 200, header: jsonHeader(),
			resp: `{"items":[{"id":1,"name":"李四","gender":"female","age":41,"village_code":"luodong","status":"unenrolled",` +
				`"id_number_masked":"3505**********123X","phone_masked":"138****5678",` +
				`"last_visit":{"visited_at":"2019-08-02T10:00:00+08:00","outcome":"considering","reason":"cannot_afford"},` +
				`"employed":true,"employer_name":"罗东鞋业有限公司","employer_credit_code":"91350583MA2Y0001X5"},` +
				`{"id":2,"name":"王五","gender":"male","age":30,"village_code":"luodong","status":"unenrolled",` +
				`"id_number_masked":"3505**********0011","phone_masked":null,"last_visit":null,` +
				`"employed":false,"employer_name":null,"employer_credit_code":null}],"total":52,"excluded_out_of_age":3}`},
		{name: "visit batch", method: "POST", target: "/api/v1/admin/visits",
			body: `{"visits":[{"client_id":"6f1c1f9e-3b8a-4c52-9d0e-1a2b3c4d5e6f","resident_id":1,` +
				`"visited_at":"2019-08-02T10:00:00+08:00","outcome":"refused","reason":"unwilling"}]}`,
			status: 201, header: jsonHeader(),
			resp: `{"items":[{"id":11,"client_id":"6f1c1f9e-3b8a-4c52-9d0e-1a2b3c4d5e6f","resident_id":1,` +
				`"visited_at":"2019-08-02T10:00:00+08:00","outcome":"refused","reason":"unwilling","note":null,"follow_up_on":null}],"total":1}`},
		{name: "campaign stats", method: "GET", target: "/api/v1/admin/campaigns/5/stats", status: 200, header: jsonHeader(),
			resp: `{"targeted":10,"queued":1,"sending":0,"sent":6,"failed":1,"unknown":0,"skipped":{"no_consent":1,"frequency_cap":0,"quiet_hours":1,"no_contact":0,"enrolled":0},` +
				`"converted":2,"reached":6,"waiting":{"waiting_for_window":1,"waiting_for_retry":0,"until":"2019-08-02T08:00:00+08:00"},` +
				`"by_village":{"luodong":{"targeted":10,"sent":6}},"by_channel":{"wechat":{"sent":4},"sms":{"sent":2}},` +
				`"by_day":{"20190801":6},"converted_by_day":{"20190802":2}}`},
		{name: "readyz down", method: "GET", target: "/readyz", status: 503, header: jsonHeader("Retry-After", "5"),
			resp: `{"status":"unavailable","checks":{"mysql":"ok","redis":"connection refused"}}`},
		{name: "metrics", method: "GET", target: "/metrics", status: 200,
			header: http.Header{"Content-Type": {"text/plain; version=0.0.4; charset=utf-8"}},
			resp:   "# HELP up 1\nup 1\n"},
		{name: "monthly xlsx", method: "GET", target: "/api/v1/admin/reports/monthly?month=2019-09&format=xlsx", status: 200,
			header: http.Header{"Content-Type": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}},
			resp:   "PK\x03\x04binary"},
		{name: "wechat login", method: "POST", target: "/api/v1/auth/wechat", body: `{"code":"081abc"}`, status: 200, header: jsonHeader(),
			resp: `{"token":"a.b.c","expires_in":7200,"refresh_token":"r","resident":{"id":9,"registered":true}}`},
		{name: "wechat code refused", method: "POST", target: "/api/v1/auth/wechat", body: `{"code":"bad"}`, status: 401, header: jsonHeader(),
			resp: `{"error":{"code":"WECHAT_CODE_INVALID","message":"微信登录已失效，请重新进入小程序"}}`},
		{name: "account locked", method: "POST", target: "/api/v1/auth/staff", body: `{"username":"admin","password":"x"}`,
			status: 429, header: jsonHeader("Retry-After", "900"),
			resp: `{"error":{"code":"ACCOUNT_LOCKED","message":"账号已临时锁定"}}`},
		{name: "policies", method: "GET", target: "/api/v1/policies?category=resident_pension&q=%E6%A1%A3%E6%AC%A1&page=1",
			status: 200, header: jsonHeader("ETag", `W/"1"`),
			resp: `{"items":[{"slug":"resident-pension-tiers","title":"缴费档次","summary":"…","category":"resident_pension","updated_at":"2019-07-18T00:00:00+08:00"}],"total":1}`},
		{name: "tiers", method: "GET", target: "/api/v1/tiers?year=2019", status: 200, header: jsonHeader(),
			resp: `{"year":2019,"tiers":[{"amount":100,"subsidy":30},{"amount":300,"subsidy":40}]}`},
		{name: "eligibility by id", method: "POST", target: "/api/v1/eligibility",
			body:   `{"id_number":"35058319900101123x","employed":false,"land_expropriated":true,"as_of":"2019-08-01"}`,
			status: 200, header: jsonHeader(),
			resp: `{"age":29,"gender":"male","recommended":{"scheme":"employee_pension","channel":"flexible","register_at":"city_center"},` +
				`"alternatives":[{"scheme":"resident_pension","channel":"village","register_at":"village"}],"subsidy_eligible":true,"reason":"未就业男性未满45周岁"}`},
		{name: "eligibility age out of scope", method: "POST", target: "/api/v1/eligibility",
			body:   `{"gender":"female","birth_date":"1950-01-01","employed":false,"land_expropriated":false}`,
			status: 422, header: jsonHeader(),
			resp: `{"error":{"code":"AGE_OUT_OF_SCOPE","message":"年龄不在16至59周岁之间"}}`},
		{name: "eligibility both forms refused", method: "POST", target: "/api/v1/eligibility",
			body:   `{"id_number":"350583199001011234","gender":"female","birth_date":"1950-01-01","employed":false,"land_expropriated":false}`,
			status: 400, header: jsonHeader(),
			resp: `{"error":{"code":"INVALID_INPUT","message":"身份证号码与性别、出生日期只能填写一种"}}`},
		{name: "subscription", method: "POST", target: "/api/v1/subscriptions", body: `{"template_id":"AbC-123_x","count":1}`,
			status: 201, header: jsonHeader(), resp: `{"template_id":"AbC-123_x","remaining":3}`},
		{name: "my registrations", method: "GET", target: "/api/v1/registrations/mine", status: 200, header: jsonHeader(),
			resp: `{"items":[{"id":7,"status":"rejected","scheme":"employee_pension","tier":null,"register_at":"city_center",` +
				`"village_code":"luodong","id_number_masked":"3505**********1234","phone_masked":"138****5678",` +
				`"reject_reason":"信息不符","created_at":"2019-08-01T09:30:00+08:00"}],"total":1}`},
		{name: "confirm", method: "POST", target: "/api/v1/admin/registrations/7/confirm", status: 200, header: jsonHeader(),
			resp: `{"id":7,"status":"confirmed","scheme":"resident_pension","tier":300,"register_at":"village",` +
				`"village_code":"luodong","id_number_masked":"3505**********1234","created_at":"2019-08-01T09:30:00+08:00","warnings":[]}`},
		{name: "confirm twice", method: "POST", target: "/api/v1/admin/registrations/7/confirm", status: 409, header: jsonHeader(),
			resp: `{"error":{"code":"REGISTRATION_NOT_OPEN","message":"该登记已处理"}}`},
		{name: "single visit replayed", method: "POST", target: "/api/v1/admin/visits",
			body: `{"client_id":"6f1c1f9e-3b8a-4c52-9d0e-1a2b3c4d5e6f","resident_id":1,"visited_at":"2019-08-02T10:00:00+08:00",` +
				`"outcome":"not_home","note":"下周再来","follow_up_on":"2019-08-09"}`,
			status: 200, header: jsonHeader(),
			resp: `{"id":11,"client_id":"6f1c1f9e-3b8a-4c52-9d0e-1a2b3c4d5e6f","resident_id":1,"village_code":"luodong","volunteer_id":4,` +
				`"visited_at":"2019-08-02T10:00:00+08:00","outcome":"not_home","reason":null,"note":"下周再来","follow_up_on":"2019-08-09",` +
				`"created_at":"2019-08-02T10:05:00+08:00"}`},
		{name: "visits list", method: "GET", target: "/api/v1/admin/visits?village=luodong&from=2019-08-01&to=2019-08-31",
			status: 200, header: jsonHeader(), resp: `{"items":[],"total":0}`},
		{name: "import status", method: "GET", target: "/api/v1/admin/imports/4", status: 200, header: jsonHeader(),
			resp: `{"status":"running","rows_total":1000,"rows_done":500,"rows_failed":1,"errors":[{"row":3,"field":"id_number","message":"身份证号码校验位不正确"}]}`},
		{name: "policy create", method: "POST", target: "/api/v1/admin/policies",
			body:   `{"slug":"land-expropriated","title":"被征地农民参保","summary":"补贴说明","body":"# 正文","category":"land_expropriated","status":"published"}`,
			status: 201, header: jsonHeader(),
			resp: `{"slug":"land-expropriated","title":"被征地农民参保","summary":"补贴说明","body":"# 正文","category":"land_expropriated",` +
				`"status":"published","created_at":"2019-07-18T09:00:00+08:00","updated_at":"2019-07-18T09:00:00+08:00","published_at":"2019-07-18T09:00:00+08:00"}`},
		{name: "allocate", method: "POST", target: "/api/v1/admin/targets/allocate",
			body: `{"quota":9777,"milestones":{"2019":0.8},"method":"round","dry_run":true}`, status: 200, header: jsonHeader(),
			resp: `{"quota":9777,"method":"round","villages":[{"code":"luodong","name":"罗东村","unenrolled":3394,"share":2109.1,` +
				`"expansion_target":2109,"tasks":{"2019":1687}}],"total":{"unenrolled":15733,"expansion_target":9777,"tasks":{"2019":7822}},` +
				`"warnings":[{"code":"ROWS_DO_NOT_SUM_TO_TOTAL","message":"各村应扩面人数合计9778，与总数9777不符","column":"expansion_target","sum":9778,"total":9777}]}`},
		{name: "progress", method: "GET", target: "/api/v1/admin/progress?as_of=2019-09-30", status: 200, header: jsonHeader(),
			resp: `{"as_of":"2019-09-30","villages":[{"code":"luodong","name":"罗东村","population_16_59":5889,"enrolled_baseline":2495,` +
				`"unenrolled_baseline":3394,"expansion_target":2109,"task":1687,"new_enrolled":300,"target_rate":0.142,"task_rate":0.178}],` +
				`"total":{"population_16_59":5889,"enrolled_baseline":2495,"unenrolled_baseline":3394,"expansion_target":2109,"task":1687,` +
				`"new_enrolled":300,"target_rate":0.142,"task_rate":0.178}}`},
		{name: "monthly json", method: "GET", target: "/api/v1/admin/reports/monthly?month=2019-09", status: 200, header: jsonHeader(),
			resp: `{"month":"2019-09","as_of":"2019-09-30","villages":[{"code":"luodong","name":"罗东村","new_enrolled_month":120,` +
				`"new_enrolled_to_date":300,"expansion_target":2109,"task":1687,"target_rate":0.142,"task_rate":0.178,"rank":1,"behind_pace":true}],` +
				`"total":{"new_enrolled_month":120,"new_enrolled_to_date":300,"expansion_target":2109,"task":1687,"target_rate":0.142,"task_rate":0.178},` +
				`"behind_pace":["luodong"]}`},
		{name: "campaign create", method: "POST", target: "/api/v1/admin/campaigns",
			body: `{"name":"九月提醒","segment":{"villages":["luodong"],"gender":"female","age_min":40,"age_max":59,"statuses":["unenrolled"],` +
				`"employed":false,"visit_outcomes":["considering"],"reasons":["cannot_afford"]},"channels":["wechat","sms","visit_task"],` +
				`"template":{"text":"{{name}}您好，请于{{deadline}}前到{{village}}登记","wechat":{"template_id":"tmpl1","page":"pages/index",` +
				`"data":{"thing1":"{{name}}"}},"sms":{"sign_name":"罗东镇","template_code":"SMS_123456789","params":{"name":"{{name}}"}}},` +
				`"schedule":{"start_at":"2019-09-01T09:00:00+08:00","end_at":"2019-09-30T20:00:00+08:00","window":{"from":"09:00","to":"20:00"},` +
				`"repeat_every_days":7},"rate_per_minute":60,"frequency_cap":{"max":2,"per_days":7}}`,
			status: 201, header: jsonHeader(), resp: `{"id":3,"status":"draft"}`},
		{name: "campaign missing sms part", method: "POST", target: "/api/v1/admin/campaigns",
			body: `{"name":"x","segment":{},"channels":["sms"],"template":{"text":"t"},` +
				`"schedule":{"start_at":"2019-09-01T09:00:00+08:00","window":{"from":"09:00","to":"20:00"}}}`,
			status: 400, header: jsonHeader(),
			resp: `{"error":{"code":"INVALID_INPUT","message":"渠道包含 sms，请填写短信签名和模板","field":"template.sms"}}`},
		{name: "campaign illegal transition", method: "POST", target: "/api/v1/admin/campaigns/3/resume", status: 409, header: jsonHeader(),
			resp: `{"error":{"code":"ILLEGAL_TRANSITION","message":"活动当前为“已取消”，不能执行该操作"}}`},
		{name: "campaign preview", method: "POST", target: "/api/v1/admin/campaigns/3/preview", status: 200, header: jsonHeader(),
			resp: `{"audience":12,"by_village":{"luodong":12},"excluded_out_of_age":0}`},
		{name: "user create", method: "POST", target: "/api/v1/admin/users",
			body:   `{"username":"luodong.vol1","password":"Luodong2019pw","role":"volunteer","village_code":"luodong"}`,
			status: 201, header: jsonHeader(),
			resp: `{"id":5,"username":"luodong.vol1","role":"volunteer","village_code":"luodong","disabled":false,"created_at":"2019-07-20T08:00:00+08:00"}`},
		{name: "user disable", method: "PATCH", target: "/api/v1/admin/users/5", body: `{"disabled":true}`, status: 200, header: jsonHeader(),
			resp: `{"id":5,"username":"luodong.vol1","role":"volunteer","village_code":"luodong","disabled":true,"created_at":"2019-07-20T08:00:00+08:00"}`},
		{name: "user password", method: "POST", target: "/api/v1/admin/users/5/password", body: `{"password":"Another2019pw"}`,
			status: 204, header: http.Header{}},
		{name: "healthz", method: "GET", target: "/healthz", status: 200, header: jsonHeader(), resp: `{"status":"ok"}`},
		{name: "readyz", method: "GET", target: "/readyz", status: 200, header: jsonHeader(),
			resp: `{"status":"ready","checks":{"mysql":"ok","redis":"ok"}}`},
		{name: "db down", method: "GET", target: "/api/v1/registrations/mine", status: 503, header: jsonHeader("Retry-After", "5"),
			resp: `{"error":{"code":"SERVICE_UNAVAILABLE","message":"服务暂时不可用，请稍后再试"}}`},
		{name: "reveal", method: "POST", target: "/api/v1/admin/residents/1/reveal",
			body: `{"reason":"核对参保信息"}`, status: 200, header: jsonHeader(),
			resp: `{"id_number":"35058319900101123X","phone":"13812345678"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			for k, vs := range tc.reqH {
				req.Header[k] = vs
			}
			if tc.body != "" && req.Header.Get("Content-Type") == "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if err := v.Check(req, []byte(tc.body), tc.status, tc.header, []byte(tc.resp)); err != nil {
				t.Errorf("Check: %v", err)
			}
		})
	}
}

func TestCheckMultipartImport(t *testing.T) {
	v := newValidator(t)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", "roster.csv")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write([]byte("name,id_number\n"))
	mw.Close()
	req := httptest.NewRequest("POST", "/api/v1/admin/imports", bytes.NewReader(buf.Bytes()))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if err := v.Check(req, buf.Bytes(), 202, jsonHeader(), []byte(`{"id":4}`)); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestCheckBadExchanges(t *testing.T) {
	v := newValidator(t)
	cases := []struct {
		name     string
		method   string
		target   string
		body     string
		status   int
		header   http.Header
		resp     string
		part     string
		contains string
	}{
		{name: "missing items", method: "GET", target: "/api/v1/villages", status: 200, header: jsonHeader(),
			resp: `{"total":0}`, part: "response", contains: "items"},
		{name: "wrong enum", method: "GET", target: "/api/v1/admin/residents", status: 200, header: jsonHeader(),
			resp: `{"items":[{"id":1,"name":"李四","gender":"female","age":41,"village_code":"luodong","status":"enrolled",` +
				`"id_number_masked":"3505**********1234","phone_masked":"138****5678","last_visit":null}],"total":1,"excluded_out_of_age":0}`,
			part: "response", contains: "enrolled"},
		{name: "undocumented status", method: "GET", target: "/api/v1/villages", status: 404, header: jsonHeader(),
			resp: `{"error":{"code":"NOT_FOUND","message":"记录不存在"}}`, part: "response status", contains: "404"},
		{name: "undocumented 500", method: "POST", target: "/api/v1/registrations", body: validRegistrationBody,
			status: 500, header: jsonHeader(), resp: `{"error":{"code":"INTERNAL","message":"服务器内部错误"}}`,
			part: "response status", contains: "500"},
		{name: "unmasked id number", method: "POST", target: "/api/v1/registrations", body: validRegistrationBody,
			status: 201, header: jsonHeader(),
			resp: `{"id":7,"status":"submitted","scheme":"resident_pension","tier":300,"register_at":"village",` +
				`"id_number_masked":"350583199001011234","created_at":"2019-08-01T09:30:00+08:00"}`,
			part: "response", contains: "id_number_masked"},
		{name: "plain phone in an open schema", method: "GET", target: "/api/v1/registrations/mine", status: 200, header: jsonHeader(),
			resp: `{"items":[{"id":7,"status":"submitted","scheme":"resident_pension","tier":300,"register_at":"village",` +
				`"village_code":"luodong","id_number_masked":"3505**********1234","phone":"13812345678",` +
				`"created_at":"2019-08-01T09:30:00+08:00"}],"total":1}`,
			part: "response"},
		{name: "extra field in a closed schema", method: "GET", target: "/api/v1/villages", status: 200, header: jsonHeader(),
			resp: `{"items":[{"code":"luodong","name":"罗东村","population":1}],"total":1}`, part: "response", contains: "population"},
		{name: "error code not upper snake", method: "GET", target: "/api/v1/tiers?year=2019", status: 404, header: jsonHeader(),
			resp: `{"error":{"code":"not_found","message":"没有该年度的缴费档次"}}`, part: "response", contains: "code"},
		{name: "enveloped error", method: "GET", target: "/api/v1/tiers", status: 400, header: jsonHeader(),
			resp: `{"code":400,"msg":"bad"}`, part: "response"},
		{name: "429 without Retry-After", method: "POST", target: "/api/v1/auth/staff",
			body: `{"username":"admin","password":"x"}`, status: 429, header: jsonHeader(),
			resp: `{"error":{"code":"RATE_LIMITED","message":"操作过于频繁"}}`, part: "response", contains: "Retry-After"},
		{name: "accepted a forbidden request", method: "POST", target: "/api/v1/registrations",
			body:   strings.Replace(validRegistrationBody, `"tier":300`, `"tier":300,"status":"confirmed"`, 1),
			status: 201, header: jsonHeader(),
			resp: `{"id":7,"status":"submitted","scheme":"resident_pension","tier":300,"register_at":"village",` +
				`"id_number_masked":"3505**********1234","created_at":"2019-08-01T09:30:00+08:00"}`,
			part: "request", contains: "status"},
		{name: "page_size over 100 served", method: "GET", target: "/api/v1/admin/residents?page_size=500", status: 200,
			header: jsonHeader(), resp: `{"items":[],"total":0,"excluded_out_of_age":0}`, part: "request", contains: "page_size"},
		{name: "eligibility both forms accepted", method: "POST", target: "/api/v1/eligibility",
			body:   `{"id_number":"350583199001011234","gender":"female","birth_date":"1990-01-01","employed":false,"land_expropriated":false}`,
			status: 200, header: jsonHeader(),
			resp: `{"age":29,"gender":"male","recommended":{"scheme":"employee_pension","channel":"flexible","register_at":"city_center"},` +
				`"alternatives":[],"subsidy_eligible":false,"reason":"…"}`,
			part: "request"},
		{name: "visit with a bad client_id accepted", method: "POST", target: "/api/v1/admin/visits",
			body:   `{"client_id":"42","resident_id":1,"visited_at":"2019-08-02T10:00:00+08:00","outcome":"refused"}`,
			status: 201, header: jsonHeader(),
			resp: `{"id":11,"client_id":"6f1c1f9e-3b8a-4c52-9d0e-1a2b3c4d5e6f","resident_id":1,` +
				`"visited_at":"2019-08-02T10:00:00+08:00","outcome":"refused","reason":null,"note":null,"follow_up_on":null}`,
			part: "request", contains: "client_id"},
		{name: "staff login leaks no-village as empty string", method: "POST", target: "/api/v1/auth/staff",
			body: `{"username":"admin","password":"x"}`, status: 200, header: jsonHeader(),
			resp: `{"token":"a.b.c","expires_in":1800,"refresh_token":"r","user":{"id":1,"username":"admin","role":"admin","village_code":""}}`,
			part: "response", contains: "village_code"},
		{name: "unknown route", method: "GET", target: "/api/v1/nope", status: 200, header: jsonHeader(),
			resp: `{}`, part: "route"},
		{name: "wrong method", method: "DELETE", target: "/api/v1/villages", status: 204, header: jsonHeader(), part: "route"},
		{name: "body on 204", method: "POST", target: "/api/v1/auth/logout", status: 204, header: jsonHeader(),
			resp: `{"ok":true}`, part: "response"},
		{name: "no content type", method: "GET", target: "/healthz", status: 200, header: http.Header{},
			resp: `{"status":"ok"}`, part: "response"},
		{name: "304 where not documented", method: "GET", target: "/api/v1/villages", status: 304, header: http.Header{},
			part: "response status"},
		{name: "bad date", method: "GET", target: "/api/v1/admin/progress", status: 200, header: jsonHeader(),
			resp: `{"as_of":"2019/09/30","villages":[],"total":{"population_16_59":0,"enrolled_baseline":0,"unenrolled_baseline":0,` +
				`"expansion_target":0,"task":0,"new_enrolled":0,"target_rate":null,"task_rate":null}}`,
			part: "response", contains: "as_of"},
		{name: "error code not declared for the operation", method: "POST", target: "/api/v1/admin/campaigns/3/resume", status: 409,
			header: jsonHeader(), resp: `{"error":{"code":"CAMPAIGN_STATE_CONFLICT","message":"活动当前为“草稿”，不能重发"}}`,
			part: "response", contains: "x-error-codes"},
		{name: "error code declared for another status", method: "POST", target: "/api/v1/auth/staff",
			body: `{"username":"admin","password":"x"}`, status: 423, header: jsonHeader("Retry-After", "60"),
			resp: `{"error":{"code":"ACCOUNT_LOCKED","message":"登录失败次数过多"}}`, part: "response status", contains: "423"},
		{name: "replay header on a route without Idempotency-Key", method: "GET", target: "/api/v1/admin/campaigns/3",
			status: 404, header: jsonHeader("Idempotent-Replayed", "true"),
			resp: `{"error":{"code":"NOT_FOUND","message":"未找到相关记录"}}`, part: "response", contains: "Idempotent-Replayed"},
		{name: "Cache-Control where the response declares none", method: "GET", target: "/api/v1/tiers?year=2019", status: 404,
			header: jsonHeader("Cache-Control", "no-store"), resp: `{"error":{"code":"NOT_FOUND","message":"该年度暂无缴费档次配置"}}`,
			part: "response", contains: "Cache-Control"},
		{name: "field the spec does not name", method: "GET", target: "/api/v1/admin/campaigns/5/stats", status: 200, header: jsonHeader(),
			resp: `{"targeted":1,"queued":0,"sending":0,"sent":1,"failed":0,"unknown":0,"skipped":{"no_consent":0,"frequency_cap":0,"quiet_hours":0,"no_contact":0},` +
				`"converted":0,"reached":1,"waiting":{"waiting_for_window":0,"waiting_for_retry":0,"until":null},` +
				`"by_village":{},"by_channel":{},"by_day":{},"by_hour":{}}`,
			part: "response", contains: "by_hour"},
		{name: "SMS template code of the wrong form", method: "POST", target: "/api/v1/admin/campaigns",
			body: `{"name":"x","segment":{},"channels":["sms"],"template":{"text":"t","sms":{"sign_name":"罗东镇","template_code":"tmpl-1"}},` +
				`"schedule":{"start_at":"2019-09-01T09:00:00+08:00","window":{"from":"09:00","to":"20:00"}}}`,
			status: 201, header: jsonHeader(), resp: `{"id":3,"status":"draft"}`, part: "request", contains: "template_code"},
		{name: "campaign status unknown", method: "POST", target: "/api/v1/admin/campaigns/3/pause", status: 200, header: jsonHeader(),
			resp: `{"id":3,"status":"stopped"}`, part: "response", contains: "stopped"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			err := v.Check(req, []byte(tc.body), tc.status, tc.header, []byte(tc.resp))
			if err == nil {
				t.Fatal("Check passed a bad exchange")
			}
			var m *contract.MismatchError
			if !errors.As(err, &m) {
				t.Fatalf("error %T is not a *MismatchError: %v", err, err)
			}
			t.Log(err)
			if m.Part != tc.part {
				t.Errorf("Part = %q, want %q (%v)", m.Part, tc.part, err)
			}
			msg := err.Error()
			for _, s := range []string{tc.method, req.URL.Path} {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q does not name %q", msg, s)
				}
			}
			if !strings.Contains(msg, "→ "+strconv.Itoa(tc.status)) {
				t.Errorf("error %q does not name status %d", msg, tc.status)
			}
			if tc.contains != "" && !strings.Contains(msg, tc.contains) {
				t.Errorf("error %q does not mention %q", msg, tc.contains)
			}
		})
	}
}

// Check must not consume or alter the caller's request.
func TestCheckLeavesRequestAlone(t *testing.T) {
	v := newValidator(t)
	req := httptest.NewRequest("GET", "/api/v1/policies?category=resident_pension", nil)
	before := req.URL.String()
	if err := v.Check(req, nil, 200, jsonHeader("ETag", `"x"`), []byte(`{"items":[],"total":0}`)); err != nil {
		t.Fatal(err)
	}
	if req.URL.String() != before {
		t.Errorf("URL changed: %s → %s", before, req.URL.String())
	}
	if req.URL.Query().Has("page_size") {
		t.Error("Check wrote defaults into the caller's request")
	}
}

// Parallel tests share one Validator.
func TestCheckConcurrent(t *testing.T) {
	v := newValidator(t)
	done := make(chan error)
	for i := 0; i < 8; i++ {
		go func() {
			req := httptest.NewRequest("GET", "/api/v1/admin/residents?page=1", nil)
			done <- v.Check(req, nil, 200, jsonHeader(), []byte(`{"items":[],"total":0,"excluded_out_of_age":0}`))
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
