package auth_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/server/servertest"
)

// hostile are filter values written to break out of a string literal or the statement.
var hostile = []string{
	`' OR '1'='1`,
	`zhenxing' OR 1=1 -- `,
	`x'; DELETE FROM staff_users; -- `,
	`") OR 1=1 #`,
	`\' OR 1=1 /*`,
}

// The staff list's filters reach the statement as bound values only: the text never holds
// them, whatever they are.
func TestStaffListSQLBindsFilterValues(t *testing.T) {
	for _, h := range hostile {
		count, page, args := auth.StaffListSQL(h, h)
		for _, q := range []string{count, page} {
			if strings.Contains(q, h) || strings.Contains(q, "'") {
				t.Errorf("filter %q is in the text: %s", h, q)
			}
		}
		if !slices.Equal(args, []any{h, h}) {
			t.Errorf("filter %q: args %v", h, args)
		}
	}
	count, _, args := auth.StaffListSQL("", "")
	if count != "SELECT COUNT(*) FROM staff_users WHERE 1=1" || len(args) != 0 {
		t.Fatalf("no filters: %q %v", count, args)
	}
}

// Through the API: a hostile village matches no one and changes nothing, a hostile role is
// refused with a clear error, and an honest filter still works.
func TestStaffListFiltersResistInjection(t *testing.T) {
	env := servertest.New(t)
	admin, _ := env.Staff(auth.RoleAdmin, "")
	createUser(t, env, "vol1", auth.RoleVolunteer, "zhenxing")
	users := env.Count(`SELECT COUNT(*) FROM staff_users`)
	list := func(query string) *servertest.Response {
		return env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/users?" + query, Token: admin})
	}
	var got struct {
		Items []struct{ Username string } `json:"items"`
		Total int                         `json:"total"`
	}
	for _, h := range hostile {
		// Not a village code: refused, as the contract's VillageCode says.
		if w := list("village=" + url.QueryEscape(h)); w.Code != 400 || w.ErrorCode() != "INVALID_INPUT" || w.ErrorField() != "village" {
			t.Errorf("village %q: %d %s", h, w.Code, w.Body)
		}
		if w := list("role=" + url.QueryEscape(h)); w.Code != 400 || w.ErrorCode() != "ROLE_INVALID" || w.ErrorField() != "role" {
			t.Errorf("role %q: %d %s", h, w.Code, w.Body)
		}
	}
	if n := env.Count(`SELECT COUNT(*) FROM staff_users`); n != users {
		t.Fatalf("staff users: %d before, %d after", users, n)
	}
	w := list("village=zhenxing&role=volunteer")
	w.JSON(t, &got)
	if w.Code != 200 || got.Total != 1 || len(got.Items) != 1 || got.Items[0].Username != "vol1" {
		t.Fatalf("honest filter: %d %s", w.Code, w.Body)
	}
}
