package campaigns

import (
	"strings"
	"time"

	"github.com/canbao/canbao/internal/targetage"
)

// Where turns a segment into SQL conditions over residents r (LEFT JOINed to their latest
// visit as lv), for people on the civil date on. Opted-out people are never included, nor is
// anyone outside the target group (16-59 on that day): the segment's own age bounds can only
// narrow it. Ages are a birth-date range, so the indexes on birth_date serve them.
func (g Segment) Where(on time.Time) (string, []any) {
	lo, hi := targetage.Min, targetage.Max
	if g.AgeMin != nil {
		lo = max(lo, *g.AgeMin)
	}
	if g.AgeMax != nil {
		hi = min(hi, *g.AgeMax)
	}
	return g.where(on, lo, hi)
}

// whereAnyAge is Where without the target group's bounds (the segment's own still hold).
func (g Segment) whereAnyAge(on time.Time) (string, []any) {
	lo, hi := 0, 1000
	if g.AgeMin != nil {
		lo = *g.AgeMin
	}
	if g.AgeMax != nil {
		hi = *g.AgeMax
	}
	return g.where(on, lo, hi)
}

func (g Segment) where(on time.Time, lo, hi int) (string, []any) {
	conds, args := []string{"r.opted_out = 0"}, []any{}
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		conds = append(conds, col+" IN (?"+strings.Repeat(",?", len(vals)-1)+")")
		for _, v := range vals {
			args = append(args, v)
		}
	}
	in("r.village_code", g.Villages)
	in("r.status", g.Statuses)
	in("lv.outcome", g.VisitOutcomes)
	in("lv.reason", g.Reasons)
	if g.Gender != "" {
		conds, args = append(conds, "r.gender = ?"), append(args, g.Gender)
	}
	earliest, latest := targetage.BirthRange(on, lo, hi)
	conds, args = append(conds, "r.birth_date BETWEEN ? AND ?"), append(args, earliest, latest)
	if g.Employed != nil {
		conds, args = append(conds, "r.employed = ?"), append(args, *g.Employed)
	}
	if g.LandExpropriated != nil {
		conds, args = append(conds, "r.land_expropriated = ?"), append(args, *g.LandExpropriated)
	}
	if g.NotContactedDays != nil {
		conds = append(conds, `NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.resident_id = r.id AND d.status = 'sent' AND d.sent_at >= ?)`)
		args = append(args, on.AddDate(0, 0, -*g.NotContactedDays))
	}
	return strings.Join(conds, " AND "), args
}

// From is the FROM clause the conditions of Where expect.
const From = `residents r LEFT JOIN visits lv ON lv.id = r.last_visit_id`

// segmentMarker is where a named query takes a segment's conditions. As written it is a
// condition that holds, so the query prepares at start-up; withSegment puts the conditions of
// Where (their values bound, never spliced) in its place.
const segmentMarker = "(TRUE)"

// withSegment returns q with its one segmentMarker replaced by the conditions where. A query
// without exactly one marker is a programming error.
func withSegment(q, where string) string {
	if strings.Count(q, segmentMarker) != 1 {
		panic("campaigns: a segment query needs exactly one " + segmentMarker + ": " + q)
	}
	return strings.Replace(q, segmentMarker, "("+where+")", 1)
}
