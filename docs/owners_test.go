package docs

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/canbao/canbao/internal/platform/database"
)

// owners names the one package that writes each table. It must match the table in
// docs/ARCHITECTURE.md, "Who writes which table", which the test reads.
var owners = map[string]string{
	"villages":                 "internal/seed",
	"plans":                    "internal/progress",
	"plan_milestones":          "internal/progress",
	"plan_targets":             "internal/progress",
	"plan_tasks":               "internal/progress",
	"residents":                "internal/roster",
	"resident_accounts":        "internal/account",
	"staff_users":              "internal/auth",
	"refresh_tokens":           "internal/auth",
	"policy_articles":          "internal/policy",
	"policy_article_revisions": "internal/policy",
	"contribution_tiers":       "internal/seed",
	"registrations":            "internal/registration",
	"visits":                   "internal/visit",
	"visit_tasks":              "internal/visit",
	"subscription_consents":    "internal/account",
	"enrollments":              "internal/enrollment",
	"enrollment_daily":         "internal/enrollment",
	"enrollment_totals":        "internal/enrollment",
	"conversions":              "internal/enrollment",
	"roster_imports":           "internal/importer",
	"roster_import_errors":     "internal/importer",
	"import_chunks":            "internal/importer",
	"engine_leases":            "campaigns/engine",
	"monthly_reports":          "internal/progress",
	"campaigns":                "campaigns",
	"campaign_runs":            "campaigns",
	"deliveries":               "campaigns",
	"audit_log":                "internal/audit",
	"referral_cases":           "internal/employer",
	"referral_notes":           "internal/employer",
	"idempotency_keys":         "internal/platform/idempotency",
	"pii_key_checks":           "internal/pii/keycheck",
	"events":                   "internal/event",
	"event_villages":           "internal/event",
	"event_codes":              "internal/event",
	"event_checkins":           "internal/event",
}

// fixtures write any table to build test or benchmark data fast; they never run in the server.
var fixtures = map[string]string{
	"internal/server/servertest": "test fixtures",
	"internal/platform/dbtest":   "test fixtures",
	"bench/cmd/canbao-bench":     "the benchmark's set-up",
}

// exceptions are the other writers a table keeps on purpose, each named in the doc's third
// column. There are none: the demo seed writes through the owners too.
var exceptions = map[string][]string{}

// pending are writers still to move behind their table's owner. The doc names them in the
// third column too. This list must end empty.
var pending = map[string][]string{}

// temporary are tables a package creates on its own connection and writes alone.
var temporary = map[string]string{
	"roster_import_stage": "internal/roster", // an import's chunk, loaded with LOAD DATA, on the import's connection
}

// writeStmt finds a written table: INSERT [modifiers] [INTO] t, REPLACE [INTO] t, UPDATE
// [modifiers] t (the first table of a multi-table update), DELETE [modifiers] FROM t, and
// DELETE aliases FROM t (the written table is then the first in FROM; the aliases name it).
// The word before the keyword is captured to leave out FOR UPDATE and ON DUPLICATE KEY UPDATE.
// Keywords are matched in capitals, as the module writes its SQL (prose in messages is not).
var writeStmt = regexp.MustCompile("(?s)(\\w+\\s+)?\\b(INSERT(?:\\s+(?:IGNORE|LOW_PRIORITY|DELAYED|HIGH_PRIORITY))*(?:\\s+INTO)?" +
	"|REPLACE(?:\\s+(?:LOW_PRIORITY|DELAYED))*(?:\\s+INTO)?" +
	"|UPDATE(?:\\s+(?:LOW_PRIORITY|IGNORE))*" +
	"|DELETE(?:\\s+(?:LOW_PRIORITY|QUICK|IGNORE))*(?:\\s+\\w+(?:\\s*,\\s*\\w+)*)?\\s+FROM)\\s+`?(\\w+)")

// written returns the tables an SQL text writes.
func written(sql string) []string {
	var out []string
	for _, m := range writeStmt.FindAllStringSubmatch(sql, -1) {
		before := strings.ToUpper(strings.TrimSpace(m[1]))
		if strings.HasPrefix(m[2], "UPDATE") && (before == "FOR" || before == "KEY") {
			continue
		}
		out = append(out, m[3])
	}
	return out
}

