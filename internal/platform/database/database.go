// Package database opens the MySQL-compatible store, applies the embedded migrations and maps
// driver errors to domain errors at the boundary.
package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"

	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/migrations"
)

//go:embed queries.sql
var queryFS embed.FS

// queries are the package's own named SQL (the migration lock), checked with the others.
var queries = RegisterQueries("database", queryFS, "queries.sql")

// Options tunes the pool.
type Options struct {
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
}

// Open connects to the DSN, forcing the settings canbao relies on: parseTime, UTC, utf8mb4.
func Open(ctx context.Context, dsn string, o Options) (*sqlx.DB, error) {
	cfg, err := Config(dsn)
	if err != nil {
		return nil, err
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	db := sqlx.NewDb(sql.OpenDB(connector), "mysql")
	if o.MaxOpenConns > 0 {
		db.SetMaxOpenConns(o.MaxOpenConns)
	}
	if o.MaxIdleConns > 0 {
		db.SetMaxIdleConns(o.MaxIdleConns)
	}
	if o.ConnMaxLifetime > 0 {
		db.SetConnMaxLifetime(o.ConnMaxLifetime)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("database: cannot reach MySQL at %s: %w", cfg.Addr, err)
	}
	return db, nil
}

// Config parses a DSN and sets parseTime, UTC and utf8mb4 whatever the DSN said.
func Config(dsn string) (*mysql.Config, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("database: bad DSN: %w", err)
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.Collation = "utf8mb4_unicode_ci"
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	// Placeholders are bound client-side by the driver (it refuses to for unsafe charsets), so
	// a query costs one round trip instead of prepare+execute: on a loopback that halves latency.
	cfg.InterpolateParams = true
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	return cfg, nil
}

// EnsureDatabase creates the DSN's database if it does not exist (for `migrate` on a fresh host).
func EnsureDatabase(ctx context.Context, dsn string) error {
	cfg, err := Config(dsn)
	if err != nil {
		return err
	}
	name := cfg.DBName
	if name == "" {
		return errors.New("database: the DSN names no database")
	}
	cfg.DBName = ""
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	_, err = db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+escapeIdent(name)+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
	return err
}

func escapeIdent(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '`' {
			out = append(out, '`')
		}
		out = append(out, r)
	}
	return string(out)
}

// Migrate applies every pending migration, holding a named lock so that several instances
// starting at once migrate one at a time.
func Migrate(ctx context.Context, db *sqlx.DB, log *slog.Logger) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, queries.Get("migrate-lock")).Scan(&got); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	if !got.Valid || got.Int64 != 1 {
		return errors.New("migrate: another instance holds the migration lock")
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), queries.Get("migrate-unlock")) //nolint:errcheck // released with the session anyway

	goose.SetLogger(goose.NopLogger())
	p, err := goose.NewProvider(goose.DialectMySQL, db.DB, migrations.FS)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		if log != nil {
			log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "ms", r.Duration.Milliseconds())
		}
	}
	return nil
}

// MySQL error numbers canbao reacts to.
const (
	errDuplicate = 1062
	errDeadlock  = 1213
	errLockWait  = 1205
)

// retryableErrors are the errors after which the whole transaction may simply run again: it
// was rolled back and nothing of it is left. MariaDB and MySQL: a deadlock (1213) and a lock
// wait timeout (1205, innodb_rollback_on_timeout or not: InTx rolls back either way). TiDB
// (docs.pingcap.com, "Error Codes and Troubleshooting"): 8002, a SELECT FOR UPDATE transaction
// met a commit conflict; 8005, a write conflict (txnStartTS is stale); 8022, the commit
// failed and was rolled back; 8028, the table's schema changed under the transaction
// (metadata lock off, or a DDL that took it); 9007, TiKV's write conflict (an optimistic
// transaction, or an autocommit statement that hit one). Each says the application can run the
// transaction again.
var retryableErrors = map[uint16]string{
	errDeadlock: "deadlock",
	errLockWait: "lock wait timeout",
	8002:        "TiDB: SELECT FOR UPDATE write conflict",
	8005:        "TiDB: write conflict, txnStartTS is stale",
	8022:        "TiDB: commit failed, rolled back",
	8028:        "TiDB: information schema changed",
	9007:        "TiDB: write conflict",
}

