package registration_test

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/canbao/canbao/api"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/registration"
	"github.com/canbao/canbao/internal/server/servertest"
)

// The warnings of the review queue (issue #12): what the server knows that should make a
// village admin look twice before confirming a registration.

type warning struct{ Code, Message string }

// reviewed is a registration as the review queue lists it; Warnings is nil when the answer has
// no "warnings" at all.
type reviewed struct {
	ID       int64
	Status   string
	Warnings *[]warning
}

var han = regexp.MustCompile(`\p{Han}`)

// queue lists every registration token may review, by id.
func queue(t *testing.T, env *servertest.Env, token string) map[int64]reviewed {
	t.Helper()
	w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/registrations?page_size=100", Token: token})
	if w.Code != 200 {
		t.Fatalf("review queue: %d %s", w.Code, w.Body)
	}
	var l struct{ Items []reviewed }
	w.JSON(t, &l)
	out := map[int64]reviewed{}
	for _, it := range l.Items {
		out[it.ID] = it
	}
	return out
}

// wantWarnings checks that the registration carries exactly the codes given (none: an empty
// array, not a missing one), each with a Chinese message, and returns the messages by code.
func wantWarnings(t *testing.T, r reviewed, codes ...string) map[string]string {
	t.Helper()
	if r.ID == 0 {
		t.Fatal("the registration is not in the review queue")
	}
	if r.Warnings == nil {
		t.Fatalf("registration %d: no warnings array in the answer", r.ID)
	}
	got := []string{}
	msgs := map[string]string{}
	for _, w := range *r.Warnings {
		got = append(got, w.Code)
		msgs[w.Code] = w.Message
		if !han.MatchString(w.Message) {
			t.Errorf("registration %d: warning %s has no Chinese message: %q", r.ID, w.Code, w.Message)
		}
	}
	slices.Sort(got)
	want := append([]string{}, codes...)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("registration %d: warnings %v, want %v (%+v)", r.ID, got, want, *r.Warnings)
	}
	return msgs
}

// registerAs submits b from a fresh resident account and returns the registration's id. Tests
// give each registration its own phone unless they mean it to be shared.
func registerAs(t *testing.T, env *servertest.Env, b map[string]any) int64 {
	t.Helper()
	tok, _ := env.Resident()
	w := post(env, tok, b)
	if w.Code != 201 {
		t.Fatalf("register: %d %s", w.Code, w.Body)
	}
	var rc struct{ ID int64 }
	w.JSON(t, &rc)
	return rc.ID
}

var bornSeq atomic.Int64

// addBorn puts a person born on birth on the roster (zhenxing, unenrolled, no phone) and
// returns their ID number.
func addBorn(t *testing.T, env *servertest.Env, birth time.Time, name string) string {
	t.Helper()
	number := idcard.Generate("350583", birth, int(bornSeq.Add(1))+600, idcard.Female)
	enc, kid, err := env.Keyring.Encrypt(number, pii.AADResidentIDNumber)
	if err != nil {
		t.Fatal(err)
	}
	now := database.Now()
	env.Exec(`INSERT INTO residents (id_number_enc, id_number_bidx, pii_key_id, name, gender, birth_date, village_code, status, source, created_at, updated_at)
		VALUES (?, ?, ?, ?, 'female', ?, 'zhenxing', 'unenrolled', 'seed', ?, ?)`,
		enc, env.Keyring.BlindIndex(pii.IndexIDNumber, number), kid, name, birth, now, now)
	return number
}

func decide(env *servertest.Env, token string, id int64, what string, b any) *servertest.Response {
	return env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/registrations/" + strconv.FormatInt(id, 10) + "/" + what, Token: token, Body: b})
}

// TestReviewWarningsNoneForAMatchingRegistration: a roster person registering with the roster's
// phone, or with a phone when the roster has none, raises nothing.
func TestReviewWarningsNoneForAMatchingRegistration(t *testing.T) {
	env := servertest.New(t)
	zAdmin, _ := env.Staff(auth.RoleVillageAdmin, "zhenxing")
	_, withPhone := env.AddResident(servertest.ResidentSpec{Name: "陈美玲", Phone: "13900002222"})
	_, noPhone := env.AddResident(servertest.ResidentSpec{Name: "陈美玲"})
	a := registerAs(t, env, body(withPhone, map[string]any{"phone": "13900002222"}))
	b := registerAs(t, env, body(noPhone, map[string]any{"phone": "13700003333"}))
	q := queue(t, env, zAdmin)
	wantWarnings(t, q[a])
	wantWarnings(t, q[b])
}

