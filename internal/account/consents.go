package account

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
)

// The ledger of one-time subscribe-message consents (subscription_consents) is this package's:
// residents grant them through its endpoints, and the campaign engine spends them through the
// functions below, one per WeChat message.

// ConsentsLeft returns how many consents an account has left for a template (0 when it never
// granted one).
func ConsentsLeft(ctx context.Context, q sqlx.QueryerContext, account int64, template string) (int, error) {
	var left int
	err := sqlx.GetContext(ctx, q, &left, Queries.Get("consent-remaining"), account, template)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, database.Map(err)
	}
	return left, nil
}

// SpendConsent uses one of an account's consents for a template; false when none is left.
func SpendConsent(ctx context.Context, ext sqlx.ExecerContext, account int64, template string, now time.Time) (bool, error) {
	res, err := ext.ExecContext(ctx, Queries.Get("consent-spend"), now, account, template)
	if err != nil {
		return false, database.Map(err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// GiveConsentBack returns a consent spent on a message that WeChat did not take (a transient
// failure).
func GiveConsentBack(ctx context.Context, ext sqlx.ExecerContext, account int64, template string, now time.Time) error {
	_, err := ext.ExecContext(ctx, Queries.Get("consent-give-back"), now, account, template)
	return database.Map(err)
}

// NoConsentLeft sets an account's consents for a template to none, when WeChat says it has none
// left.
func NoConsentLeft(ctx context.Context, ext sqlx.ExecerContext, account int64, template string, now time.Time) error {
	_, err := ext.ExecContext(ctx, Queries.Get("consent-none-left"), now, account, template)
	return database.Map(err)
}
