package registration

import (
	"context"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/web"
)

// The registration lists (a resident's own, the reviewers' queue) are the package's only SQL
// built at run time, here: the callers pass fixed WHERE conditions with placeholders and a
// fixed ORDER BY, and the values in args, never in the text. This file is a builder in
// database's inline-SQL test; list_api_test feeds the queue's filters hostile values.

const selectRow = `SELECT id, account_id, resident_id, year, name, id_number_enc, phone_enc, pii_key_id, village_code, employed,
	land_expropriated, scheme, channel, register_at, tier, status, privacy_notice_version, reject_reason, decided_at,
	created_at, updated_at, employer_name, employer_credit_code FROM registrations`

// page reads one page of registrations and their total.
func (s *Service) page(ctx context.Context, where string, args []any, order string, page web.Page) ([]row, int, error) {
	var total int
	if err := s.db.GetContext(ctx, &total, "SELECT COUNT(*) FROM registrations WHERE "+where, args...); err != nil {
		return nil, 0, database.Map(err)
	}
	var rows []row
	if err := s.db.SelectContext(ctx, &rows, selectRow+" WHERE "+where+" ORDER BY "+order+" LIMIT ? OFFSET ?",
		append(args, page.Size, page.Offset())...); err != nil {
		return nil, 0, database.Map(err)
	}
	return rows, total, nil
}
