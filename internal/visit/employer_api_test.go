package visit_test

import (
	"strings"
	"testing"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/creditcode"
	"github.com/canbao/canbao/internal/server/servertest"
)

func TestVisitRecordsTheEmployer(t *testing.T) {
	env := servertest.New(t)
	person, _ := env.AddResident(servertest.ResidentSpec{Village: "zhenxing", Employer: "旧单位有限公司"})
	vol, _ := env.Staff(auth.RoleVolunteer, "zhenxing")
	code := creditcode.Generate("91", "350583", "MA2Y0001")
	post := func(b any) *servertest.Response {
		return env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/visits", Token: vol, Body: b})
	}
	employer := func() string {
		var row struct {
			Name     *string `db:"employer_name"`
			Code     *string `db:"employer_credit_code"`
			Employed bool    `db:"employed"`
		}
		if err := env.DB.Get(&row, `SELECT employer_name, employer_credit_code, employed FROM residents WHERE id = ?`, person); err != nil {
			t.Fatal(err)
		}
		s := "-"
		if row.Name != nil {
			s = *row.Name
		}
		if row.Code != nil {
			s += "/" + *row.Code
		}
		if row.Employed {
			s += "/employed"
		}
		return s
	}
	before, visits := employer(), env.Count(`SELECT COUNT(*) FROM visits`)
	swap := func(i int) string {
		b := []byte(code)
		b[i] = map[bool]byte{true: '1', false: '0'}[code[i] == '0']
		return string(b)
	}
	for _, bad := range []map[string]any{
		{"employer_credit_code": swap(17)},
		{"employer_credit_code": swap(16)},
		{"employer_credit_code": "91350583"},
		{"employer_credit_code": "O" + code[1:]},
		{"employer_name": "厂"},
	} {
		w := post(visit(person, "considering", bad))
		field := "employer_credit_code"
		if _, ok := bad["employer_name"]; ok {
			field = "employer_name"
		}
		if w.Code != 400 || w.ErrorField() != field {
			t.Errorf("%v: %d %s", bad, w.Code, w.Body)
		}
		// In a batch, the field names the visit.
		w = post(map[string]any{"visits": []any{visit(person, "considering", nil), visit(person, "considering", bad)}})
		if w.Code != 400 || w.ErrorField() != "visits[1]."+field {
			t.Errorf("batch %v: %d %s", bad, w.Code, w.Body)
		}
	}
	if employer() != before || env.Count(`SELECT COUNT(*) FROM visits`) != visits {
		t.Fatalf("bad input changed the roster: %s → %s", before, employer())
	}
	v := visit(person, "considering", map[string]any{"employer_name": "罗东鞋业有限公司", "employer_credit_code": strings.ToLower(code)})
	if w := post(v); w.Code != 201 {
		t.Fatalf("visit: %d %s", w.Code, w.Body)
	}
	if got := employer(); got != "罗东鞋业有限公司/"+code+"/employed" {
		t.Fatalf("after the visit: %s", got)
	}
}
