package registration_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/creditcode"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/dbtest"
	"github.com/canbao/canbao/internal/server/servertest"
)

var shanghai = func() *time.Location { l, _ := time.LoadLocation("Asia/Shanghai"); return l }()

// idAged returns a valid synthetic ID number of someone aged years (and 10 days) today.
func idAged(years int, g idcard.Gender, seq int) string {
	y, m, d := time.Now().In(shanghai).Date()
	birth := time.Date(y-years, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -10)
	return idcard.Generate("350583", birth, seq, g)
}

// idEndingInX finds a valid number whose check character is X.
func idEndingInX(years int) string {
	for seq := 0; seq < 500; seq++ {
		if id := idAged(years, idcard.Female, seq); strings.HasSuffix(id, "X") {
			return id
		}
	}
	panic("no X")
}

func body(id string, over map[string]any) map[string]any {
	b := map[string]any{
		"name": "陈美玲", "id_number": id, "phone": "13800001111", "village_code": "zhenxing",
		"employed": false, "land_expropriated": false, "scheme": "resident_pension", "tier": 300,
	}
	for k, v := range over {
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
	}
	return b
}

type counts struct{ regs, residents, audit, enroll int }

func snapshot(env *servertest.Env) counts {
	return counts{
		regs:      env.Count(`SELECT COUNT(*) FROM registrations`),
		residents: env.Count(`SELECT COUNT(*) FROM residents`),
		audit:     env.Count(`SELECT COUNT(*) FROM audit_log`),
		enroll:    env.Count(`SELECT COUNT(*) FROM enrollments`),
	}
}

func post(env *servertest.Env, token string, b any, hdr ...string) *servertest.Response {
	r := servertest.Request{Method: "POST", Path: "/api/v1/registrations", Token: token, Body: b}
	if len(hdr) == 2 {
		r.Header = map[string]string{hdr[0]: hdr[1]}
	}
	return env.Do(r)
}

