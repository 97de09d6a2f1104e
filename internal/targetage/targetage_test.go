package targetage_test

import (
	"testing"
	"time"

	"github.com/canbao/canbao/configs"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/rules"
	"github.com/canbao/canbao/internal/targetage"
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// TestBirthRangeMatchesAgeOn: for every day of 2023-2029 (and around 2100, a century year that
// is not leap), a birth date is in the range exactly when AgeOn puts it in 16-59, tried on
// every birth date within a week of either bound.
func TestBirthRangeMatchesAgeOn(t *testing.T) {
	check := func(on time.Time) {
		e, l := targetage.Range(on)
		for _, b0 := range []time.Time{e, l} {
			for k := -8; k <= 8; k++ {
				b := b0.AddDate(0, 0, k)
				in := !b.Before(e) && !b.After(l)
				if want := targetage.Contains(b, on); in != want {
					t.Fatalf("on %s born %s: in range [%s, %s] = %v, AgeOn %d", on.Format(time.DateOnly), b.Format(time.DateOnly),
						e.Format(time.DateOnly), l.Format(time.DateOnly), in, idcard.AgeOn(b, on))
				}
			}
		}
	}
	for on := date(2023, 1, 1); on.Before(date(2030, 1, 1)); on = on.AddDate(0, 0, 1) {
		check(on)
	}
	for on := date(2099, 12, 1); on.Before(date(2100, 4, 1)); on = on.AddDate(0, 0, 1) {
		check(on)
	}
}

func TestBoundaries(t *testing.T) {
	for _, c := range []struct {
		on, birth time.Time
		in        bool
		why       string
	}{
		{date(2026, 12, 3), date(2010, 12, 3), true, "turns 16 today"},
		{date(2026, 12, 3), date(2010, 12, 4), false, "turns 16 tomorrow"},
		{date(2026, 12, 3), date(1966, 12, 3), false, "turns 60 today"},
		{date(2026, 12, 3), date(1966, 12, 4), true, "turns 60 tomorrow"},
		{date(2026, 12, 3), date(1959, 6, 1), false, "67"},
		{date(2028, 2, 29), date(2012, 2, 29), true, "born Feb 29, turns 16 on Feb 29"},
		{date(2028, 2, 28), date(2012, 2, 29), false, "born Feb 29, 15 on Feb 28"},
		{date(2028, 2, 29), date(1968, 2, 29), false, "born Feb 29, turns 60 on Feb 29"},
		{date(2028, 2, 28), date(1968, 2, 29), true, "born Feb 29, 59 on Feb 28"},
		{date(2027, 2, 28), date(1967, 3, 1), true, "59 until Mar 1"},
		{date(2100, 2, 28), date(2084, 2, 29), false, "born Feb 29, 2100 is not leap: 16 on Mar 1"},
		{date(2100, 3, 1), date(2084, 2, 29), true, "born Feb 29, 16 on Mar 1 2100"},
	} {
		e, l := targetage.Range(c.on)
		in := !c.birth.Before(e) && !c.birth.After(l)
		if in != c.in || targetage.Contains(c.birth, c.on) != c.in {
			t.Errorf("%s: on %s born %s: range [%s, %s] says %v, Contains %v, want %v", c.why, c.on.Format(time.DateOnly),
				c.birth.Format(time.DateOnly), e.Format(time.DateOnly), l.Format(time.DateOnly), in, targetage.Contains(c.birth, c.on), c.in)
		}
	}
}

// TestBoundsEqualPolicy: the target group is the guidance rule's age range in every policy year,
// so that eligibility and the lists agree on who is in scope.
func TestBoundsEqualPolicy(t *testing.T) {
	book, err := rules.Load(configs.Policy)
	if err != nil {
		t.Fatal(err)
	}
	for _, y := range book.Years() {
		r, err := book.For(y)
		if err != nil {
			t.Fatal(err)
		}
		if r.Guidance.MinAge != targetage.Min || r.Guidance.MaxAge != targetage.Max {
			t.Errorf("policy %d: guidance ages %d-%d, target group %d-%d", y, r.Guidance.MinAge, r.Guidance.MaxAge, targetage.Min, targetage.Max)
		}
	}
}