func TestWrittenTables(t *testing.T) {
	for sql, want := range map[string][]string{
		"INSERT INTO residents (a) VALUES (?)":                                          {"residents"},
		"INSERT IGNORE INTO `visit_tasks` (a) SELECT 1":                                 {"visit_tasks"},
		"REPLACE INTO villages (a) VALUES (1)":                                          {"villages"},
		"UPDATE residents r JOIN visits v ON v.id = r.last_visit_id SET r.a=1":          {"residents"},
		"UPDATE IGNORE deliveries SET a = 1":                                            {"deliveries"},
		"DELETE FROM audit_log WHERE id = 1":                                            {"audit_log"},
		"DELETE d FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id":           {"deliveries"},
		"SELECT id FROM residents WHERE id = ? FOR UPDATE":                              nil,
		"SELECT id FROM residents FOR UPDATE SKIP LOCKED":                               nil,
		"INSERT INTO enrollment_daily (a) VALUES (1) ON DUPLICATE KEY UPDATE a = a + 1": {"enrollment_daily"},
	} {
		if got := written(sql); !slices.Equal(got, want) {
			t.Errorf("written(%q) = %v, want %v", sql, got, want)
		}
	}
}

// module is the module's path (go.mod).
const module = "github.com/canbao/canbao"

// borrowedQuery is a package running another package's named query: pkg.Queries.Get("name").
type borrowedQuery struct{ rel, dir, name string }

// foreignQuery recognises x.Queries.Get("name") where x is an imported package of the module,
// and returns that package's directory and the query's name.
func foreignQuery(n ast.Node, imports map[string]string) (dir, name string, ok bool) {
	call, isCall := n.(*ast.CallExpr)
	if !isCall || len(call.Args) != 1 {
		return "", "", false
	}
	get, isSel := call.Fun.(*ast.SelectorExpr)
	if !isSel || get.Sel.Name != "Get" {
		return "", "", false
	}
	qs, isSel := get.X.(*ast.SelectorExpr)
	if !isSel || qs.Sel.Name != "Queries" {
		return "", "", false
	}
	pkg, isIdent := qs.X.(*ast.Ident)
	lit, isLit := call.Args[0].(*ast.BasicLit)
	if !isIdent || !isLit || imports[pkg.Name] == "" {
		return "", "", false
	}
	name, err := strconv.Unquote(lit.Value)
	return imports[pkg.Name], name, err == nil
}

