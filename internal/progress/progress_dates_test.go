package progress_test

import (
	"testing"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/server/servertest"
)

// Dates and months out of range are 400 about their parameter (year 0 answered 500), and
// freeze no report.
func TestReportDatesAreValidated(t *testing.T) {
	env := withPlan(t)
	staff, _ := env.Staff(auth.RoleStaff, "")
	for _, c := range []struct{ query, field string }{
		{"reports/monthly?month=0000-01", "month"},
		{"reports/monthly?month=0001-01", "month"},
		{"reports/monthly?month=1999-12", "month"},
		{"reports/monthly?month=2101-01", "month"},
		{"reports/monthly?month=2024-00", "month"},
		{"reports/monthly?month=2024-13", "month"},
		{"reports/monthly?month=24-01", "month"},
		{"reports/monthly", "month"},
		{"progress?as_of=0001-01-01", "as_of"},
		{"progress?as_of=0000-01-01", "as_of"},
		{"progress?as_of=2101-01-01", "as_of"},
		{"progress?as_of=2024-02-30", "as_of"},
		{"reports/assessment?year=0", "year"},
		{"reports/assessment?year=1999", "year"},
	} {
		w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/" + c.query, Token: staff})
		if w.Code != 400 || w.ErrorField() != c.field {
			t.Errorf("%s: %d %s", c.query, w.Code, w.Body)
		}
	}
	if n := env.Count(`SELECT COUNT(*) FROM monthly_reports`); n != 0 {
		t.Errorf("%d monthly reports frozen", n)
	}
	if w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/reports/monthly?month=2000-01", Token: staff}); w.Code != 200 {
		t.Errorf("month=2000-01: %d %s", w.Code, w.Body)
	}
}
