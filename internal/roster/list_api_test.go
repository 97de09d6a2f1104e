package roster_test

import (
	"net/url"
	"testing"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/server/servertest"
)

// The roster's filters reach its statements (list.go, built at run time) as bound values only:
// a hostile village matches no one and changes nothing, a hostile status, gender or outcome is
// refused with a clear error, and an honest filter still works.
func TestRosterListFiltersResistInjection(t *testing.T) {
	env := servertest.New(t)
	admin, _ := env.Staff(auth.RoleAdmin, "")
	env.AddResident(servertest.ResidentSpec{Village: "zhenxing", Age: 30})
	env.AddResident(servertest.ResidentSpec{Village: "luoxi", Age: 40})
	count := func() int { return env.Count(`SELECT COUNT(*) FROM residents`) }
	before := count()
	get := func(query string) *servertest.Response {
		return env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/residents?" + query, Token: admin})
	}
	var got list
	for _, h := range servertest.InjectionProbes("residents") {
		// Not a village code: refused, as the contract's VillageCode says.
		if w := get("village=" + url.QueryEscape(h)); w.Code != 400 || w.ErrorCode() != "INVALID_INPUT" || w.ErrorField() != "village" {
			t.Errorf("village %q: %d %s", h, w.Code, w.Body)
		}
		for _, f := range []string{"status", "gender", "last_visit_outcome", "age_min"} {
			if w := get(f + "=" + url.QueryEscape(h)); w.Code != 400 || w.ErrorField() != f {
				t.Errorf("%s %q: %d %s", f, h, w.Code, w.Body)
			}
		}
	}
	if n := count(); n != before {
		t.Fatalf("residents: %d before, %d after", before, n)
	}
	w := get("village=luoxi&status=unenrolled")
	w.JSON(t, &got)
	if w.Code != 200 || got.Total != 1 || len(got.Items) != 1 || got.Items[0].VillageCode != "luoxi" {
		t.Fatalf("honest filter: %d %s", w.Code, w.Body)
	}
}
