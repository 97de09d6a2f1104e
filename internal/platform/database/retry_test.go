package database_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/dbtest"
)

// TestIsRetryableKnowsTiDBsConflicts: the transaction is run again after MariaDB's deadlock
// and lock wait timeout and after TiDB's write conflicts and schema change, wrapped or not;
// never after other driver errors (a duplicate key, a syntax error) or non-driver errors.
func TestIsRetryableKnowsTiDBsConflicts(t *testing.T) {
	for _, n := range []uint16{1213, 1205, 8002, 8005, 8022, 8028, 9007} {
		err := &mysql.MySQLError{Number: n, Message: "conflict"}
		if !database.IsRetryable(err) {
			t.Errorf("error %d: not retryable", n)
		}
		if !database.IsRetryable(fmt.Errorf("claim: %w", err)) {
			t.Errorf("error %d wrapped: not retryable", n)
		}
	}
	for _, err := range []error{
		&mysql.MySQLError{Number: 1062, Message: "Duplicate entry"},
		&mysql.MySQLError{Number: 1064, Message: "syntax"},
		&mysql.MySQLError{Number: 1235, Message: "not supported"},
		&mysql.MySQLError{Number: 8004, Message: "transaction too large"},
		errors.New("9007"),
		sql.ErrNoRows,
		nil,
	} {
		if database.IsRetryable(err) {
			t.Errorf("%v: retryable", err)
		}
	}
}

// TestInTxRunsAgainAfterATiDBWriteConflict: a transaction that fails with 9007, 8002 or 8028
// is rolled back (its write is gone) and run again; the second run's write is what stays.
func TestInTxRunsAgainAfterATiDBWriteConflict(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE retry_probe (id INT PRIMARY KEY, attempt INT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []uint16{9007, 8002, 8028} {
		if _, err := db.ExecContext(ctx, "DELETE FROM retry_probe"); err != nil {
			t.Fatal(err)
		}
		runs := 0
		err := database.InTx(ctx, db, func(tx *sqlx.Tx) error {
			runs++
			if _, err := tx.ExecContext(ctx, "INSERT INTO retry_probe (id, attempt) VALUES (1, ?)", runs); err != nil {
				return err
			}
			if runs == 1 {
				return fmt.Errorf("commit: %w", &mysql.MySQLError{Number: n, Message: "Write conflict"})
			}
			return nil
		})
		if err != nil {
			t.Fatalf("error %d: %v", n, err)
		}
		var attempt int
		if err := db.GetContext(ctx, &attempt, "SELECT attempt FROM retry_probe WHERE id = 1"); err != nil {
			t.Fatal(err)
		}
		if runs != 2 || attempt != 2 {
			t.Errorf("error %d: %d runs, the row says attempt %d; want 2 and 2", n, runs, attempt)
		}
	}
	// Not retryable: one run, nothing written.
	runs := 0
	err := database.InTx(ctx, db, func(tx *sqlx.Tx) error {
		runs++
		return &mysql.MySQLError{Number: 8004, Message: "transaction too large"}
	})
	if err == nil || runs != 1 {
		t.Errorf("error 8004: %d runs, err %v; want 1 run and the error", runs, err)
	}
}

// TestInTxReadCommittedSeesCommitsMadeAfterItsFirstRead: at READ COMMITTED a plain read sees a
// row committed after the transaction's first read; InTx's default (REPEATABLE READ) does not.
// The frequency cap's count relies on the first.
func TestInTxReadCommittedSeesCommitsMadeAfterItsFirstRead(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE rc_probe (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		name string
		in   func(context.Context, *sqlx.DB, func(*sqlx.Tx) error) error
		want int
	}{
		{"InTx", database.InTx, 0},
		{"InTxReadCommitted", database.InTxReadCommitted, 1},
	} {
		var got int
		err := c.in(ctx, db, func(tx *sqlx.Tx) error {
			var n int
			if err := tx.GetContext(ctx, &n, "SELECT COUNT(*) FROM rc_probe WHERE id = ?", i+1); err != nil {
				return err
			}
			if _, err := db.ExecContext(ctx, "INSERT INTO rc_probe (id) VALUES (?)", i+1); err != nil { // another session
				return err
			}
			return tx.GetContext(ctx, &got, "SELECT COUNT(*) FROM rc_probe WHERE id = ?", i+1)
		})
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s: the second read counts %d, want %d", c.name, got, c.want)
		}
	}
}
