package village_test

import (
	"context"
	"testing"
	"time"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/dbtest"
	"github.com/canbao/canbao/internal/village"
)

// Two instances share MySQL and Redis: each keeps the villages in process, and a change
// announced by either (village.Changed) reaches both once they re-read the generation.
func TestTwoInstancesSeeAChangeOfTheVillages(t *testing.T) {
	db := dbtest.NewMigrated(t)
	rdb, prefix := dbtest.Redis(t)
	ctx := context.Background()
	old := village.LocalGenerationTTL
	village.LocalGenerationTTL = 0 // re-read the generation on every call: no waiting in the test
	t.Cleanup(func() { village.LocalGenerationTTL = old })
	add := func(code, name string, order int) {
		t.Helper()
		if _, err := db.Exec(`INSERT INTO villages (code, name, town, sort_order, created_at) VALUES (?, ?, '罗东镇', ?, ?)`,
			code, name, order, database.Now()); err != nil {
			t.Fatal(err)
		}
	}
	add("zhenxing", "振兴村", 1)
	a := village.NewCachedStore(db, rdb, prefix)
	b := village.NewCachedStore(db, rdb, prefix)
	codes := func(s *village.Store) []string {
		t.Helper()
		vs, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, v := range vs {
			out = append(out, v.Code)
		}
		return out
	}
	if got := codes(a); len(got) != 1 || got[0] != "zhenxing" {
		t.Fatalf("a lists %v", got)
	}
	if got := codes(b); len(got) != 1 {
		t.Fatalf("b lists %v", got)
	}
	// Written without announcing it: the copies stand (they are caches), but a code not in a
	// copy is still looked up in MySQL.
	add("luoxi", "罗溪村", 2)
	if got := codes(a); len(got) != 1 {
		t.Fatalf("a does not read its copy: %v", got)
	}
	if ok, err := b.Exists(ctx, "luoxi"); err != nil || !ok {
		t.Fatalf("a village missing from the copy is unknown: %v %v", ok, err)
	}
	if ok, err := b.Exists(ctx, "nowhere"); err != nil || ok {
		t.Fatalf("an unknown village exists: %v %v", ok, err)
	}
	if err := village.Changed(ctx, rdb, prefix); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*village.Store{"a": a, "b": b} {
		if got := codes(s); len(got) != 2 || got[1] != "luoxi" {
			t.Errorf("instance %s lists %v after the change", name, got)
		}
	}
}

// A copy older than MaxAge is reloaded even when nobody announced the change.
func TestAnOldCopyIsReloaded(t *testing.T) {
	db := dbtest.NewMigrated(t)
	rdb, prefix := dbtest.Redis(t)
	ctx := context.Background()
	old := village.MaxAge
	t.Cleanup(func() { village.MaxAge = old })
	s := village.NewCachedStore(db, rdb, prefix)
	if vs, err := s.List(ctx); err != nil || len(vs) != 0 {
		t.Fatalf("%v %v", vs, err)
	}
	if _, err := db.Exec(`INSERT INTO villages (code, name, town, sort_order, created_at) VALUES ('luoxi', '罗溪村', '罗东镇', 1, ?)`, database.Now()); err != nil {
		t.Fatal(err)
	}
	village.MaxAge = time.Duration(0)
	if vs, err := s.List(ctx); err != nil || len(vs) != 1 {
		t.Fatalf("%v %v", vs, err)
	}
}
