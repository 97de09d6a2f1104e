package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/dbtest"
)

// TestEveryQueryFileIsRegisteredAndPrepares: serve prepares the registered queries at boot
// (database.CheckRegistered) instead of a hand-kept list, so every queries.sql in the module
// must reach the registry through the binary's imports, and every query must prepare against
// the migrated schema.
func TestEveryQueryFileIsRegisteredAndPrepares(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "web" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == "queries.sql" {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	owners, all := database.Registered()
	if len(files) == 0 || len(owners) != len(files) {
		t.Fatalf("%d queries.sql files in the module, %d registered owners %v: a package with a queries.sql is not registered or not imported by the binary", len(files), len(owners), owners)
	}
	n := 0
	for _, o := range owners {
		if len(all[o]) == 0 {
			t.Errorf("%s registered no queries", o)
		}
		n += len(all[o])
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
	db := dbtest.New(t)
	if err := database.CheckRegistered(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d queries of %d packages prepare", n, len(owners))
}