// TestReviewWarningNotOnRoster: an ID number the roster did not have (the registration added
// the person) is flagged while the registration is open; decided, it carries none.
func TestReviewWarningNotOnRoster(t *testing.T) {
	env := servertest.New(t)
	zAdmin, _ := env.Staff(auth.RoleVillageAdmin, "zhenxing")
	a := registerAs(t, env, body(idAged(47, idcard.Female, 91), map[string]any{"phone": "13500000001"}))
	b := registerAs(t, env, body(idAged(46, idcard.Female, 92), map[string]any{"phone": "13500000002"}))
	q := queue(t, env, zAdmin)
	if m := wantWarnings(t, q[a], "not_on_roster"); !strings.Contains(m["not_on_roster"], "花名册") {
		t.Errorf("message %q", m["not_on_roster"])
	}
	wantWarnings(t, q[b], "not_on_roster")

	// The confirm and reject answers use the same schema; a decided registration has no warnings.
	for _, d := range []struct {
		id   int64
		what string
		body any
	}{{a, "confirm", nil}, {b, "reject", map[string]string{"reason": "请携带户口簿到村委会核对"}}} {
		w := decide(env, zAdmin, d.id, d.what, d.body)
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", d.what, w.Code, w.Body)
		}
		var r reviewed
		w.JSON(t, &r)
		wantWarnings(t, r)
	}
	q = queue(t, env, zAdmin)
	wantWarnings(t, q[a])
	wantWarnings(t, q[b])
}

// TestReviewWarningPhoneDiffers: the roster's phone for the person is not the registration's.
// Both reach the answer masked only.
func TestReviewWarningPhoneDiffers(t *testing.T) {
	env := servertest.New(t)
	zAdmin, _ := env.Staff(auth.RoleVillageAdmin, "zhenxing")
	_, id := env.AddResident(servertest.ResidentSpec{Name: "陈美玲", Phone: "13900002222"})
	a := registerAs(t, env, body(id, map[string]any{"phone": "13800009999"}))
	m := wantWarnings(t, queue(t, env, zAdmin)[a], "phone_differs")
	if !strings.Contains(m["phone_differs"], "139****2222") {
		t.Errorf("message %q does not name the roster's phone, masked", m["phone_differs"])
	}
}

// TestReviewWarningEmployedOnRoster: the roster says employed but the person chose the resident
// pension (the employer must insure them), or the registration says employed and the roster not.
func TestReviewWarningEmployedOnRoster(t *testing.T) {
	env := servertest.New(t)
	admin, _ := env.Staff(auth.RoleAdmin, "")
	_, employed := env.AddResident(servertest.ResidentSpec{Name: "陈美玲", Employed: true})
	_, idle := env.AddResident(servertest.ResidentSpec{Name: "陈美玲", Age: 30})
	a := registerAs(t, env, body(employed, map[string]any{"phone": "13500000003"}))
	b := registerAs(t, env, body(idle, map[string]any{"phone": "13500000004", "employed": true, "scheme": "employee_pension", "tier": nil}))
	q := queue(t, env, admin)
	if m := wantWarnings(t, q[a], "employed_on_roster"); !strings.Contains(m["employed_on_roster"], "用人单位") {
		t.Errorf("roster employed: message %q", m["employed_on_roster"])
	}
	if q[b].Status != "referred" {
		t.Fatalf("employee pension registration: %+v", q[b])
	}
	if m := wantWarnings(t, q[b], "employed_on_roster"); !strings.Contains(m["employed_on_roster"], "未就业") {
		t.Errorf("registration employed: message %q", m["employed_on_roster"])
	}
}

// TestReviewWarningPhoneShared: one phone on the open registrations of several people, in any
// village, is flagged on each of them; once the others are decided it no longer is.
func TestReviewWarningPhoneShared(t *testing.T) {
	env := servertest.New(t)
	zAdmin, _ := env.Staff(auth.RoleVillageAdmin, "zhenxing")
	lAdmin, _ := env.Staff(auth.RoleVillageAdmin, "luoxi")
	_, p1 := env.AddResident(servertest.ResidentSpec{Name: "陈美玲"})
	_, p2 := env.AddResident(servertest.ResidentSpec{Name: "陈美玲"})
	_, p3 := env.AddResident(servertest.ResidentSpec{Name: "陈美玲", Village: "luoxi"})
	_, p4 := env.AddResident(servertest.ResidentSpec{Name: "陈美玲"})
	a := registerAs(t, env, body(p1, map[string]any{"phone": "13600004444"}))
	b := registerAs(t, env, body(p2, map[string]any{"phone": "13600004444"}))
	c := registerAs(t, env, body(p3, map[string]any{"phone": "13600004444", "village_code": "luoxi"}))
	d := registerAs(t, env, body(p4, map[string]any{"phone": "13600005555"}))
	q := queue(t, env, zAdmin)
	if m := wantWarnings(t, q[a], "phone_shared"); !strings.Contains(m["phone_shared"], "2 人") {
		t.Errorf("message %q does not count the 2 others", m["phone_shared"])
	}
	wantWarnings(t, q[b], "phone_shared")
	wantWarnings(t, q[d])
	wantWarnings(t, queue(t, env, lAdmin)[c], "phone_shared")

	// Decided registrations are not open: with b confirmed and c rejected, a shares with no one.
	if w := decide(env, zAdmin, b, "confirm", nil); w.Code != 200 {
		t.Fatalf("confirm: %d %s", w.Code, w.Body)
	}
	if w := decide(env, lAdmin, c, "reject", map[string]string{"reason": "请本人到村委会核对"}); w.Code != 200 {
		t.Fatalf("reject: %d %s", w.Code, w.Body)
	}
	wantWarnings(t, queue(t, env, zAdmin)[a])
}

