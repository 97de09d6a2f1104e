package database_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// builders are the files allowed to hold SQL text in Go: queries assembled at run time from
// parts the caller chooses (filters, segments), each with a test that feeds it hostile input.
// Everything else is a named query in its package's queries.sql, prepared at boot.
var builders = map[string]string{
	"internal/registration/list.go": "the registration lists: the callers' fixed WHERE conditions and ORDER BY, values " +
		"bound; registration's list_api_test feeds the queue's filters hostile values",
	"internal/auth/userlist.go": "the staff list's WHERE from its optional filters (fixed conditions, values bound); " +
		"auth's userlist_test feeds it hostile values",
	"internal/roster/list.go": "the roster's WHERE from its validated filters (fixed conditions, values bound); " +
		"roster's list_api_test feeds them hostile values",
	"internal/visit/list.go": "the visit list's WHERE from its optional filters (fixed conditions, values bound); " +
		"visit's list_api_test feeds them hostile values",
	"internal/roster/stage.go": "statements on an import's staging table, a temporary table that exists only on the " +
		"import's connection, so they cannot be prepared at start-up; only the LOAD DATA reader's name, chosen there, is put in",
}

var statement = regexp.MustCompile(`(?is)^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|WITH)\s`)

// TestNoStaticSQLOutsideQueryFiles walks the module's non-test Go files and fails on any string
// literal that is an SQL statement, outside the builders.
func TestNoStaticSQLOutsideQueryFiles(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]int{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "testdata", "web", "bench", "drills", "servertest", "dbtest": // test helpers, never in the server
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err == nil && statement.MatchString(s) {
				found[filepath.ToSlash(rel)]++
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	files := make([]string, 0, len(found))
	for f := range found {
		files = append(files, f)
	}
	sort.Strings(files)
	total := 0
	for _, f := range files {
		total += found[f]
		if _, ok := builders[f]; ok {
			continue
		}
		t.Errorf("%s holds %d static SQL statements: name them in the package's queries.sql", f, found[f])
	}
	t.Logf("%d SQL literals in %d files", total, len(files))
}