// unavailableError marks a failure to reach the database; the web layer answers 503.
type unavailableError struct{ err error }

func (e unavailableError) Error() string     { return "database unavailable: " + e.err.Error() }
func (e unavailableError) Unwrap() error     { return e.err }
func (e unavailableError) Unavailable() bool { return true }

// Map turns driver errors into domain errors: no rows → errs.ErrNotFound, 1062 →
// errs.ErrDuplicate, connection failures → an error the web layer answers with 503.
func Map(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return errs.ErrNotFound
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == errDuplicate {
		return fmt.Errorf("%w: %s", errs.ErrDuplicate, me.Message)
	}
	if IsConnectionError(err) {
		return unavailableError{err}
	}
	return err
}

// IsConnectionError reports whether err means the database could not be reached.
func IsConnectionError(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &oe) || errors.As(err, &ne) ||
		errors.Is(err, driver.ErrBadConn)
}

// IsDuplicate reports whether err is a unique-key violation.
func IsDuplicate(err error) bool {
	var me *mysql.MySQLError
	return errors.Is(err, errs.ErrDuplicate) || (errors.As(err, &me) && me.Number == errDuplicate)
}

// IsRetryable reports whether err means the transaction was rolled back and may be run again
// as it is: a deadlock, a lock wait timeout, or one of TiDB's write conflicts and schema
// changes (see retryableErrors).
func IsRetryable(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	_, ok := retryableErrors[me.Number]
	return ok
}

// InTx runs fn in a transaction, committing if it returns nil and rolling back otherwise; a
// deadlock, a lock-wait timeout or a TiDB write conflict (IsRetryable) restarts it, up to 5
// attempts with jittered backoff so that the two sides of a conflict do not collide again.
func InTx(ctx context.Context, db *sqlx.DB, fn func(tx *sqlx.Tx) error) error {
	return InTxOpts(ctx, db, nil, fn)
}

// InTxReadCommitted is InTx at READ COMMITTED: each plain read sees what was committed when it
// ran, not a snapshot taken at the transaction's first read (InnoDB) or at its start (TiDB).
// A transaction that counts rows after taking a lock (the frequency cap of a claim) needs it:
// at REPEATABLE READ the count could miss a commit made by the holder of that lock.
func InTxReadCommitted(ctx context.Context, db *sqlx.DB, fn func(tx *sqlx.Tx) error) error {
	return InTxOpts(ctx, db, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, fn)
}

// InTxOpts is InTx with the transaction's options (nil: the server's defaults).
func InTxOpts(ctx context.Context, db *sqlx.DB, opts *sql.TxOptions, fn func(tx *sqlx.Tx) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = inTxOnce(ctx, db, opts, fn)
		if err == nil || !IsRetryable(err) {
			return err
		}
		backoff := time.Duration(5<<attempt)*time.Millisecond + time.Duration(rand.Int64N(int64(10*time.Millisecond)))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
	}
	return err
}

func inTxOnce(ctx context.Context, db *sqlx.DB, opts *sql.TxOptions, fn func(tx *sqlx.Tx) error) (err error) {
	tx, err := db.BeginTxx(ctx, opts)
	if err != nil {
		return Map(err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
			return
		}
		err = Map(tx.Commit())
	}()
	return fn(tx)
}

// Now is the current time as stored: UTC, microseconds.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// StringPtr is a nullable column as an answer's field: nil for NULL (JSON null).
func StringPtr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

// CheckSchema fails when migrations are pending, telling the operator what to run.
func CheckSchema(ctx context.Context, db *sqlx.DB) error {
	goose.SetLogger(goose.NopLogger())
	p, err := goose.NewProvider(goose.DialectMySQL, db.DB, migrations.FS)
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	if pending {
		return errors.New("the database schema is behind this binary: run `canbao migrate` first")
	}
	return nil
}
