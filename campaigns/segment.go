package campaigns

import (
	"strings"
	"time"
)

// Where turns a segment into SQL conditions over residents r (LEFT JOINed to their latest
// visit as lv), for people on the civil date on. Opted-out people are never included.
func (g Segment) Where(on time.Time) (string, []any) {
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
	if g.AgeMin != nil { // age >= min  <=>  born on or before on minus min years
		conds, args = append(conds, "r.birth_date <= ?"), append(args, on.AddDate(-*g.AgeMin, 0, 0))
	}
	if g.AgeMax != nil { // age <= max  <=>  born after on minus (max+1) years
		conds, args = append(conds, "r.birth_date > ?"), append(args, on.AddDate(-(*g.AgeMax+1), 0, 0))
	}
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
