package roster_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/creditcode"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/roster"
	"github.com/canbao/canbao/internal/server/servertest"
	"github.com/canbao/canbao/internal/visit"
)

type list struct {
	Items []struct {
		ID             int64   `json:"id"`
		Age            int     `json:"age"`
		VillageCode    string  `json:"village_code"`
		Status         string  `json:"status"`
		Gender         string  `json:"gender"`
		IDNumberMasked string  `json:"id_number_masked"`
		PhoneMasked    *string `json:"phone_masked"`
	}
	Total int
}

func TestRosterListFiltersAndScope(t *testing.T) {
	env := servertest.New(t)
	z1, z1num := env.AddResident(servertest.ResidentSpec{Village: "zhenxing", Age: 30, Gender: idcard.Female, Phone: "13912345678"})
	env.AddResident(servertest.ResidentSpec{Village: "zhenxing", Age: 50, Status: "resident_pension"})
	env.AddResident(servertest.ResidentSpec{Village: "zhenxing", Age: 58})
	l1, _ := env.AddResident(servertest.ResidentSpec{Village: "luoxi", Age: 45})

	tokens := map[string]string{}
	for _, r := range []struct {
		role    auth.Role
		village string
		key     string
	}{{auth.RoleVolunteer, "zhenxing", "vol"}, {auth.RoleVillageAdmin, "zhenxing", "vadmin"}, {auth.RoleStaff, "", "staff"}, {auth.RoleAdmin, "", "admin"}} {
		tokens[r.key], _ = env.Staff(r.role, r.village)
	}
	res, _ := env.Resident()
	get := func(tok, q string) (*servertest.Response, list) {
		w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/residents" + q, Token: tok})
		var l list
		if w.Code == 200 {
			w.JSON(t, &l)
		}
		return w, l
	}
	// Scope: village-bound roles see their own village only, whatever the filter says.
	for _, tc := range []struct {
		who, q string
		code   int
		total  int
	}{
		{"vol", "", 200, 3}, {"vadmin", "", 200, 3}, {"staff", "", 200, 4}, {"admin", "", 200, 4},
		{"vol", "?village=luoxi", 404, 0}, {"vadmin", "?village=luoxi", 404, 0},
		{"vol", "?village=zhenxing", 200, 3}, {"staff", "?village=luoxi", 200, 1},
		{"admin", "?status=unenrolled", 200, 3}, {"admin", "?status=resident_pension&village=zhenxing", 200, 1},
		{"admin", "?gender=female", 200, 1}, {"admin", "?age_min=45&age_max=55", 200, 2},
		{"admin", "?age_min=59", 200, 0}, {"admin", "?age_max=30", 200, 1},
		{"admin", "?status=gone", 400, 0}, {"admin", "?age_min=x", 400, 0}, {"admin", "?age_min=50&age_max=40", 400, 0},
		{"admin", "?page_size=101", 400, 0}, {"admin", "?gender=x", 400, 0},
	} {
		w, l := get(tokens[tc.who], tc.q)
		if w.Code != tc.code || (tc.code == 200 && l.Total != tc.total) {
			t.Errorf("%s %s: %d total %d, want %d total %d: %s", tc.who, tc.q, w.Code, l.Total, tc.code, tc.total, w.Body)
		}
	}
	if w, _ := get(res, ""); w.Code != 403 {
		t.Fatalf("resident: %d", w.Code)
	}
	_, l := get(tokens["vol"], "?gender=female")
	if len(l.Items) != 1 || l.Items[0].ID != z1 || l.Items[0].Age != 30 || *l.Items[0].PhoneMasked != "139****5678" ||
		l.Items[0].IDNumberMasked != z1num[:4]+strings.Repeat("*", 10)+z1num[14:] {
		t.Fatalf("masked item: %+v", l.Items)
	}
	for _, it := range l.Items {
		if it.VillageCode != "zhenxing" {
			t.Fatal("another village leaked")
		}
	}
	_ = l1
}

