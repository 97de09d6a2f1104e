package registration_test

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/server/servertest"
)

// rosterRow is what the roster says about one person, phone decrypted.
type rosterRow struct {
	Name, Village, Status, Phone, Source string
	Updated                              time.Time
}

func rosterOf(t *testing.T, env *servertest.Env, id int64) rosterRow {
	t.Helper()
	var r struct {
		Name     string    `db:"name"`
		Village  string    `db:"village_code"`
		Status   string    `db:"status"`
		Source   string    `db:"source"`
		PhoneEnc []byte    `db:"phone_enc"`
		KeyID    string    `db:"pii_key_id"`
		Updated  time.Time `db:"updated_at"`
	}
	if err := env.DB.Get(&r, `SELECT name, village_code, status, source, phone_enc, pii_key_id, updated_at FROM residents WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	out := rosterRow{Name: r.Name, Village: r.Village, Status: r.Status, Source: r.Source, Updated: r.Updated}
	if r.PhoneEnc != nil {
		p, err := env.Keyring.Decrypt(r.PhoneEnc, r.KeyID, pii.AADResidentPhone)
		if err != nil {
			t.Fatal(err)
		}
		out.Phone = p
	}
	return out
}

// state is everything a registration or a decision can change.
type state struct {
	counts
	daily, regOpen int
	roster         rosterRow
}

func stateOf(t *testing.T, env *servertest.Env, person int64) state {
	return state{counts: snapshot(env), daily: env.Count(`SELECT COALESCE(SUM(enrolled), 0) FROM enrollment_daily`),
		regOpen: env.Count(`SELECT COUNT(*) FROM registrations WHERE status = 'submitted'`), roster: rosterOf(t, env, person)}
}

// TestImpersonationOfARosterPersonIsRefused is issue #10 item 1 end to end: a resident account
// registering a luoxi roster person under a made-up name and another village is refused and
// writes nothing; with the roster's name (in other widths and spacing) and village it is
// accepted, only luoxi's admin can decide it, and what reaches the city carries the roster's name.
func TestImpersonationOfARosterPersonIsRefused(t *testing.T) {
	env := servertest.New(t)
	attacker, _ := env.Resident()
	zAdmin, _ := env.Staff(auth.RoleVillageAdmin, "zhenxing")
	lAdmin, _ := env.Staff(auth.RoleVillageAdmin, "luoxi")
	admin, _ := env.Staff(auth.RoleAdmin, "")
	person, idNumber := env.AddResident(servertest.ResidentSpec{Village: "luoxi", Name: "林晓燕", Gender: idcard.Female, Age: 50, Phone: "13900002222"})
	before := stateOf(t, env, person)

	// Another village and a made-up name: the village is the roster's, not the request's.
	w := post(env, attacker, body(idNumber, map[string]any{"name": "冒名", "phone": "13800009999", "village_code": "zhenxing"}))
	if w.Code != 422 || w.ErrorCode() != "VILLAGE_MISMATCH" || w.ErrorField() != "village_code" {
		t.Fatalf("other village: %d %s", w.Code, w.Body)
	}
	if after := stateOf(t, env, person); after != before {
		t.Fatalf("a refused registration changed something: %+v -> %+v", before, after)
	}
	// The roster's village and a made-up name: the name must be the roster's.
	w = post(env, attacker, body(idNumber, map[string]any{"name": "冒名", "phone": "13800009999", "village_code": "luoxi"}))
	if w.Code != 422 || w.ErrorCode() != "IDENTITY_MISMATCH" || w.ErrorField() != "name" || !bytes.Contains(w.Body, []byte("身份证")) {
		t.Fatalf("made-up name: %d %s", w.Code, w.Body)
	}
	if after := stateOf(t, env, person); after != before {
		t.Fatalf("a refused registration changed something: %+v -> %+v", before, after)
	}

	// The roster's name, typed with an ideographic space and spaces around: accepted.
	w = post(env, attacker, body(idNumber, map[string]any{"name": " 林\u3000晓 燕 ", "phone": "13800009999", "village_code": "luoxi"}))
	if w.Code != 201 {
		t.Fatalf("the roster's name: %d %s", w.Code, w.Body)
	}
	var rc struct{ ID int64 }
	w.JSON(t, &rc)
	var regVillage string
	_ = env.DB.Get(&regVillage, `SELECT village_code FROM registrations WHERE id = ?`, rc.ID)
	if regVillage != "luoxi" {
		t.Fatalf("registration village %q", regVillage)
	}
	if got := rosterOf(t, env, person); got != before.roster {
		t.Fatalf("registering changed the roster: %+v -> %+v", before.roster, got)
	}

	act := func(token, what string, b any) *servertest.Response {
		return env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/registrations/" + strconv.FormatInt(rc.ID, 10) + "/" + what, Token: token, Body: b})
	}
	// zhenxing's admin cannot see, confirm or reject a luoxi person's registration.
	mid := stateOf(t, env, person)
	if w := act(zAdmin, "confirm", nil); w.Code != 404 {
		t.Fatalf("zhenxing admin confirming: %d %s", w.Code, w.Body)
	}
	if w := act(zAdmin, "reject", map[string]string{"reason": "不是本村"}); w.Code != 404 {
		t.Fatalf("zhenxing admin rejecting: %d %s", w.Code, w.Body)
	}
	if after := stateOf(t, env, person); after != mid {
		t.Fatalf("another village's admin changed something: %+v -> %+v", mid, after)
	}
	lw := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/registrations", Token: zAdmin})
	var l struct{ Total int }
	lw.JSON(t, &l)
	if lw.Code != 200 || l.Total != 0 {
		t.Fatalf("zhenxing admin's list: %d %s", lw.Code, lw.Body)
	}

	// luoxi's admin confirms: one enrollment for luoxi; the roster keeps its name, village and
	// phone (it had one).
	if w := act(lAdmin, "confirm", nil); w.Code != 200 {
		t.Fatalf("luoxi admin confirming: %d %s", w.Code, w.Body)
	}
	today := time.Now().In(shanghai).Format(time.DateOnly)
	if n := env.Count(`SELECT COUNT(*) FROM enrollments WHERE resident_id = ? AND village_code = 'luoxi' AND enrolled_on = ?`, person, today); n != 1 {
		t.Fatalf("luoxi enrollments: %d", n)
	}
	if n := env.Count(`SELECT COALESCE(SUM(enrolled), 0) FROM enrollment_daily WHERE village_code = 'luoxi'`); n != 1 {
		t.Fatalf("luoxi daily aggregate: %d", n)
	}
	if n := env.Count(`SELECT COALESCE(SUM(enrolled), 0) FROM enrollment_daily WHERE village_code = 'zhenxing'`); n != 0 {
		t.Fatalf("zhenxing daily aggregate: %d", n)
	}
	got := rosterOf(t, env, person)
	if got.Name != "林晓燕" || got.Village != "luoxi" || got.Phone != "13900002222" || got.Status != "resident_pension" {
		t.Fatalf("roster after confirmation: %+v", got)
	}

	// The hand-over to the city lists the roster's name next to the roster's ID number.
	env.AllowPII["/api/v1/admin/exports/registrations"] = true
	ew := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/exports/registrations?from=" + today + "&to=" + today, Token: admin})
	if ew.Code != 200 {
		t.Fatalf("export: %d %s", ew.Code, ew.Body)
	}
	f, err := excelize.OpenReader(bytes.NewReader(ew.Body))
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := f.GetRows("参保登记")
	if len(rows) != 2 {
		t.Fatalf("export rows: %v", rows)
	}
	if r := rows[1]; r[0] != strconv.FormatInt(rc.ID, 10) || r[1] != "luoxi" || r[2] != "林晓燕" || r[3] != idNumber || r[4] != "13900002222" {
		t.Fatalf("export row %v, want the roster's name, village and phone", r)
	}
}

// TestRegistrationOfSomeoneNotOnTheRoster: the registration adds the person to the roster in the
// village asked for, with the name given but no phone; the phone reaches the roster only when
// a staff member confirms the registration.
func TestRegistrationOfSomeoneNotOnTheRoster(t *testing.T) {
	env := servertest.New(t)
	tok, _ := env.Resident()
	lAdmin, _ := env.Staff(auth.RoleVillageAdmin, "luoxi")
	id := idAged(47, idcard.Female, 81)
	w := post(env, tok, body(id, map[string]any{"name": "吴　秀英", "phone": "13700001234", "village_code": "luoxi"}))
	if w.Code != 201 {
		t.Fatalf("register: %d %s", w.Code, w.Body)
	}
	var rc struct{ ID int64 }
	w.JSON(t, &rc)
	var person int64
	_ = env.DB.Get(&person, `SELECT resident_id FROM registrations WHERE id = ?`, rc.ID)
	r := rosterOf(t, env, person)
	if r.Village != "luoxi" || r.Source != "registration" || r.Status != "unenrolled" || r.Phone != "" || r.Name != "吴 秀英" {
		t.Fatalf("roster row from a registration: %+v", r)
	}
	if w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/registrations/" + strconv.FormatInt(rc.ID, 10) + "/confirm", Token: lAdmin}); w.Code != 200 {
		t.Fatalf("confirm: %d %s", w.Code, w.Body)
	}
	r = rosterOf(t, env, person)
	if r.Phone != "13700001234" || r.Status != "resident_pension" || r.Village != "luoxi" {
		t.Fatalf("roster after confirmation: %+v", r)
	}
	// The phone index follows the phone.
	if n := env.Count(`SELECT COUNT(*) FROM residents WHERE id = ? AND phone_bidx = ?`, person, env.Keyring.BlindIndex(pii.IndexPhone, "13700001234")); n != 1 {
		t.Fatal("phone index not set")
	}
}

// TestDecisionsFollowThePersonsVillage: who may confirm or reject is decided by the village the
// roster puts the person in, which an import may have changed since the registration.
func TestDecisionsFollowThePersonsVillage(t *testing.T) {
	env := servertest.New(t)
	tok, _ := env.Resident()
	zAdmin, _ := env.Staff(auth.RoleVillageAdmin, "zhenxing")
	lAdmin, _ := env.Staff(auth.RoleVillageAdmin, "luoxi")
	person, idNumber := env.AddResident(servertest.ResidentSpec{Village: "luoxi", Name: "郑国强"})
	w := post(env, tok, body(idNumber, map[string]any{"name": "郑国强", "village_code": "luoxi"}))
	if w.Code != 201 {
		t.Fatalf("register: %d %s", w.Code, w.Body)
	}
	var rc struct{ ID int64 }
	w.JSON(t, &rc)
	// The roster moves the person to zhenxing (a later import).
	env.Exec(`UPDATE residents SET village_code = 'zhenxing' WHERE id = ?`, person)
	act := func(token, what string, b any) *servertest.Response {
		return env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/registrations/" + strconv.FormatInt(rc.ID, 10) + "/" + what, Token: token, Body: b})
	}
	before := stateOf(t, env, person)
	if w := act(lAdmin, "confirm", nil); w.Code != 404 {
		t.Fatalf("the registration's village confirming: %d %s", w.Code, w.Body)
	}
	if w := act(lAdmin, "reject", map[string]string{"reason": "x"}); w.Code != 404 {
		t.Fatalf("the registration's village rejecting: %d %s", w.Code, w.Body)
	}
	if after := stateOf(t, env, person); after != before {
		t.Fatalf("a refused decision changed something: %+v -> %+v", before, after)
	}
	if w := act(zAdmin, "confirm", nil); w.Code != 200 {
		t.Fatalf("the person's village confirming: %d %s", w.Code, w.Body)
	}
	if n := env.Count(`SELECT COUNT(*) FROM enrollments WHERE resident_id = ? AND village_code = 'zhenxing'`, person); n != 1 {
		t.Fatalf("enrollment in the person's village: %d", n)
	}
}
