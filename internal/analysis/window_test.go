package analysis_test

import (
	"testing"
	"time"

	"github.com/canbao/canbao/internal/analysis"
	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/targetage"
)

func date(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

// TestParseWindowDefaultsAndLimits on a fixed "today": to defaults to today and from to 1
// January of to's year; a window of 366 days (a leap year) is allowed, 367 is not; a window
// ending after today or before it starts is refused, naming the field.
func TestParseWindowDefaultsAndLimits(t *testing.T) {
	today := date("2020-03-15")
	for _, c := range []struct {
		from, to, wantFrom, wantTo, field string
	}{
		{"", "", "2020-01-01", "2020-03-15", ""},
		{"", "2019-09-30", "2019-01-01", "2019-09-30", ""},
		{"2020-03-15", "", "2020-03-15", "2020-03-15", ""},
		{"2019-03-16", "2020-03-15", "2019-03-16", "2020-03-15", ""}, // 366 days, 29 February inside
		{"2019-03-15", "2020-03-15", "", "", "to"},                   // 367 days
		{"2020-01-01", "2020-12-31", "", "", "to"},                   // ends after today
		{"2020-03-16", "", "", "", "from"},                           // starts after today (the default to)
		{"2020-02-30", "", "", "", "from"},
		{"", "2020-3-1", "", "", "to"},
	} {
		from, to, err := analysis.ParseWindow(c.from, c.to, today)
		if c.field != "" {
			e, ok := errs.As(err)
			if !ok || e.Code != errs.InvalidInput || e.Field != c.field {
				t.Errorf("%q..%q: error %v, want INVALID_INPUT on %s", c.from, c.to, err, c.field)
			}
			continue
		}
		if err != nil || from.Format(time.DateOnly) != c.wantFrom || to.Format(time.DateOnly) != c.wantTo {
			t.Errorf("%q..%q: %s..%s %v, want %s..%s", c.from, c.to, from.Format(time.DateOnly), to.Format(time.DateOnly), err, c.wantFrom, c.wantTo)
		}
	}
}

// TestAgeBandsAreEnrollmentsBands: the bands the SQL counts by (birth-date ranges on the
// window's last day) give every birth date the band enrollment.AgeBand gives it, for every age
// from 0 to 100 on a leap day, the day after and an ordinary day, birthdays on 29 February
// included.
func TestAgeBandsAreEnrollmentsBands(t *testing.T) {
	for _, on := range []string{"2020-02-29", "2020-03-01", "2019-09-30", "2021-02-28"} {
		day := date(on)
		for b := day.AddDate(-101, 0, 0); !b.After(day); b = b.AddDate(0, 0, 1) {
			want := enrollment.AgeBand(b, day)
			got := analysis.OtherBand.Code
			for _, band := range analysis.AgeBands {
				e, l := targetage.BirthRange(day, band.Lo, band.Hi)
				if !b.Before(e) && !b.After(l) {
					got = band.Code
				}
			}
			if got != want {
				t.Fatalf("born %s, on %s: band %s, enrollment.AgeBand %s", b.Format(time.DateOnly), on, got, want)
			}
		}
	}
}