func TestRevealIsScopedReasonedAuditedAndLimited(t *testing.T) {
	env := servertest.New(t)
	z, znum := env.AddResident(servertest.ResidentSpec{Village: "zhenxing", Phone: "13712345678"})
	l, _ := env.AddResident(servertest.ResidentSpec{Village: "luoxi"})
	vadmin, _ := env.Staff(auth.RoleVillageAdmin, "zhenxing")
	admin, _ := env.Staff(auth.RoleAdmin, "")
	staff, _ := env.Staff(auth.RoleStaff, "")
	vol, _ := env.Staff(auth.RoleVolunteer, "zhenxing")
	env.AllowPII["/api/v1/admin/residents/:id/reveal"] = true
	reveal := func(tok string, id int64, reason string) *servertest.Response {
		return env.Do(servertest.Request{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/residents/%d/reveal", id), Token: tok, Body: map[string]string{"reason": reason}})
	}
	w := reveal(vadmin, z, "核对参保登记信息")
	if w.Code != 200 || !strings.Contains(string(w.Body), znum) || !strings.Contains(string(w.Body), "13712345678") || w.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("reveal: %d %s", w.Code, w.Body)
	}
	for _, tc := range []struct {
		tok    string
		id     int64
		reason string
		code   int
	}{
		{vadmin, l, "核对信息", 404}, {vadmin, 999999, "核对信息", 404}, {vadmin, z, "", 400}, {vadmin, z, "x", 400},
		{staff, z, "核对信息", 403}, {vol, z, "核对信息", 403},
	} {
		if w := reveal(tc.tok, tc.id, tc.reason); w.Code != tc.code {
			t.Errorf("%d %q: %d, want %d", tc.id, tc.reason, w.Code, tc.code)
		}
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'resident.reveal'`); n != 1 {
		t.Fatalf("reveal audit rows: %d", n)
	}
	var detail string
	_ = env.DB.Get(&detail, `SELECT detail FROM audit_log WHERE action = 'resident.reveal'`)
	if !strings.Contains(detail, "核对参保登记信息") {
		t.Fatalf("audit detail lacks the reason: %q", detail)
	}
	for i := 0; i < 30; i++ {
		if w := reveal(admin, z, "批量核对"); w.Code != 200 {
			t.Fatalf("reveal %d: %d", i, w.Code)
		}
	}
	if w := reveal(admin, z, "批量核对"); w.Code != 429 {
		t.Fatalf("31st reveal in an hour: %d", w.Code)
	}
}

func TestOptOutIsScopedAndAudited(t *testing.T) {
	env := servertest.New(t)
	z, _ := env.AddResident(servertest.ResidentSpec{Village: "zhenxing"})
	l, _ := env.AddResident(servertest.ResidentSpec{Village: "luoxi"})
	vadmin, _ := env.Staff(auth.RoleVillageAdmin, "zhenxing")
	vol, _ := env.Staff(auth.RoleVolunteer, "zhenxing")
	do := func(tok string, id int64, b any) *servertest.Response {
		return env.Do(servertest.Request{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/residents/%d/opt-out", id), Token: tok, Body: b})
	}
	if w := do(vadmin, z, map[string]any{"opted_out": true, "reason": "短信回复R"}); w.Code != 200 {
		t.Fatalf("opt out: %d %s", w.Code, w.Body)
	}
	if n := env.Count(`SELECT COUNT(*) FROM residents WHERE id = ? AND opted_out = 1`, z); n != 1 {
		t.Fatal("not recorded")
	}
	for _, c := range []struct {
		tok  string
		id   int64
		body any
		code int
	}{
		{vadmin, l, map[string]any{"opted_out": true}, 404},
		{vol, z, map[string]any{"opted_out": false}, 403},
		{vadmin, z, map[string]any{}, 400},
		{vadmin, z, map[string]any{"opted_out": "yes"}, 400},
	} {
		if w := do(c.tok, c.id, c.body); w.Code != c.code {
			t.Errorf("%v: %d, want %d", c.body, w.Code, c.code)
		}
	}
	if n := env.Count(`SELECT COUNT(*) FROM residents WHERE id = ? AND opted_out = 1`, l); n != 0 {
		t.Fatal("another village's person changed")
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'resident.opt_out'`); n != 1 {
		t.Fatalf("audit rows %d", n)
	}
}

// TestUndecryptableRowIsAnError: a roster row sealed under another key (same key id) used to
// be listed with a placeholder ID number and no phone, logging nothing. It is an error now:
// 500 to the client, and a log line naming the row and the key id, never the data.
func TestUndecryptableRowIsAnError(t *testing.T) {
	env := servertest.New(t)
	env.AddResident(servertest.ResidentSpec{Village: "zhenxing", Phone: "13912345678"})
	bad, _ := env.AddResident(servertest.ResidentSpec{Village: "zhenxing", Phone: "13912340000"})
	other := make([]byte, 32)
	other[0] = 1
	kr, err := pii.NewKeyring("k1", map[string][]byte{"k1": other}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	for _, col := range []struct{ name, aad, value string }{
		{"id_number_enc", pii.AADResidentIDNumber, "350583198005060031"},
		{"phone_enc", pii.AADResidentPhone, "13912340000"},
	} {
		ct, _, err := kr.Encrypt(col.value, col.aad)
		if err != nil {
			t.Fatal(err)
		}
		env.Exec(`UPDATE residents SET `+col.name+` = ? WHERE id = ?`, ct, bad)
	}
	admin, _ := env.Staff(auth.RoleAdmin, "")
	env.SkipContract = true // 500 INTERNAL is documented once for every route, not per operation
	w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/residents", Token: admin})
	if w.Code != 500 || w.ErrorCode() != "INTERNAL" || strings.Contains(string(w.Body), "0000*") {
		t.Fatalf("list with an undecryptable row: %d %s", w.Code, w.Body)
	}
	logs := env.Logs.String()
	if !strings.Contains(logs, fmt.Sprintf("row %d", bad)) || !strings.Contains(logs, `key id \"k1\"`) ||
		!strings.Contains(logs, pii.AADResidentIDNumber) {
		t.Fatalf("the log does not name the row and key id:\n%s", logs)
	}
	// The phone alone is undecryptable: still an error, not a missing phone.
	good, _, _ := env.Keyring.Encrypt("350583198005060031", pii.AADResidentIDNumber)
	env.Exec(`UPDATE residents SET id_number_enc = ? WHERE id = ?`, good, bad)
	if w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/residents", Token: admin}); w.Code != 500 {
		t.Fatalf("list with an undecryptable phone: %d %s", w.Code, w.Body)
	}
	if !strings.Contains(env.Logs.String(), pii.AADResidentPhone) {
		t.Fatalf("the log does not name the phone column:\n%s", env.Logs.String())
	}
}

// visitAt is one visit a volunteer posts, ago before now.
func visitAt(resident int64, outcome string, ago time.Duration) map[string]any {
	v := map[string]any{"client_id": uuid.NewString(), "resident_id": resident,
		"visited_at": time.Now().Add(-ago).Format(time.RFC3339), "outcome": outcome}
	if outcome == "refused" {
		v["reason"] = "unwilling"
	}
	return v
}

// TestRosterListShowsEmploymentAndEmployer: each person on the list says whether they are
// employed and, when the roster knows it, by whom (the employer list and the referrals start
// from these people; staff need to see them on the roster too).
func TestRosterListShowsEmploymentAndEmployer(t *testing.T) {
	env := servertest.New(t)
	code := creditcode.Generate("91", "350583", "MA2Y0002")
	withEmployer, _ := env.AddResident(servertest.ResidentSpec{Employed: true, Employer: "罗东鞋业有限公司", EmployerCode: code})
	employedUnknown, _ := env.AddResident(servertest.ResidentSpec{Employed: true})
	notEmployed, _ := env.AddResident(servertest.ResidentSpec{})
	admin, _ := env.Staff(auth.RoleAdmin, "")
	w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/residents?page_size=100", Token: admin})
	if w.Code != 200 {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	var l struct {
		Items []struct {
			ID         int64   `json:"id"`
			Employed   *bool   `json:"employed"`
			Employer   *string `json:"employer_name"`
			CreditCode *string `json:"employer_credit_code"`
		}
	}
	w.JSON(t, &l)
	seen := 0
	for _, it := range l.Items {
		switch it.ID {
		case withEmployer:
			seen++
			if it.Employed == nil || !*it.Employed || it.Employer == nil || *it.Employer != "罗东鞋业有限公司" || it.CreditCode == nil || *it.CreditCode != code {
				t.Errorf("employed with an employer: %+v", it)
			}
		case employedUnknown:
			seen++
			if it.Employed == nil || !*it.Employed || it.Employer != nil || it.CreditCode != nil {
				t.Errorf("employed, employer unknown: %+v", it)
			}
		case notEmployed:
			seen++
			if it.Employed == nil || *it.Employed || it.Employer != nil || it.CreditCode != nil {
				t.Errorf("not employed: %+v", it)
			}
		}
	}
	if seen != 3 {
		t.Fatalf("%d of the 3 people listed: %s", seen, w.Body)
	}
}

// TestRosterListEmployedAndLastVisitOutcome: the roster filters on employment and on the
// outcome of each person's most recent visit (or none yet), alone and with the village, status
// and age rules; bad values are refused with the field named and change nothing.
func TestRosterListEmployedAndLastVisitOutcome(t *testing.T) {
	env := servertest.New(t)
	add := func(village string, employed bool, status string, age int) int64 {
		id, _ := env.AddResident(servertest.ResidentSpec{Village: village, Employed: employed, Status: status, Age: age})
		return id
	}
	a := add("zhenxing", true, "", 40)                 // not_home, after an earlier "considering" sent later
	b := add("zhenxing", false, "", 40)                // considering
	c := add("zhenxing", true, "", 40)                 // refused
	d := add("zhenxing", false, "", 40)                // never visited
	e := add("zhenxing", true, "resident_pension", 40) // never visited
	f := add("zhenxing", false, "", 40)                // enrolled (the visit makes them resident_pension)
	g := add("zhenxing", false, "", 65)                // never visited, outside 16-59
	l1 := add("luoxi", false, "", 40)                  // considering
	l2 := add("luoxi", true, "", 40)                   // never visited
	zvol, _ := env.Staff(auth.RoleVolunteer, "zhenxing")
	lvol, _ := env.Staff(auth.RoleVolunteer, "luoxi")
	post := func(tok string, visits ...any) {
		t.Helper()
		if w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/visits", Token: tok, Body: map[string]any{"visits": visits}}); w.Code != 201 {
			t.Fatalf("visits: %d %s", w.Code, w.Body)
		}
	}
	post(zvol, visitAt(a, "not_home", time.Hour), visitAt(b, "considering", time.Hour), visitAt(c, "refused", time.Hour), visitAt(f, "enrolled", time.Hour))
	post(zvol, visitAt(a, "considering", 3*time.Hour)) // recorded offline earlier: not the latest visit
	post(lvol, visitAt(l1, "considering", time.Hour))

	admin, _ := env.Staff(auth.RoleAdmin, "")
	vadmin, _ := env.Staff(auth.RoleVillageAdmin, "zhenxing")
	get := func(tok, q string) (*servertest.Response, []int64, int, int) {
		t.Helper()
		w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/residents?page_size=100" + q, Token: tok})
		var l struct {
			Items []struct {
				ID int64 `json:"id"`
			}
			Total    int
			Excluded int `json:"excluded_out_of_age"`
		}
		if w.Code != 200 {
			return w, nil, 0, 0
		}
		w.JSON(t, &l)
		ids := []int64{}
		for _, it := range l.Items {
			ids = append(ids, it.ID)
		}
		return w, ids, l.Total, l.Excluded
	}
	ids := func(v ...int64) []int64 {
		slices.Sort(v)
		return v
	}
	for _, tc := range []struct {
		tok, q   string
		want     []int64
		excluded int
	}{
		{admin, "&employed=true", ids(a, c, e, l2), 0},
		{admin, "&employed=false", ids(b, d, f, g, l1), 0},
		{admin, "&last_visit_outcome=considering", ids(b, l1), 0},
		{admin, "&last_visit_outcome=not_home", ids(a), 0},
		{admin, "&last_visit_outcome=refused", ids(c), 0},
		{admin, "&last_visit_outcome=enrolled", ids(f), 0},
		{admin, "&last_visit_outcome=deceased", ids(), 0},
		{admin, "&last_visit_outcome=none", ids(d, e, g, l2), 0},
		{admin, "&village=zhenxing&last_visit_outcome=considering", ids(b), 0},
		{admin, "&village=luoxi&employed=true", ids(l2), 0},
		{admin, "&employed=true&last_visit_outcome=none", ids(e, l2), 0},
		{admin, "&employed=true&last_visit_outcome=none&village=zhenxing", ids(e), 0},
		{admin, "&employed=false&last_visit_outcome=considering", ids(b, l1), 0},
		{admin, "&employed=true&last_visit_outcome=considering", ids(), 0},
		{admin, "&status=resident_pension&employed=true", ids(e), 0},
		{admin, "&status=resident_pension&last_visit_outcome=enrolled", ids(f), 0},
		{admin, "&status=unenrolled&employed=false&last_visit_outcome=none", ids(d), 1},
		{admin, "&status=unenrolled&last_visit_outcome=none", ids(d, l2), 1},
		{admin, "&status=unenrolled&employed=true", ids(a, c, l2), 0},
		{admin, "&employed=false&last_visit_outcome=none&age_min=60", ids(g), 0},
		// A village admin sees their own village only, whatever the filter.
		{vadmin, "&last_visit_outcome=considering", ids(b), 0},
		{vadmin, "&employed=true", ids(a, c, e), 0},
		{vadmin, "&last_visit_outcome=none&employed=true", ids(e), 0},
	} {
		w, got, total, excluded := get(tc.tok, tc.q)
		if w.Code != 200 || !slices.Equal(got, tc.want) || total != len(tc.want) || excluded != tc.excluded {
			t.Errorf("%s: %d ids %v total %d excluded %d, want %v excluded %d: %.300s", tc.q, w.Code, got, total, excluded, tc.want, tc.excluded, w.Body)
		}
	}
	if w, _, _, _ := get(vadmin, "&village=luoxi&last_visit_outcome=considering"); w.Code != 404 {
		t.Errorf("a village admin naming another village: %d", w.Code)
	}

	// Bad values: 400 naming the field, in Chinese, and nothing changes.
	snapshot := func() string {
		var rows []string
		if err := env.DB.Select(&rows, `SELECT CONCAT_WS('|', id, status, employed, COALESCE(last_visit_id, 0), updated_at) FROM residents ORDER BY id`); err != nil {
			t.Fatal(err)
		}
		return strings.Join(rows, ";") + fmt.Sprintf("#visits=%d#audit=%d", env.Count(`SELECT COUNT(*) FROM visits`), env.Count(`SELECT COUNT(*) FROM audit_log`))
	}
	before := snapshot()
	for _, tc := range []struct{ q, field string }{
		{"&employed=yes", "employed"}, {"&employed=1", "employed"}, {"&employed=TRUE", "employed"},
		{"&last_visit_outcome=gone", "last_visit_outcome"}, {"&last_visit_outcome=Considering", "last_visit_outcome"},
		{"&last_visit_outcome=none,considering", "last_visit_outcome"}, {"&last_visit_outcome=null", "last_visit_outcome"},
		{"&village=zhenxing&status=unenrolled&last_visit_outcome=%E6%8B%92%E7%BB%9D", "last_visit_outcome"},
	} {
		w, _, _, _ := get(admin, tc.q)
		var body struct {
			Error struct{ Code, Field, Message string }
		}
		_ = json.Unmarshal(w.Body, &body)
		if w.Code != 400 || body.Error.Code != "INVALID_INPUT" || body.Error.Field != tc.field || !hasHan(body.Error.Message) {
			t.Errorf("%s: %d %.300s, want 400 INVALID_INPUT on %s with a Chinese message", tc.q, w.Code, w.Body, tc.field)
		}
	}
	if after := snapshot(); after != before {
		t.Fatalf("a refused filter changed something:\n%s\n%s", before, after)
	}
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// TestRosterOutcomeFilterFollowsTheVisitPackage: the outcomes the roster filter accepts are the
// visit package's own plus "none", and api/openapi.yaml documents exactly those, so a new
// visit outcome cannot be recorded yet be unfilterable (or filterable but undocumented).
func TestRosterOutcomeFilterFollowsTheVisitPackage(t *testing.T) {
	want := append(slices.Sorted(maps.Keys(visit.Outcomes)), roster.NeverVisited)
	if got := roster.LastVisitOutcomes(); !slices.Equal(got, want) {
		t.Fatalf("roster accepts %v, the visit package records %v (+ none)", got, want)
	}
	doc := servertest.Contract(t).Doc()
	op := doc.Paths.Value("/api/v1/admin/residents").Get
	p := op.Parameters.GetByInAndName("query", "last_visit_outcome")
	if p == nil || p.Schema == nil || p.Schema.Value == nil {
		t.Fatal("listResidents does not document last_visit_outcome")
	}
	enumOf := func(s *openapi3.Schema) []string {
		var out []string
		for _, v := range s.Enum {
			out = append(out, fmt.Sprint(v))
		}
		slices.Sort(out)
		return out
	}
	sortedWant := slices.Sorted(slices.Values(want))
	if got := enumOf(p.Schema.Value); !slices.Equal(got, sortedWant) {
		t.Errorf("openapi last_visit_outcome enum %v, want %v", got, sortedWant)
	}
	if got := enumOf(doc.Components.Schemas["VisitOutcome"].Value); !slices.Equal(got, slices.Sorted(maps.Keys(visit.Outcomes))) {
		t.Errorf("openapi VisitOutcome enum %v, want the visit package's %v", got, slices.Sorted(maps.Keys(visit.Outcomes)))
	}
	if e := op.Parameters.GetByInAndName("query", "employed"); e == nil || e.Schema == nil || e.Schema.Value == nil ||
		!e.Schema.Value.Type.Is(openapi3.TypeBoolean) {
		t.Error("listResidents does not document employed as a boolean")
	}

	env := servertest.New(t)
	env.AddResident(servertest.ResidentSpec{})
	admin, _ := env.Staff(auth.RoleAdmin, "")
	for _, o := range want {
		if w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/residents?last_visit_outcome=" + o, Token: admin}); w.Code != 200 {
			t.Errorf("%s: %d %s", o, w.Code, w.Body)
		}
	}
}