// docOwners reads the "Who writes which table" table of docs/ARCHITECTURE.md: for each table,
// its owner (the first package named in the second column) and the other writers (the
// packages named in the third column). A package is a backquoted path that is a directory of
// the module.
func docOwners(t *testing.T) (map[string]string, map[string][]string) {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "docs", "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	quoted := regexp.MustCompile("`([^`]+)`")
	isPkg := func(s string) bool {
		st, err := os.Stat(filepath.Join(root, filepath.FromSlash(s)))
		return err == nil && st.IsDir() && !strings.HasPrefix(s, ".")
	}
	pkgs := func(cell string) []string {
		var out []string
		for _, m := range quoted.FindAllStringSubmatch(cell, -1) {
			if isPkg(m[1]) && !slices.Contains(out, m[1]) {
				out = append(out, m[1])
			}
		}
		return out
	}
	owner, others := map[string]string{}, map[string][]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "## ") {
			in = line == "## Who writes which table"
			continue
		}
		if !in || !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 3 || strings.TrimSpace(cells[0]) == "table" {
			continue
		}
		own := pkgs(cells[1])
		if len(own) == 0 {
			t.Errorf("docs/ARCHITECTURE.md: row %q names no owner package", line)
			continue
		}
		for _, m := range quoted.FindAllStringSubmatch(cells[0], -1) {
			if _, dup := owner[m[1]]; dup {
				t.Errorf("docs/ARCHITECTURE.md: table %s listed twice", m[1])
			}
			owner[m[1]] = own[0]
			others[m[1]] = pkgs(cells[2])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(owner) == 0 {
		t.Fatal(`docs/ARCHITECTURE.md: no table under "## Who writes which table"`)
	}
	return owner, others
}

// TestOneOwnerPerTable walks the module's non-test Go files (their string literals) and
// queries.sql files, finds every table they write, and fails when a package other than the
// table's owner writes it, outside the fixtures, the exceptions and the pending moves. The
// owners, exceptions and pending moves must be what docs/ARCHITECTURE.md says.
func TestOneOwnerPerTable(t *testing.T) {
	// The doc and this test agree, and every table of the schema has an owner.
	docOwner, docOthers := docOwners(t)
	for table, pkg := range owners {
		if docOwner[table] != pkg {
			t.Errorf("table %s: owner %q here, %q in docs/ARCHITECTURE.md", table, pkg, docOwner[table])
		}
		want := append(slices.Clone(exceptions[table]), pending[table]...)
		sort.Strings(want)
		got := slices.Sorted(slices.Values(docOthers[table]))
		if !slices.Equal(got, want) {
			t.Errorf("table %s: other writers %v in docs/ARCHITECTURE.md, %v here (exceptions and pending)", table, got, want)
		}
	}
	for table := range docOwner {
		if _, ok := owners[table]; !ok {
			t.Errorf("table %s is in docs/ARCHITECTURE.md but has no owner here", table)
		}
	}
	created := regexp.MustCompile("(?i)CREATE TABLE(?: IF NOT EXISTS)? `?(\\w+)")
	migs, err := filepath.Glob(filepath.Join(root, "migrations", "*.sql"))
	if err != nil || len(migs) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	for _, m := range migs {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range created.FindAllStringSubmatch(string(b), -1) {
			if _, ok := owners[c[1]]; !ok {
				t.Errorf("table %s (%s) has no owner: add it to docs/ARCHITECTURE.md and to owners", c[1], filepath.Base(m))
			}
		}
	}

	// Every write in the code.
	writes := map[string]map[string][]string{} // table -> package -> files
	var borrowed []borrowedQuery
	add := func(rel, sql string) {
		pkg := filepath.ToSlash(filepath.Dir(strings.Fields(rel)[0]))
		for _, table := range written(sql) {
			if writes[table] == nil {
				writes[table] = map[string][]string{}
			}
			if f := filepath.ToSlash(rel); !slices.Contains(writes[table][pkg], f) {
				writes[table][pkg] = append(writes[table][pkg], f)
			}
		}
	}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "testdata", "web":
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		switch {
		case d.Name() == "queries.sql":
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			var sql strings.Builder
			for line := range strings.SplitSeq(string(b), "\n") {
				if !strings.HasPrefix(strings.TrimSpace(line), "--") {
					sql.WriteString(line + "\n")
				}
			}
			add(rel, sql.String())
		case strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go"):
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			imports := map[string]string{} // local name -> the module package's directory
			for _, im := range f.Imports {
				ip, _ := strconv.Unquote(im.Path.Value)
				dir, ok := strings.CutPrefix(ip, module+"/")
				if !ok {
					continue
				}
				name := dir[strings.LastIndex(dir, "/")+1:]
				if im.Name != nil {
					name = im.Name.Name
				}
				imports[name] = dir
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil {
						add(rel, s)
					}
				}
				if dir, name, ok := foreignQuery(n, imports); ok {
					borrowed = append(borrowed, borrowedQuery{rel: rel, dir: dir, name: name})
				}
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A package that runs another package's named query writes what the query writes.
	for _, b := range borrowed {
		qs, err := database.LoadQueries(os.DirFS(filepath.Join(root, filepath.FromSlash(b.dir))), "queries.sql")
		if err != nil {
			t.Fatalf("%s uses %s's query %q: %v", b.rel, b.dir, b.name, err)
		}
		sql, ok := qs[b.name]
		if !ok {
			t.Errorf("%s uses %s's query %q, which does not exist", b.rel, b.dir, b.name)
			continue
		}
		add(b.rel+" (through "+b.dir+"'s query "+b.name+")", sql)
	}

	tables := slices.Sorted(func(yield func(string) bool) {
		for table := range writes {
			if !yield(table) {
				return
			}
		}
	})
	for _, table := range tables {
		for pkg := range fixtures {
			delete(writes[table], pkg)
		}
		if len(writes[table]) == 0 {
			continue
		}
		owner, known := owners[table]
		if !known {
			if pkg, ok := temporary[table]; ok && len(writes[table]) == 1 && writes[table][pkg] != nil {
				continue
			}
			t.Errorf("%s is written (%v) but is no table of the schema", table, writes[table])
			continue
		}
		for _, pkg := range slices.Sorted(func(yield func(string) bool) {
			for p := range writes[table] {
				if !yield(p) {
					return
				}
			}
		}) {
			files := strings.Join(writes[table][pkg], ", ")
			switch {
			case pkg == owner:
			case slices.Contains(exceptions[table], pkg):
			case slices.Contains(pending[table], pkg):
				t.Logf("pending: %s writes %s (%s); its owner is %s", pkg, table, files, owner)
			default:
				t.Errorf("%s writes %s (%s); only its owner %s may: call a function of %s", pkg, table, files, owner, owner)
			}
		}
	}
	// The lists only shrink: an entry nobody needs any more must go.
	for table, pkgs := range exceptions {
		for _, pkg := range pkgs {
			if writes[table][pkg] == nil {
				t.Errorf("%s is listed as an exception for %s but does not write it: take it off", pkg, table)
			}
		}
	}
	for table, pkgs := range pending {
		for _, pkg := range pkgs {
			if writes[table][pkg] == nil {
				t.Errorf("%s is listed as pending for %s but no longer writes it: take it off the list and the doc", pkg, table)
			}
		}
	}
}
