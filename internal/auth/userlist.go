package auth

import "strings"

// staffListSQL builds the count and page statements of the admins' staff list from its
// filters (each "" when not given). The text is built from fixed conditions, one placeholder
// each; the filter values go in args only, never into the text. It is the package's only SQL
// outside queries.sql (a builder in database's inline-SQL test); userlist_test feeds it hostile
// values.
func staffListSQL(role, village string) (count, page string, args []any) {
	where := []string{"1=1"}
	if role != "" {
		where, args = append(where, "role = ?"), append(args, role)
	}
	if village != "" {
		where, args = append(where, "village_code = ?"), append(args, village)
	}
	cond := strings.Join(where, " AND ")
	count = "SELECT COUNT(*) FROM staff_users WHERE " + cond
	page = `SELECT id, username, display_name, password_hash, role, village_code, disabled, token_version,
		failed_logins, locked_until, created_at FROM staff_users WHERE ` + cond + ` ORDER BY id LIMIT ? OFFSET ?`
	return count, page, args
}
