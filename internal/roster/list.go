package roster

import (
	"context"
	"strings"
	"time"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/web"
	"github.com/canbao/canbao/internal/targetage"
)

// The roster list is the package's only SQL built at run time, here: the conditions come from
// a validated Filter, fixed text with placeholders, and the values go in args, never in the
// text. This file is a builder in database's inline-SQL test; roster_api_test feeds the list's
// filters hostile values.

// from is what the conditions of where read: residents r and their latest visit v (if any).
// A query that names no column of v does not read visits at all (the join is on its primary
// key, so MariaDB leaves it out).
const from = `residents r LEFT JOIN visits v ON v.id = r.last_visit_id`

// where turns a filter into SQL conditions on from. Ages become birth-date bounds on today's
// date, so the (village_code, status, birth_date) index serves them; an outcome starts from
// the visits with it and finds their people through ix_residents_last_visit.
func (f Filter) where(today time.Time) (string, []any) {
	conds, args := []string{"1=1"}, []any{}
	if f.Village != "" {
		conds, args = append(conds, "r.village_code = ?"), append(args, f.Village)
	}
	if f.Status != "" {
		conds, args = append(conds, "r.status = ?"), append(args, f.Status)
	}
	if f.Gender != "" {
		conds, args = append(conds, "r.gender = ?"), append(args, f.Gender)
	}
	if f.AgeMin >= 0 { // age >= min  <=>  born on or before today minus min years
		conds, args = append(conds, "r.birth_date <= ?"), append(args, today.AddDate(-f.AgeMin, 0, 0))
	}
	if f.AgeMax >= 0 { // age <= max  <=>  born after today minus (max+1) years
		conds, args = append(conds, "r.birth_date > ?"), append(args, today.AddDate(-(f.AgeMax+1), 0, 0))
	}
	if f.Employed != nil {
		conds, args = append(conds, "r.employed = ?"), append(args, *f.Employed)
	}
	switch f.LastVisitOutcome {
	case "":
	case NeverVisited:
		conds = append(conds, "r.last_visit_id IS NULL")
	default:
		conds, args = append(conds, "v.outcome = ?"), append(args, f.LastVisitOutcome)
	}
	return strings.Join(conds, " AND "), args
}

// List answers one page of the roster for a filter.
func (s *Service) List(ctx context.Context, f Filter, page web.Page) (Page, error) {
	today := web.Today(s.now(), s.loc)
	where, args := f.where(today)
	var total, all int
	if f.Status == StatusUnenrolled {
		// Unenrolled people are targets only while 16-59; the others are counted, not listed.
		cond, targs := targetage.SQL("r.birth_date", today)
		var n struct {
			All    int `db:"all_"`
			Target int `db:"target"`
		}
		if err := s.db.GetContext(ctx, &n, "SELECT COUNT(*) AS all_, COALESCE(SUM("+cond+"), 0) AS target FROM "+from+" WHERE "+where,
			append(targs, args...)...); err != nil {
			return Page{}, database.Map(err)
		}
		total, all = n.Target, n.All
		where, args = where+" AND "+cond, append(args, targs...)
	} else {
		if err := s.db.GetContext(ctx, &total, "SELECT COUNT(*) FROM "+from+" WHERE "+where, args...); err != nil {
			return Page{}, database.Map(err)
		}
		all = total
	}
	var rows []row
	q := `SELECT r.id, r.name, r.gender, r.birth_date, r.village_code, r.status, r.id_number_enc, r.phone_enc, r.pii_key_id,
		r.employed, r.employer_name, r.employer_credit_code, v.visited_at, v.outcome, v.reason, v.follow_up_on AS visit_follow_up_on
		FROM ` + from + `
		WHERE ` + where + ` ORDER BY r.id LIMIT ? OFFSET ?`
	if err := s.db.SelectContext(ctx, &rows, q, append(args, page.Size, page.Offset())...); err != nil {
		return Page{}, database.Map(err)
	}
	items := make([]Item, len(rows))
	for i, r := range rows {
		var err error
		if items[i], err = s.item(r, today); err != nil {
			return Page{}, err
		}
	}
	return Page{List: web.NewList(items, total), ExcludedOutOfAge: all - total}, nil
}
