// Package targetage is the target group of the enrollment drive by age: people aged 16 to 59
// (inclusive) on the day, by idcard.AgeOn. Segments, task lists, previews and unenrolled
// counts use it; the annex baseline of the plan (counted when it was printed) does not.
package targetage

import (
	"time"

	"github.com/canbao/canbao/internal/idcard"
)

// The bounds of the target group, inclusive. They equal the guidance bounds of every policy
// year (a test checks it).
const (
	Min = 16
	Max = 59
)

// Contains reports whether someone born on birth is in the target group on the civil date on.
func Contains(birth, on time.Time) bool {
	a := idcard.AgeOn(birth, on)
	return a >= Min && a <= Max
}

// BirthRange returns the earliest and latest birth dates (civil dates at 00:00 UTC) of people
// whose idcard.AgeOn on the civil date on is between lo and hi inclusive, so that an age
// condition becomes `birth_date BETWEEN earliest AND latest` and an index on birth_date serves
// it. on is a civil date as web.Today returns it (00:00 UTC).
func BirthRange(on time.Time, lo, hi int) (earliest, latest time.Time) {
	y, m, d := on.Date()
	day := func(t time.Time, n int) time.Time { return t.AddDate(0, 0, n) }
	age := func(b time.Time) int { return idcard.AgeOn(b, on) }
	// AgeOn does not increase with the birth date, so both bounds are found by stepping from a
	// close guess (at most a couple of days off, around Feb 29).
	latest = time.Date(y-lo, m, d, 0, 0, 0, 0, time.UTC)
	for age(latest) < lo {
		latest = day(latest, -1)
	}
	for age(day(latest, 1)) >= lo && !day(latest, 1).After(on) {
		latest = day(latest, 1)
	}
	earliest = day(time.Date(y-hi-1, m, d, 0, 0, 0, 0, time.UTC), 1)
	for age(earliest) > hi {
		earliest = day(earliest, 1)
	}
	for age(day(earliest, -1)) <= hi {
		earliest = day(earliest, -1)
	}
	return earliest, latest
}

// Range is BirthRange for the target group.
func Range(on time.Time) (earliest, latest time.Time) { return BirthRange(on, Min, Max) }

// SQL is the target-group condition on a DATE column of birth dates, with its arguments.
func SQL(col string, on time.Time) (string, []any) {
	e, l := Range(on)
	return col + " BETWEEN ? AND ?", []any{e, l}
}
