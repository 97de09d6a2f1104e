package visit

import (
	"context"
	"strings"
	"time"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/web"
)

// The visit list is the package's only SQL built at run time, here: the conditions are fixed
// text with placeholders chosen by which filters are set, and the values go in args, never in
// the text. This file is a builder in database's inline-SQL test; list_api_test feeds the
// list's filters hostile values.

const visitColumns = `id, client_id, resident_id, village_code, volunteer_id, visited_at, outcome, reason, note, follow_up_on, created_at`

// ListFilter is a validated visit-list query; zero fields are absent.
type ListFilter struct {
	Village   string
	Volunteer int64
	// From and Before bound visited_at: From <= visited_at < Before.
	From, Before time.Time
	Resident     int64
}

func (f ListFilter) where() (string, []any) {
	conds, args := []string{"1=1"}, []any{}
	if f.Village != "" {
		conds, args = append(conds, "village_code = ?"), append(args, f.Village)
	}
	if f.Volunteer != 0 {
		conds, args = append(conds, "volunteer_id = ?"), append(args, f.Volunteer)
	}
	if !f.From.IsZero() {
		conds, args = append(conds, "visited_at >= ?"), append(args, f.From)
	}
	if !f.Before.IsZero() {
		conds, args = append(conds, "visited_at < ?"), append(args, f.Before)
	}
	if f.Resident != 0 {
		conds, args = append(conds, "resident_id = ?"), append(args, f.Resident)
	}
	return strings.Join(conds, " AND "), args
}

// List answers one page of visits matching a filter, latest first.
func (s *Service) List(ctx context.Context, f ListFilter, page web.Page) (web.List[Visit], error) {
	where, args := f.where()
	var total int
	if err := s.db.GetContext(ctx, &total, "SELECT COUNT(*) FROM visits WHERE "+where, args...); err != nil {
		return web.List[Visit]{}, database.Map(err)
	}
	var rows []Visit
	if err := s.db.SelectContext(ctx, &rows, "SELECT "+visitColumns+" FROM visits WHERE "+where+
		" ORDER BY visited_at DESC, id DESC LIMIT ? OFFSET ?", append(args, page.Size, page.Offset())...); err != nil {
		return web.List[Visit]{}, database.Map(err)
	}
	for i := range rows {
		rows[i].fill()
	}
	return web.NewList(rows, total), nil
}
