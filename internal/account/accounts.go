package account

import (
	"context"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
)

// The resident package owns the writes of resident_accounts (docs/ARCHITECTURE.md, "Who writes
// which table"): registrations and logout change an account through the functions below, inside
// the caller's transaction (ext is its *sqlx.Tx).

// InsertDemoAccount adds an account that never logged in through WeChat (no session key),
// created and last seen at the given time, and returns its ID: the demo seed's accounts of its
// pending registrations. It returns the driver's error as it is.
func InsertDemoAccount(ctx context.Context, ext sqlx.ExecerContext, openid string, at time.Time) (int64, error) {
	res, err := ext.ExecContext(ctx, Queries.Get("account-insert-demo"), openid, at, at)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// LinkPerson makes a person the account's own resident, unless the account already has one.
// It returns the driver's error as it is.
func LinkPerson(ctx context.Context, ext sqlx.ExecerContext, accountID, residentID int64) error {
	_, err := ext.ExecContext(ctx, Queries.Get("account-link-person"), residentID, accountID)
	return err
}

// Link is one account's person, for LinkPersons.
type Link struct{ AccountID, ResidentID int64 }

// LinkPersons is LinkPerson for several accounts in one statement, in order: an account named
// twice keeps the first person. It returns the driver's error as it is.
func LinkPersons(ctx context.Context, ext sqlx.ExecerContext, links []Link) error {
	if len(links) == 0 {
		return nil
	}
	q := Queries.Get("account-link-persons")
	const pair = "WHEN ? THEN ?"
	i := strings.Index(q, pair)
	if i < 0 {
		panic("account: account-link-persons has no " + pair)
	}
	q = q[:i] + strings.TrimSuffix(strings.Repeat(pair+" ", len(links)), " ") + q[i+len(pair):]
	q = database.ExpandIn(q, len(links))
	args := make([]any, 0, 3*len(links))
	for _, l := range links {
		args = append(args, l.AccountID, l.ResidentID)
	}
	for _, l := range links {
		args = append(args, l.AccountID)
	}
	_, err := ext.ExecContext(ctx, q, args...)
	return err
}

// BumpTokenVersion revokes every token of the account; errs.ErrNotFound when there is no such
// account. The server hands it to auth.NewSubjects (auth cannot import this package).
func BumpTokenVersion(ctx context.Context, ext sqlx.ExecerContext, accountID int64) error {
	res, err := ext.ExecContext(ctx, Queries.Get("account-bump-version"), accountID)
	if err != nil {
		return database.Map(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.ErrNotFound
	}
	return nil
}