func TestRegistrationValidationChangesNothing(t *testing.T) {
	env := servertest.New(t)
	tok, _ := env.Resident()
	staffTok, _ := env.Staff(auth.RoleAdmin, "")
	older := idAged(50, idcard.Male, 1)
	bad := older[:17] + string("0123456789X"[(strings.IndexByte("0123456789X", older[17])+1)%11])
	cases := []struct {
		name   string
		token  string
		body   any
		status int
		code   string
		field  string
	}{
		{"no token", "", body(older, nil), 401, "UNAUTHENTICATED", ""},
		{"staff token", staffTok, body(older, nil), 403, "FORBIDDEN", ""},
		{"bad checksum", tok, body(bad, nil), 400, "ID_NUMBER_INVALID", "id_number"},
		{"id too short", tok, body("35058319700101", nil), 400, "ID_NUMBER_INVALID", "id_number"},
		{"future birth", tok, body(idcard.Generate("350583", time.Now().AddDate(1, 0, 0), 1, idcard.Male), nil), 400, "ID_NUMBER_INVALID", "id_number"},
		{"impossible date", tok, body(idcard.Generate("350583", time.Date(1970, 2, 28, 0, 0, 0, 0, time.UTC), 1, idcard.Male)[:10]+"0230"+"0010", nil), 400, "ID_NUMBER_INVALID", "id_number"},
		{"no id", tok, body(older, map[string]any{"id_number": nil}), 400, "ID_NUMBER_INVALID", "id_number"},
		{"bad phone", tok, body(older, map[string]any{"phone": "12800001111"}), 400, "PHONE_INVALID", "phone"},
		{"short phone", tok, body(older, map[string]any{"phone": "1380000111"}), 400, "PHONE_INVALID", "phone"},
		{"digits in name", tok, body(older, map[string]any{"name": "陈2"}), 400, "NAME_INVALID", "name"},
		{"control char in name", tok, body(older, map[string]any{"name": "陈\u0007"}), 400, "NAME_INVALID", "name"},
		{"long name", tok, body(older, map[string]any{"name": strings.Repeat("陈", 31)}), 400, "NAME_INVALID", "name"},
		{"empty name", tok, body(older, map[string]any{"name": " "}), 400, "NAME_INVALID", "name"},
		{"unknown village", tok, body(older, map[string]any{"village_code": "atlantis"}), 400, "VILLAGE_UNKNOWN", "village_code"},
		{"tier not offered", tok, body(older, map[string]any{"tier": 150}), 400, "TIER_INVALID", "tier"},
		{"tier missing", tok, body(older, map[string]any{"tier": nil}), 400, "TIER_INVALID", "tier"},
		{"tier on employee pension", tok, body(idAged(30, idcard.Male, 2), map[string]any{"scheme": "employee_pension"}), 400, "TIER_INVALID", "tier"},
		{"unknown scheme", tok, body(older, map[string]any{"scheme": "gold_plan"}), 400, "INVALID_INPUT", "scheme"},
		{"missing employed", tok, body(older, map[string]any{"employed": nil}), 400, "INVALID_INPUT", "employed"},
		{"client sets status", tok, body(older, map[string]any{"status": "confirmed"}), 400, "UNKNOWN_FIELD", "status"},
		{"empty privacy version", tok, body(older, map[string]any{"privacy_notice_version": ""}), 400, "INVALID_INPUT", "privacy_notice_version"},
		{"wrong type", tok, body(older, map[string]any{"tier": "300"}), 400, "INVALID_INPUT", "tier"},
		{"malformed", tok, `{"name":`, 400, "MALFORMED_JSON", ""},
		{"employed person picks resident pension", tok, body(idAged(50, idcard.Male, 3), map[string]any{"employed": true}), 422, "SCHEME_NOT_ALLOWED", "scheme"},
		{"too old", tok, body(idAged(61, idcard.Female, 4), nil), 422, "AGE_OUT_OF_SCOPE", ""},
		{"too young", tok, body(idAged(15, idcard.Female, 5), nil), 422, "AGE_OUT_OF_SCOPE", ""},
		{"employer code check character", tok, body(idAged(30, idcard.Male, 6), map[string]any{"employed": true, "scheme": "employee_pension", "tier": nil,
			"employer_credit_code": employerCode[:17] + map[bool]string{true: "1", false: "0"}[employerCode[17] == '0']}), 400, "CREDIT_CODE_INVALID", "employer_credit_code"},
		{"employer code length", tok, body(idAged(30, idcard.Male, 6), map[string]any{"employed": true, "scheme": "employee_pension", "tier": nil,
			"employer_credit_code": employerCode[:16]}), 400, "CREDIT_CODE_INVALID", "employer_credit_code"},
		{"employer name too long", tok, body(idAged(30, idcard.Male, 6), map[string]any{"employed": true, "scheme": "employee_pension", "tier": nil,
			"employer_name": strings.Repeat("厂", 129)}), 400, "INVALID_INPUT", "employer_name"},
		{"employer but not employed", tok, body(older, map[string]any{"employer_name": "罗东鞋业有限公司"}), 400, "INVALID_INPUT", "employed"},
	}
	before := snapshot(env)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := post(env, tc.token, tc.body)
			if w.Code != tc.status || w.ErrorCode() != tc.code || w.ErrorField() != tc.field {
				t.Fatalf("got %d %s", w.Code, w.Body)
			}
			if after := snapshot(env); after != before {
				t.Fatalf("bad input changed the database: %+v -> %+v", before, after)
			}
		})
	}
	big := body(older, map[string]any{"name": strings.Repeat("陈", 30000)})
	if w := post(env, tok, big); w.Code != 413 {
		t.Fatalf("64 KiB body limit: %d", w.Code)
	}
}

var employerCode = creditcode.Generate("91", "350583", "MA2Y0001")

