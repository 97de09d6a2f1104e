// Package keycheck makes sure the PII keys a process starts with are the keys the database's
// personal data was written with. Each key id has a key check value (pii.Keyring.CheckValue)
// recorded in pii_key_checks the first time it is used; a key that does not match is refused
// at start and fails /readyz, instead of writing data nobody can read back or answering
// placeholders for data it cannot read.
package keycheck

import (
	"context"
	"crypto/hmac"
	"database/sql"
	"embed"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
)

//go:embed queries.sql
var queryFS embed.FS

// Queries are the package's named SQL, checked against the server at start-up.
var Queries = database.RegisterQueries("keycheck", queryFS, "queries.sql")

// MismatchError says that a configured key is not the one the database knows under its id.
type MismatchError struct {
	KeyID  string
	Active bool // the active key (CANBAO_PII_KEY), else one of CANBAO_PII_OLD_KEYS
	// Table and RowID name the existing row the key failed to open, when the key id had no
	// check value yet (a database written before key checks existed).
	Table string
	RowID int64
}

// Setting names the configuration setting that holds the key.
func (e *MismatchError) Setting() string {
	if e.Active {
		return "CANBAO_PII_KEY (pii.key)"
	}
	return fmt.Sprintf("the key %q of CANBAO_PII_OLD_KEYS (pii.old_keys)", e.KeyID)
}

func (e *MismatchError) Error() string {
	if e.Table != "" {
		return fmt.Sprintf("%s is not the key this database's personal data was written with: it cannot decrypt %s row %d (key id %q)",
			e.Setting(), e.Table, e.RowID, e.KeyID)
	}
	return fmt.Sprintf("%s is not the key this database was first used with under key id %q (its key check value differs): "+
		"configure that key, or give a new key a new key id (CANBAO_PII_KEY_ID) and keep the old one in CANBAO_PII_OLD_KEYS",
		e.Setting(), e.KeyID)
}

// samples are the columns probed when a key id is first seen, to catch a wrong key on a
// database that already holds data under that id: the ID numbers of residents and
// registrations, each read by its named query.
var samples = []struct{ table, query, aad string }{
	{"residents", "sample-residents", pii.AADResidentIDNumber},
	{"registrations", "sample-registrations", pii.AADRegistrationIDNumber},
}

// Ensure checks every key of kr against the stored check values and records the value of a
// key id used for the first time (after making sure that key opens any data already written
// under that id). It returns a *MismatchError for a key that does not match.
func Ensure(ctx context.Context, db *sqlx.DB, kr *pii.Keyring) error {
	stored, err := load(ctx, db)
	if err != nil {
		return err
	}
	for _, id := range kr.KeyIDs() {
		if got, ok := stored[id]; ok {
			if !hmac.Equal(got, kr.CheckValue(id)) {
				return &MismatchError{KeyID: id, Active: id == kr.ActiveKeyID()}
			}
			continue
		}
		if err := probe(ctx, db, kr, id); err != nil {
			return err
		}
		// INSERT IGNORE: another instance may record the same id at the same moment; read back
		// and compare, so the first value recorded wins and the other key is refused.
		if _, err := db.ExecContext(ctx, Queries.Get("check-insert"),
			id, kr.CheckValue(id), database.Now()); err != nil {
			return fmt.Errorf("pii key check: record key id %q: %w", id, err)
		}
		var got []byte
		if err := db.GetContext(ctx, &got, Queries.Get("check-of-key"), id); err != nil {
			return fmt.Errorf("pii key check: key id %q: %w", id, err)
		}
		if !hmac.Equal(got, kr.CheckValue(id)) {
			return &MismatchError{KeyID: id, Active: id == kr.ActiveKeyID()}
		}
	}
	return nil
}

// Verify compares the keys of kr with the check values stored, without recording anything: a
// key id with no value yet passes. It is one small query, cheap enough for /readyz.
func Verify(ctx context.Context, db *sqlx.DB, kr *pii.Keyring) error {
	stored, err := load(ctx, db)
	if err != nil {
		return err
	}
	for _, id := range kr.KeyIDs() {
		if got, ok := stored[id]; ok && !hmac.Equal(got, kr.CheckValue(id)) {
			return &MismatchError{KeyID: id, Active: id == kr.ActiveKeyID()}
		}
	}
	return nil
}

func load(ctx context.Context, db *sqlx.DB) (map[string][]byte, error) {
	var rows []struct {
		KeyID string `db:"key_id"`
		Value []byte `db:"check_value"`
	}
	if err := db.SelectContext(ctx, &rows, Queries.Get("checks-all")); err != nil {
		return nil, fmt.Errorf("pii key check: %w", database.Map(err))
	}
	out := make(map[string][]byte, len(rows))
	for _, r := range rows {
		out[r.KeyID] = r.Value
	}
	return out, nil
}

// probe decrypts one existing ciphertext per sampled column under key id.
func probe(ctx context.Context, db *sqlx.DB, kr *pii.Keyring, keyID string) error {
	for _, s := range samples {
		var r struct {
			ID int64  `db:"id"`
			CT []byte `db:"ct"`
		}
		err := db.GetContext(ctx, &r, Queries.Get(s.query), keyID)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("pii key check: sample %s: %w", s.table, database.Map(err))
		}
		if _, err := kr.Decrypt(r.CT, keyID, s.aad); err != nil {
			return &MismatchError{KeyID: keyID, Active: keyID == kr.ActiveKeyID(), Table: s.table, RowID: r.ID}
		}
	}
	return nil
}
