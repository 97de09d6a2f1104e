package registration_test

import (
	"net/url"
	"testing"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/server/servertest"
)

// The review queue's filters reach its statements (list.go, built at run time) as bound
// values only: a hostile village matches nothing and changes nothing, a hostile status is
// refused with a clear error, and an honest filter still works.
func TestRegistrationQueueFiltersResistInjection(t *testing.T) {
	env := servertest.New(t)
	tok, _ := env.Resident()
	admin, _ := env.Staff(auth.RoleAdmin, "")
	for i, v := range []string{"zhenxing", "luoxi"} {
		if w := post(env, tok, body(idAged(40+i, idcard.Female, 70+i), map[string]any{"village_code": v})); w.Code != 201 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	before := snapshot(env)
	list := func(query string) *servertest.Response {
		return env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/registrations?" + query, Token: admin})
	}
	var got struct {
		Items []struct {
			VillageCode string `json:"village_code"`
		} `json:"items"`
		Total int `json:"total"`
	}
	for _, h := range servertest.InjectionProbes("registrations") {
		// Not a village code: refused, as the contract's VillageCode says.
		if w := list("village=" + url.QueryEscape(h)); w.Code != 400 || w.ErrorCode() != "INVALID_INPUT" || w.ErrorField() != "village" {
			t.Errorf("village %q: %d %s", h, w.Code, w.Body)
		}
		if w := list("status=" + url.QueryEscape(h)); w.Code != 400 || w.ErrorField() != "status" {
			t.Errorf("status %q: %d %s", h, w.Code, w.Body)
		}
	}
	if snapshot(env) != before {
		t.Fatal("a hostile filter changed the database")
	}
	w := list("village=luoxi&status=submitted")
	w.JSON(t, &got)
	if w.Code != 200 || got.Total != 1 || len(got.Items) != 1 || got.Items[0].VillageCode != "luoxi" {
		t.Fatalf("honest filter: %d %s", w.Code, w.Body)
	}
}
