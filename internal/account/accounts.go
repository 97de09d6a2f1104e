package account

import (
	"context"
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
