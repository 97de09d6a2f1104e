package database_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// sharedLock matches a shared-lock read in either syntax. TiDB refuses both (error 1235) unless
// tidb_enable_noop_functions is on, and then takes no lock; MariaDB has no FOR SHARE. The
// server's SQL locks with FOR UPDATE (docs/SCALING.md, "The SQL review").
var sharedLock = regexp.MustCompile(`(?i)\bLOCK\s+IN\s+SHARE\s+MODE\b|\bFOR\s+SHARE\b`)

// TestNoSharedLockReads walks the module's queries.sql files and non-test Go files (the
// builders included) and fails on a shared-lock read.
func TestNoSharedLockReads(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "web", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		isSQL := strings.HasSuffix(path, ".sql") && !strings.Contains(filepath.ToSlash(path), "/migrations/")
		isGo := strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go")
		if !isSQL && !isGo {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		for i, line := range strings.Split(string(b), "\n") {
			code := line
			if isSQL {
				code, _, _ = strings.Cut(line, "--")
			} else {
				code, _, _ = strings.Cut(line, "//")
			}
			if sharedLock.MatchString(code) {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s:%d: a shared-lock read, which TiDB refuses: %s", filepath.ToSlash(rel), i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("only %d files checked: is %s the module?", checked, root)
	}
}