// TestRegistrationRecordsTheEmployer: the employer is kept on the registration; a person the
// registration adds to the roster gets it on the roster too; one already on it keeps the roster's.
func TestRegistrationRecordsTheEmployer(t *testing.T) {
	env := servertest.New(t)
	tok, _ := env.Resident()
	tok2, _ := env.Resident()
	newcomer := idAged(30, idcard.Male, 7)
	w := post(env, tok, body(newcomer, map[string]any{"employed": true, "scheme": "employee_pension", "tier": nil,
		"employer_name": " 罗东鞋业有限公司 ", "employer_credit_code": strings.ToLower(employerCode)}))
	if w.Code != 201 {
		t.Fatalf("register: %d %s", w.Code, w.Body)
	}
	var newcomerReg, onRosterReg struct{ ID int64 }
	w.JSON(t, &newcomerReg)
	if n := env.Count(`SELECT COUNT(*) FROM registrations WHERE employer_name = '罗东鞋业有限公司' AND employer_credit_code = ?`, employerCode); n != 1 {
		t.Fatalf("registration's employer: %d", n)
	}
	if n := env.Count(`SELECT COUNT(*) FROM residents WHERE employed = 1 AND employer_name = '罗东鞋业有限公司' AND employer_credit_code = ?`, employerCode); n != 1 {
		t.Fatalf("new roster person's employer: %d", n)
	}
	// On the roster already (through the group commit): the roster is not changed.
	_, onRoster := env.AddResident(servertest.ResidentSpec{Village: "zhenxing", Name: "陈美玲", Age: 31, Employed: true})
	w = post(env, tok2, body(onRoster, map[string]any{"employed": true, "scheme": "employee_pension", "tier": nil, "employer_credit_code": employerCode}))
	if w.Code != 201 {
		t.Fatalf("register on roster: %d %s", w.Code, w.Body)
	}
	w.JSON(t, &onRosterReg)
	if n := env.Count(`SELECT COUNT(*) FROM registrations WHERE employer_name IS NULL AND employer_credit_code = ?`, employerCode); n != 1 {
		t.Fatalf("on-roster registration's employer: %d", n)
	}
	if n := env.Count(`SELECT COUNT(*) FROM residents WHERE employer_credit_code IS NOT NULL`); n != 1 {
		t.Fatalf("the roster changed: %d people with an employer", n)
	}

	// The reviewers see the employer each registrant named, and so does the registrant.
	type withEmployer struct {
		ID         int64   `json:"id"`
		Employer   *string `json:"employer_name"`
		CreditCode *string `json:"employer_credit_code"`
	}
	var queue struct{ Items []withEmployer }
	admin, _ := env.Staff(auth.RoleAdmin, "")
	if w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/registrations?status=referred", Token: admin}); w.Code != 200 {
		t.Fatalf("queue: %d %s", w.Code, w.Body)
	} else {
		w.JSON(t, &queue)
	}
	got := map[int64]withEmployer{}
	for _, it := range queue.Items {
		got[it.ID] = it
	}
	if len(got) != 2 {
		t.Errorf("the queue holds %d registrations, want 2: %+v", len(got), queue.Items)
	}
	if r := got[onRosterReg.ID]; r.Employer != nil || r.CreditCode == nil || *r.CreditCode != employerCode {
		t.Errorf("the queue's on-roster registration: %+v (want no name, code %s)", r, employerCode)
	}
	if r := got[newcomerReg.ID]; r.Employer == nil || *r.Employer != "罗东鞋业有限公司" || r.CreditCode == nil || *r.CreditCode != employerCode {
		t.Errorf("the queue's newcomer registration: %+v", r)
	}
	var mine struct{ Items []withEmployer }
	env.Do(servertest.Request{Method: "GET", Path: "/api/v1/registrations/mine", Token: tok}).JSON(t, &mine)
	if len(mine.Items) != 1 || mine.Items[0].Employer == nil || *mine.Items[0].Employer != "罗东鞋业有限公司" {
		t.Errorf("the registrant's own list: %+v", mine.Items)
	}
}