// TestReviewWarningAgeNearLimit: someone who turns 60 this year (the scheme's window closes)
// is flagged with the date, before and after that birthday; someone turning 60 next year is not.
func TestReviewWarningAgeNearLimit(t *testing.T) {
	now := time.Date(2026, time.June, 15, 10, 0, 0, 0, shanghai)
	registration.SetClock(t, func() time.Time { return now })
	env := servertest.New(t)
	zAdmin, _ := env.Staff(auth.RoleVillageAdmin, "zhenxing")
	soon := addBorn(t, env, time.Date(1966, time.September, 1, 0, 0, 0, 0, time.UTC), "林秀英")
	later := addBorn(t, env, time.Date(1967, time.January, 1, 0, 0, 0, 0, time.UTC), "林秀兰")
	a := registerAs(t, env, body(soon, map[string]any{"name": "林秀英", "phone": "13500000005"}))
	b := registerAs(t, env, body(later, map[string]any{"name": "林秀兰", "phone": "13500000006"}))
	q := queue(t, env, zAdmin)
	m := wantWarnings(t, q[a], "age_near_limit")
	if msg := m["age_near_limit"]; !strings.Contains(msg, "将于") || !strings.Contains(msg, "2026年9月1日") {
		t.Errorf("before the birthday: message %q", msg)
	}
	wantWarnings(t, q[b])

	now = time.Date(2026, time.October, 1, 10, 0, 0, 0, shanghai)
	m = wantWarnings(t, queue(t, env, zAdmin)[a], "age_near_limit")
	if msg := m["age_near_limit"]; !strings.Contains(msg, "已于") || !strings.Contains(msg, "2026年9月1日") {
		t.Errorf("after the birthday: message %q", msg)
	}
}

// TestReviewWarningInsuredOnRoster: the roster shows the person insured since they registered
// (an import of the city centre's list), and confirming would overwrite that; or not to be
// insured (a volunteer found them moved away or deceased).
func TestReviewWarningInsuredOnRoster(t *testing.T) {
	env := servertest.New(t)
	zAdmin, _ := env.Staff(auth.RoleVillageAdmin, "zhenxing")
	insured, id1 := env.AddResident(servertest.ResidentSpec{Name: "陈美玲"})
	exempt, id2 := env.AddResident(servertest.ResidentSpec{Name: "陈美玲"})
	a := registerAs(t, env, body(id1, map[string]any{"phone": "13500000007"}))
	b := registerAs(t, env, body(id2, map[string]any{"phone": "13500000008"}))
	env.Exec(`UPDATE residents SET status = 'employee_pension' WHERE id = ?`, insured)
	env.Exec(`UPDATE residents SET status = 'exempt' WHERE id = ?`, exempt)
	q := queue(t, env, zAdmin)
	if m := wantWarnings(t, q[a], "insured_on_roster"); !strings.Contains(m["insured_on_roster"], "企业职工基本养老保险") {
		t.Errorf("message %q", m["insured_on_roster"])
	}
	if m := wantWarnings(t, q[b], "exempt_on_roster"); !strings.Contains(m["exempt_on_roster"], "不需参保") {
		t.Errorf("message %q", m["exempt_on_roster"])
	}
}

// TestWarningCodesAreTheContracts: the server's codes are the enum the console is typed from.
func TestWarningCodesAreTheContracts(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	ref := doc.Components.Schemas["RegistrationWarning"]
	if ref == nil {
		t.Fatal("api/openapi.yaml has no RegistrationWarning")
	}
	var enum []string
	for _, v := range ref.Value.Properties["code"].Value.Enum {
		enum = append(enum, v.(string))
	}
	if !slices.Equal(enum, registration.WarningCodes) {
		t.Fatalf("spec %v, server %v", enum, registration.WarningCodes)
	}
}
