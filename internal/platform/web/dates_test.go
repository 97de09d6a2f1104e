package web_test

import (
	"testing"

	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/web"
)

func fieldOf(err error) string {
	if e, ok := errs.As(err); ok && e.Code == errs.InvalidInput {
		return e.Field
	}
	return ""
}

func TestParseDates(t *testing.T) {
	for _, s := range []string{"0001-01-01", "0000-12-31", "1899-12-31", "2101-01-01", "9999-12-31", "2024-02-30", "2024-1-1", ""} {
		if _, err := web.ParseDate(s, "d"); fieldOf(err) != "d" {
			t.Errorf("ParseDate(%q): %v", s, err)
		}
	}
	for _, s := range []string{"1900-01-01", "1958-06-30", "2100-12-31"} {
		if _, err := web.ParseDate(s, "d"); err != nil {
			t.Errorf("ParseDate(%q): %v", s, err)
		}
	}
	for _, s := range []string{"1999-12-31", "2101-01-01"} {
		if _, err := web.ParseRecordDate(s, "d"); fieldOf(err) != "d" {
			t.Errorf("ParseRecordDate(%q): %v", s, err)
		}
	}
	for _, s := range []string{"0000-01", "0001-01", "1999-12", "2101-01", "2024-13", "2024-00", "2024-1", "202401", ""} {
		if _, err := web.ParseMonth(s, "month"); fieldOf(err) != "month" {
			t.Errorf("ParseMonth(%q): %v", s, err)
		}
	}
	if m, err := web.ParseMonth("2100-12", "month"); err != nil || m.Month() != 12 {
		t.Errorf("ParseMonth(2100-12) = %v, %v", m, err)
	}
	for _, c := range []struct{ from, to, field string }{
		{"0001-01-01", "0001-01-02", "from"},
		{"2024-01-01", "", "to"},
		{"2024-01-02", "2024-01-01", "to"},
		{"2024-01-01", "2024-01-11", "to"}, // 11 days
	} {
		if _, _, err := web.ParseDateRange(c.from, c.to, "from", "to", 10); fieldOf(err) != c.field {
			t.Errorf("ParseDateRange(%q, %q): %v", c.from, c.to, err)
		}
	}
	if _, _, err := web.ParseDateRange("2024-01-01", "2024-01-10", "from", "to", 10); err != nil {
		t.Errorf("10 days: %v", err)
	}
}