func TestRegistrationHappyPathsAndConflicts(t *testing.T) {
	env := servertest.New(t)
	tok, acct := env.Resident()
	other, _ := env.Resident()

	id := idAged(50, idcard.Male, 11)
	w := post(env, tok, body(id, nil))
	if w.Code != 201 {
		t.Fatalf("register: %d %s", w.Code, w.Body)
	}
	var rc struct {
		ID             int64
		Status         string
		Scheme         string
		Tier           *int
		RegisterAt     string `json:"register_at"`
		IDNumberMasked string `json:"id_number_masked"`
	}
	w.JSON(t, &rc)
	if rc.Status != "submitted" || rc.Scheme != "resident_pension" || *rc.Tier != 300 || rc.RegisterAt != "village" || rc.IDNumberMasked != pii.MaskID(id) {
		t.Fatalf("receipt %+v", rc)
	}
	// Stored encrypted, found by blind index, linked to the account, audited once.
	if n := env.Count(`SELECT COUNT(*) FROM residents WHERE source = 'registration' AND status = 'unenrolled' AND gender = 'male'`); n != 1 {
		t.Fatalf("resident rows: %d", n)
	}
	if n := env.Count(`SELECT COUNT(*) FROM resident_accounts WHERE id = ? AND resident_id IS NOT NULL`, acct); n != 1 {
		t.Fatal("account not linked to the resident")
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'registration.create'`); n != 1 {
		t.Fatalf("audit rows %d", n)
	}
	var pv string
	_ = env.DB.Get(&pv, `SELECT privacy_notice_version FROM registrations WHERE id = ?`, rc.ID)
	if pv != env.Config.Business.PrivacyNoticeVersion {
		t.Fatalf("privacy notice version %q", pv)
	}

	// The same person again this year: 409, from this account or another.
	for _, tk := range []string{tok, other} {
		if w := post(env, tk, body(id, map[string]any{"tier": 500})); w.Code != 409 || w.ErrorCode() != "ALREADY_REGISTERED" {
			t.Fatalf("duplicate: %d %s", w.Code, w.Body)
		}
	}
	// Lower-case x is normalised: the same person in another spelling is still a duplicate.
	xid := idEndingInX(42)
	if w := post(env, other, body(strings.ToLower(xid), map[string]any{"name": "王丽"})); w.Code != 201 {
		t.Fatalf("lower-case x: %d %s", w.Code, w.Body)
	}
	if w := post(env, other, body(xid, map[string]any{"name": "王丽"})); w.Code != 409 {
		t.Fatalf("upper-case X of the same person: %d", w.Code)
	}

	// A young unemployed person choosing the employee pension is referred to the city centre.
	young := idAged(30, idcard.Male, 12)
	w = post(env, other, body(young, map[string]any{"scheme": "employee_pension", "tier": nil, "privacy_notice_version": "2026-01"}))
	if w.Code != 201 || !strings.Contains(string(w.Body), `"status":"referred"`) || !strings.Contains(string(w.Body), "南安市社会保险管理中心") {
		t.Fatalf("referral: %d %s", w.Code, w.Body)
	}

	// Someone the roster shows insured is told so.
	insured := idAged(45, idcard.Female, 13)
	enc, kid, _ := env.Keyring.Encrypt(insured, pii.AADResidentIDNumber)
	now := database.Now()
	env.Exec(`INSERT INTO residents (id_number_enc, id_number_bidx, pii_key_id, name, gender, birth_date, village_code, status, source, created_at, updated_at)
		VALUES (?, ?, ?, '林', 'female', '1980-01-01', 'zhenxing', 'resident_pension', 'seed', ?, ?)`,
		enc, env.Keyring.BlindIndex(pii.IndexIDNumber, insured), kid, now, now)
	third, _ := env.Resident()
	// ... but only when the name is the roster's: a made-up name learns nothing about it.
	if w := post(env, third, body(insured, nil)); w.Code != 422 || w.ErrorCode() != "IDENTITY_MISMATCH" {
		t.Fatalf("insured person under another name: %d %s", w.Code, w.Body)
	}
	if w := post(env, third, body(insured, map[string]any{"name": "林"})); w.Code != 409 || w.ErrorCode() != "ALREADY_ENROLLED" {
		t.Fatalf("insured person: %d %s", w.Code, w.Body)
	}

	// mine: each resident sees only their own.
	var mine struct {
		Items []struct {
			ID             int64
			IDNumberMasked string `json:"id_number_masked"`
			PhoneMasked    string `json:"phone_masked"`
		}
		Total int
	}
	m := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/registrations/mine", Token: tok})
	m.JSON(t, &mine)
	if m.Code != 200 || mine.Total != 1 || mine.Items[0].ID != rc.ID || mine.Items[0].PhoneMasked != "138****1111" {
		t.Fatalf("mine: %d %s", m.Code, m.Body)
	}
	m = env.Do(servertest.Request{Method: "GET", Path: "/api/v1/registrations/mine", Token: other})
	m.JSON(t, &mine)
	if mine.Total != 2 {
		t.Fatalf("other's mine: %s", m.Body)
	}
	for _, it := range mine.Items {
		if it.ID == rc.ID {
			t.Fatal("another resident's registration leaked into mine")
		}
	}
}

func TestIdempotentRegistration(t *testing.T) {
	env := servertest.New(t)
	tok, _ := env.Resident()
	id := idAged(52, idcard.Female, 21)
	a := post(env, tok, body(id, nil), "Idempotency-Key", "reg-1")
	b := post(env, tok, body(id, nil), "Idempotency-Key", "reg-1")
	if a.Code != 201 || b.Code != 201 || string(a.Body) != string(b.Body) {
		t.Fatalf("replay: %d %s / %d %s", a.Code, a.Body, b.Code, b.Body)
	}
	c := post(env, tok, body(id, map[string]any{"tier": 1000}), "Idempotency-Key", "reg-1")
	if c.Code != 422 || c.ErrorCode() != "IDEMPOTENCY_KEY_REUSED" {
		t.Fatalf("reuse: %d %s", c.Code, c.Body)
	}
	if n := env.Count(`SELECT COUNT(*) FROM registrations`); n != 1 {
		t.Fatalf("rows: %d", n)
	}
	// A refusal is an answer too: replayed as it was, marked as a replay, nothing written.
	bad := body(idAged(40, idcard.Male, 22), map[string]any{"phone": "12345"})
	d := post(env, tok, bad, "Idempotency-Key", "reg-2")
	e := post(env, tok, bad, "Idempotency-Key", "reg-2")
	if d.Code != 400 || e.Code != 400 || string(d.Body) != string(e.Body) || d.Header.Get("Idempotent-Replayed") != "" ||
		e.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replayed refusal: %d %s %v / %d %s %v", d.Code, d.Body, d.Header, e.Code, e.Body, e.Header)
	}
	if n := env.Count(`SELECT COUNT(*) FROM registrations`); n != 1 {
		t.Fatalf("rows after the refusals: %d", n)
	}
}

var hexDigest = regexp.MustCompile(`^[0-9a-f]{24}$`)

func TestDistinctIDNumbersPerAccountPerDayAreLimited(t *testing.T) {
	env := servertest.New(t)
	tok, _ := env.Resident()
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, idAged(50+i, idcard.Male, 30+i))
		if w := post(env, tok, body(ids[i], nil)); w.Code != 201 {
			t.Fatalf("registration %d: %d %s", i, w.Code, w.Body)
		}
	}
	before := snapshot(env)
	ids = append(ids, idAged(55, idcard.Male, 40))
	w := post(env, tok, body(ids[3], nil))
	if w.Code != 429 || w.Header.Get("Retry-After") == "" {
		t.Fatalf("4th distinct ID number: %d %s", w.Code, w.Body)
	}
	if snapshot(env) != before {
		t.Fatal("a rate-limited registration wrote something")
	}
	// Re-submitting one of the same three is not a new probe (it answers 409, not 429).
	if w := post(env, tok, body(idAged(50, idcard.Male, 30), nil)); w.Code != 409 {
		t.Fatalf("same ID again: %d", w.Code)
	}
	keys, _ := dbtest.Keys(servertest.Ctx(), env.Redis, env.Prefix+"*")
	for _, k := range keys {
		if pii.ContainsPII(k) {
			t.Fatalf("Redis key carries personal data: %s", k)
		}
		// A member is a hex digest of the blind index, and may by chance hold a run of decimal
		// digits that reads like a phone number ("5f3ae8b17241580390a6d471" did): so it is
		// checked for the ID numbers themselves and their birth dates, not with ContainsPII.
		members, _ := env.Redis.SMembers(servertest.Ctx(), k).Result()
		for _, m := range members {
			if !hexDigest.MatchString(m) {
				t.Fatalf("Redis set member is not a digest: %s", m)
			}
			for _, id := range ids {
				if strings.Contains(m, id) || strings.Contains(m, id[6:14]) || strings.Contains(m, id[len(id)-6:]) {
					t.Fatalf("Redis set member %s carries part of ID number %s", m, pii.MaskID(id))
				}
			}
		}
	}
}

func TestVillageAdminReview(t *testing.T) {
	env := servertest.New(t)
	tok, _ := env.Resident()
	zAdmin, _ := env.Staff(auth.RoleVillageAdmin, "zhenxing")
	lAdmin, _ := env.Staff(auth.RoleVillageAdmin, "luoxi")
	admin, _ := env.Staff(auth.RoleAdmin, "")
	vol, _ := env.Staff(auth.RoleVolunteer, "zhenxing")

	ids := map[string]int64{}
	for i, v := range []string{"zhenxing", "zhenxing", "luoxi"} {
		w := post(env, tok, body(idAged(48+i, idcard.Male, 50+i), map[string]any{"village_code": v}))
		if w.Code != 201 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		var r struct{ ID int64 }
		w.JSON(t, &r)
		ids[fmt.Sprintf("%s%d", v, i)] = r.ID
	}
	list := func(token, query string) (int, int) {
		w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/registrations" + query, Token: token})
		var l struct{ Total int }
		w.JSON(t, &l)
		return w.Code, l.Total
	}
	if code, n := list(zAdmin, ""); code != 200 || n != 2 {
		t.Fatalf("zhenxing admin sees %d (%d)", n, code)
	}
	if code, _ := list(zAdmin, "?village=luoxi"); code != 404 {
		t.Fatalf("another village's filter: %d", code)
	}
	if code, n := list(admin, ""); code != 200 || n != 3 {
		t.Fatalf("admin sees %d", n)
	}
	if code, n := list(admin, "?village=luoxi&status=submitted"); code != 200 || n != 1 {
		t.Fatalf("admin filter: %d %d", code, n)
	}
	if code, _ := list(vol, ""); code != 403 {
		t.Fatalf("volunteer: %d", code)
	}
	if code, _ := list(admin, "?status=maybe"); code != 400 {
		t.Fatalf("bad status filter: %d", code)
	}

	act := func(token string, id int64, what string, b any) *servertest.Response {
		return env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/registrations/" + strconv.FormatInt(id, 10) + "/" + what, Token: token, Body: b})
	}
	luoxi := ids["luoxi2"]
	if w := act(zAdmin, luoxi, "confirm", nil); w.Code != 404 {
		t.Fatalf("confirming another village's registration: %d", w.Code)
	}
	if w := act(lAdmin, ids["zhenxing0"], "reject", map[string]string{"reason": "x"}); w.Code != 404 {
		t.Fatalf("rejecting another village's registration: %d", w.Code)
	}
	z0 := ids["zhenxing0"]
	before := snapshot(env)
	if w := act(zAdmin, z0, "reject", map[string]string{"reason": ""}); w.Code != 400 || w.ErrorField() != "reason" {
		t.Fatalf("reject without reason: %d %s", w.Code, w.Body)
	}
	if snapshot(env) != before {
		t.Fatal("a bad reject changed the database")
	}
	w := act(zAdmin, z0, "confirm", nil)
	if w.Code != 200 || !strings.Contains(string(w.Body), `"status":"confirmed"`) {
		t.Fatalf("confirm: %d %s", w.Code, w.Body)
	}
	if w := act(zAdmin, z0, "confirm", nil); w.Code != 409 || w.ErrorCode() != "REGISTRATION_NOT_OPEN" {
		t.Fatalf("confirm twice: %d %s", w.Code, w.Body)
	}
	// A confirmed registration is one new enrollment, dated today, in the person's village.
	today := time.Now().In(shanghai).Format(time.DateOnly)
	if n := env.Count(`SELECT COUNT(*) FROM enrollments WHERE village_code = 'zhenxing' AND source = 'registration' AND enrolled_on = ?`, today); n != 1 {
		t.Fatalf("enrollments: %d", n)
	}
	if n := env.Count(`SELECT COUNT(*) FROM residents r JOIN registrations g ON g.resident_id = r.id WHERE g.id = ? AND r.status = 'resident_pension'`, z0); n != 1 {
		t.Fatal("the person's status did not change")
	}
	// Reject frees the slot: the person can register again this year.
	z1 := ids["zhenxing1"]
	if w := act(admin, z1, "reject", map[string]string{"reason": "身份证照片不清晰，请重新提交"}); w.Code != 200 || !strings.Contains(string(w.Body), "reject_reason") {
		t.Fatalf("reject: %d %s", w.Code, w.Body)
	}
	if w := act(admin, z1, "reject", map[string]string{"reason": "再次退回"}); w.Code != 409 || w.ErrorCode() != "REGISTRATION_NOT_OPEN" {
		t.Fatalf("reject twice: %d %s", w.Code, w.Body)
	}
	if w := post(env, tok, body(idAged(49, idcard.Male, 51), nil)); w.Code != 201 {
		t.Fatalf("register again after a rejection: %d %s", w.Code, w.Body)
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action IN ('registration.confirm','registration.reject')`); n != 2 {
		t.Fatalf("decision audit rows: %d", n)
	}
	if w := act(admin, 999999, "confirm", nil); w.Code != 404 {
		t.Fatalf("unknown id: %d", w.Code)
	}
}

