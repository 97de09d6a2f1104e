package dbtest_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/dbtest"
)

// A database New copies from the process's first migrated one is the database the migrations
// make: the same tables (columns, keys, foreign keys, options, AUTO_INCREMENT), the same rows,
// and the migrations have nothing left to do on it.
func TestCloneEqualsMigrate(t *testing.T) {
	migrated := dbtest.NewMigrated(t)
	dbtest.New(t) // the process's first New migrates (unless another test's did), later ones copy
	copied := dbtest.New(t)

	want, got := describe(t, migrated), describe(t, copied)
	if len(want) < 20 {
		t.Fatalf("the migrated database has only %d tables", len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("the copy has no table %s", name)
			continue
		}
		if g.create != w.create {
			t.Errorf("%s differs:\nmigrated: %s\ncopied:   %s", name, w.create, g.create)
		}
		if !reflect.DeepEqual(g.rows, w.rows) {
			t.Errorf("%s rows differ:\nmigrated: %v\ncopied:   %v", name, w.rows, g.rows)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("the copy has an extra table %s", name)
		}
	}
	var versions int
	if err := copied.Get(&versions, "SELECT COUNT(*) FROM goose_db_version WHERE version_id > 0 AND is_applied"); err != nil || versions == 0 {
		t.Errorf("goose_db_version of the copy: %d applied versions, %v", versions, err)
	}

	if err := database.Migrate(context.Background(), copied, nil); err != nil {
		t.Fatalf("migrate the copy: %v", err)
	}
	var after int
	if err := copied.Get(&after, "SELECT COUNT(*) FROM goose_db_version WHERE version_id > 0 AND is_applied"); err != nil || after != versions {
		t.Errorf("migrating the copy applied migrations: %d applied versions before, %d after (%v)", versions, after, err)
	}

	// Foreign keys are enforced on the copy's connections (they were off only while copying).
	var fk int
	if err := copied.Get(&fk, "SELECT @@foreign_key_checks"); err != nil || fk != 1 {
		t.Errorf("foreign_key_checks = %d, %v", fk, err)
	}
}

type table struct {
	create string
	rows   []string
}

// describe reads every table's CREATE statement and rows (times left out: they are when a
// migration ran).
func describe(t *testing.T, db *sqlx.DB) map[string]table {
	t.Helper()
	var names []string
	if err := db.Select(&names, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"); err != nil {
		t.Fatal(err)
	}
	out := map[string]table{}
	for _, name := range names {
		var c struct {
			Table  string `db:"Table"`
			Create string `db:"Create Table"`
		}
		if err := db.QueryRowx("SHOW CREATE TABLE `" + name + "`").StructScan(&c); err != nil {
			t.Fatal(err)
		}
		rows, err := db.Queryx("SELECT * FROM `" + name + "`")
		if err != nil {
			t.Fatal(err)
		}
		var rs []string
		for rows.Next() {
			vals, err := rows.SliceScan()
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				switch v := v.(type) {
				case time.Time:
					vals[i] = "<time>"
				case []byte:
					vals[i] = string(v)
				}
			}
			rs = append(rs, fmt.Sprint(vals))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		out[name] = table{create: c.Create, rows: rs}
	}
	return out
}
