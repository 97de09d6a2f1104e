package visit_test

import (
	"net/url"
	"testing"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/server/servertest"
)

// The visit list's filters reach its statements (list.go, built at run time) as bound values
// only: a hostile village matches nothing and changes nothing, a hostile date or resident is
// refused with a clear error, and an honest filter still works.
func TestVisitListFiltersResistInjection(t *testing.T) {
	env := servertest.New(t)
	for _, v := range []string{"zhenxing", "luoxi"} {
		r, _ := env.AddResident(servertest.ResidentSpec{Village: v})
		vol, _ := env.Staff(auth.RoleVolunteer, v)
		if w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/visits", Token: vol, Body: visit(r, "agreed", nil)}); w.Code != 201 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	admin, _ := env.Staff(auth.RoleAdmin, "")
	before := state(env)
	get := func(query string) *servertest.Response {
		return env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/visits?" + query, Token: admin})
	}
	var got struct {
		Items []struct {
			VillageCode string `json:"village_code"`
		} `json:"items"`
		Total int `json:"total"`
	}
	for _, h := range servertest.InjectionProbes("visits") {
		// Not a village code: refused, as the contract's VillageCode says.
		if w := get("village=" + url.QueryEscape(h)); w.Code != 400 || w.ErrorCode() != "INVALID_INPUT" || w.ErrorField() != "village" {
			t.Errorf("village %q: %d %s", h, w.Code, w.Body)
		}
		for _, f := range []string{"from", "to", "resident_id"} {
			if w := get(f + "=" + url.QueryEscape(h)); w.Code != 400 || w.ErrorField() != f {
				t.Errorf("%s %q: %d %s", f, h, w.Code, w.Body)
			}
		}
	}
	if state(env) != before {
		t.Fatal("a hostile filter changed the database")
	}
	w := get("village=luoxi")
	w.JSON(t, &got)
	if w.Code != 200 || got.Total != 1 || len(got.Items) != 1 || got.Items[0].VillageCode != "luoxi" {
		t.Fatalf("honest filter: %d %s", w.Code, w.Body)
	}
}
