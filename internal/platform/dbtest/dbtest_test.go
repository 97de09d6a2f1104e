package dbtest_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

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

// Keys and DeleteKeys find a prefix's keys on every master of a cluster (a cluster client's
// SCAN would see one node's), and on a single node alike.
func TestRedisKeysOnEveryMaster(t *testing.T) {
	rdb, prefix := dbtest.Redis(t)
	ctx := context.Background()
	const n = 60
	for i := 0; i < n; i++ {
		if err := rdb.Set(ctx, fmt.Sprintf("%sk%d", prefix, i), i, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := dbtest.Keys(ctx, rdb, prefix+"*")
	if err != nil || len(keys) != n {
		t.Fatalf("Keys: %d keys, %v; want %d", len(keys), err, n)
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		masters := map[string]bool{}
		for _, k := range keys {
			m, err := cc.MasterForKey(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			masters[m.Options().Addr] = true
		}
		if len(masters) < 2 {
			t.Fatalf("%d keys on %d master: the test proves nothing", n, len(masters))
		}
	}
	if d, err := dbtest.DeleteKeys(ctx, rdb, prefix+"*"); err != nil || d != n {
		t.Fatalf("DeleteKeys: %d, %v; want %d", d, err, n)
	}
	if keys, err := dbtest.Keys(ctx, rdb, prefix+"*"); err != nil || len(keys) != 0 {
		t.Fatalf("after DeleteKeys: %v, %v", keys, err)
	}
}