// TestUndecryptableRegistrationIsAnError: a registration's phone sealed under another key was
// listed as "***********"; it is a 500 and a log line naming the row now.
func TestUndecryptableRegistrationIsAnError(t *testing.T) {
	env := servertest.New(t)
	tok, _ := env.Resident()
	admin, _ := env.Staff(auth.RoleAdmin, "")
	w := post(env, tok, body(idAged(48, idcard.Male, 70), nil))
	if w.Code != 201 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var r struct{ ID int64 }
	w.JSON(t, &r)
	other := make([]byte, 32)
	other[0] = 3
	kr, err := pii.NewKeyring("k1", map[string][]byte{"k1": other}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	ct, _, _ := kr.Encrypt("13800001111", pii.AADRegistrationPhone)
	env.Exec(`UPDATE registrations SET phone_enc = ? WHERE id = ?`, ct, r.ID)
	env.SkipContract = true // 500 INTERNAL is documented once for every route
	w = env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/registrations", Token: admin})
	if w.Code != 500 || w.ErrorCode() != "INTERNAL" || strings.Contains(string(w.Body), "*****") {
		t.Fatalf("list with an undecryptable registration: %d %s", w.Code, w.Body)
	}
	if logs := env.Logs.String(); !strings.Contains(logs, fmt.Sprintf("row %d", r.ID)) || !strings.Contains(logs, pii.AADRegistrationPhone) {
		t.Fatalf("the log does not name the row:\n%s", logs)
	}
}
