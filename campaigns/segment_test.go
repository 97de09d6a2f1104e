package campaigns

import (
	"reflect"
	"testing"
)

func ptr[T any](v T) *T { return &v }

// TestSegmentWhereSQL: the exact conditions and arguments of a segment, without a database.
// On 2026-06-15 the target group (16-59) was born from 1966-06-16 (turns 60 tomorrow) to
// 2010-06-15 (turns 16 today); a segment's own bounds only narrow that.
func TestSegmentWhereSQL(t *testing.T) {
	on := day(2026, 6, 15)
	const (
		optedOut = "r.opted_out = 0"
		birth    = "r.birth_date BETWEEN ? AND ?"
	)
	for _, c := range []struct {
		name  string
		g     Segment
		any   bool // whereAnyAge
		conds string
		args  []any
	}{
		{name: "empty", g: Segment{}, conds: optedOut + " AND " + birth,
			args: []any{day(1966, 6, 16), day(2010, 6, 15)}},
		{name: "own bounds inside", g: Segment{AgeMin: ptr(20), AgeMax: ptr(30)}, conds: optedOut + " AND " + birth,
			args: []any{day(1995, 6, 16), day(2006, 6, 15)}},
		{name: "own bounds outside are cut to 16-59", g: Segment{AgeMin: ptr(10), AgeMax: ptr(80)}, conds: optedOut + " AND " + birth,
			args: []any{day(1966, 6, 16), day(2010, 6, 15)}},
		{name: "bounds at 16 and 59", g: Segment{AgeMin: ptr(16), AgeMax: ptr(59)}, conds: optedOut + " AND " + birth,
			args: []any{day(1966, 6, 16), day(2010, 6, 15)}},
		{name: "bounds at 17 and 58", g: Segment{AgeMin: ptr(17), AgeMax: ptr(58)}, conds: optedOut + " AND " + birth,
			args: []any{day(1967, 6, 16), day(2009, 6, 15)}},
		{name: "only a minimum", g: Segment{AgeMin: ptr(45)}, conds: optedOut + " AND " + birth,
			args: []any{day(1966, 6, 16), day(1981, 6, 15)}},
		{name: "only a maximum", g: Segment{AgeMax: ptr(39)}, conds: optedOut + " AND " + birth,
			args: []any{day(1986, 6, 16), day(2010, 6, 15)}},
		{name: "any age, no bounds", g: Segment{}, any: true, conds: optedOut + " AND " + birth,
			args: []any{day(1025, 6, 16), day(2026, 6, 15)}},
		{name: "any age, own bounds", g: Segment{AgeMin: ptr(10), AgeMax: ptr(80)}, any: true, conds: optedOut + " AND " + birth,
			args: []any{day(1945, 6, 16), day(2016, 6, 15)}},
		{name: "every criterion",
			g: Segment{Villages: []string{"zhenxing", "luoxi"}, Statuses: []string{"unenrolled"}, VisitOutcomes: []string{"refused", "considering", "not_home"},
				Reasons: []string{"unable"}, Gender: "female", Employed: ptr(false), LandExpropriated: ptr(true), NotContactedDays: ptr(30)},
			conds: optedOut + " AND r.village_code IN (?,?) AND r.status IN (?) AND lv.outcome IN (?,?,?) AND lv.reason IN (?)" +
				" AND r.gender = ? AND " + birth + " AND r.employed = ? AND r.land_expropriated = ?" +
				" AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.resident_id = r.id AND d.status = 'sent' AND d.sent_at >= ?)",
			args: []any{"zhenxing", "luoxi", "unenrolled", "refused", "considering", "not_home", "unable", "female",
				day(1966, 6, 16), day(2010, 6, 15), false, true, day(2026, 5, 16)}},
		{name: "employed true, land false, one day", g: Segment{Employed: ptr(true), LandExpropriated: ptr(false), NotContactedDays: ptr(1)},
			conds: optedOut + " AND " + birth + " AND r.employed = ? AND r.land_expropriated = ?" +
				" AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.resident_id = r.id AND d.status = 'sent' AND d.sent_at >= ?)",
			args: []any{day(1966, 6, 16), day(2010, 6, 15), true, false, day(2026, 6, 14)}},
		{name: "empty lists add nothing", g: Segment{Villages: []string{}, Statuses: nil}, conds: optedOut + " AND " + birth,
			args: []any{day(1966, 6, 16), day(2010, 6, 15)}},
	} {
		where := c.g.Where
		if c.any {
			where = c.g.whereAnyAge
		}
		conds, args := where(on)
		if conds != c.conds {
			t.Errorf("%s: conditions\n%s\nwant\n%s", c.name, conds, c.conds)
		}
		if !reflect.DeepEqual(args, c.args) {
			t.Errorf("%s: args\n%v\nwant\n%v", c.name, args, c.args)
		}
	}
	if From != "residents r LEFT JOIN visits lv ON lv.id = r.last_visit_id" {
		t.Errorf("From = %q", From)
	}
}
