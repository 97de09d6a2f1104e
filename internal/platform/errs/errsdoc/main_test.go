package main

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/canbao/canbao/internal/platform/errs"
)

// root is the module's top folder (tests run in internal/platform/errs/errsdoc).
const root = "../../../.."

// TestErrorsDocIsGenerated: docs/ERRORS.md is what the catalog generates, so the document
// cannot drift from the statuses and messages the server answers.
func TestErrorsDocIsGenerated(t *testing.T) {
	got, err := os.ReadFile(filepath.Join(root, "docs/ERRORS.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want := render(errs.Catalog()); !bytes.Equal(got, want) {
		t.Fatal("docs/ERRORS.md is not what the error catalog generates: run go generate ./internal/platform/errs")
	}
}

// TestCatalogEntriesAreComplete: every entry has an HTTP error status, a meaning and a Chinese
// message, and the doc lists the statuses in order.
func TestCatalogEntriesAreComplete(t *testing.T) {
	prev := 0
	for _, e := range errs.Catalog() {
		if e.Status < 400 || e.Status > 599 || e.Meaning == "" || !hasHan(e.Message) {
			t.Errorf("%s: status %d, meaning %q, message %q", e.Code, e.Status, e.Meaning, e.Message)
		}
		if e.Status < prev {
			t.Errorf("%s (%d) comes after a %d code", e.Code, e.Status, prev)
		}
		prev = e.Status
		if errs.Status(e.Code) != e.Status {
			t.Errorf("%s: Status says %d, the catalog %d", e.Code, errs.Status(e.Code), e.Status)
		}
	}
}

func hasHan(s string) bool {
	for _, r := range s {
		if r >= 0x4e00 && r <= 0x9fff {
			return true
		}
	}
	return false
}

// use is one place the code base makes an error with a code.
type use struct {
	pos    string
	code   string // "" when the expression could not be resolved
	expr   string
	status int // for Register calls
}

// TestEveryCodeUsedIsInTheCatalog walks the module's Go files (tests aside) and resolves the
// code of every errs.New, errs.Field, errs.Wrap, errs.Error{Code: …} and errs.Register: each
// must be a code of the catalog (a registered one with the catalog's status), and each code of
// the catalog must be used somewhere, so that docs/ERRORS.md lists exactly what clients can get.
func TestEveryCodeUsedIsInTheCatalog(t *testing.T) {
	uses := scan(t)
	if len(uses) < 100 {
		t.Fatalf("only %d uses of error codes found: is %s the module?", len(uses), root)
	}
	used := map[string]bool{}
	for _, u := range uses {
		if u.code == "" {
			t.Errorf("%s: cannot tell which code %s is; use a constant of errs or a var from errs.Register", u.pos, u.expr)
			continue
		}
		used[u.code] = true
		e, ok := errs.Lookup(errs.Code(u.code))
		switch {
		case !ok:
			t.Errorf("%s: code %s is not in the catalog (internal/platform/errs/catalog.go)", u.pos, u.code)
		case u.status != 0 && u.status != e.Status:
			t.Errorf("%s: %s registered with %d, the catalog says %d", u.pos, u.code, u.status, e.Status)
		}
	}
	for _, e := range errs.Catalog() {
		if !used[string(e.Code)] {
			t.Errorf("%s is in the catalog but nothing answers it", e.Code)
		}
	}
}

// scan finds every use of an error code in the module's non-test Go files.
func scan(t *testing.T) []use {
	t.Helper()
	type file struct {
		path  string
		f     *ast.File
		inErr bool // the file is package errs itself
	}
	fset := token.NewFileSet()
	var files []file
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "testdata", "dist", "bin":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files = append(files, file{path: filepath.ToSlash(rel), f: f, inErr: filepath.ToSlash(filepath.Dir(rel)) == "internal/platform/errs"})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The constants of package errs, and the vars areas declare with errs.Register.
	consts := map[string]string{}
	registered := map[string]string{}
	for _, fl := range files {
		for _, d := range fl.f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, sp := range g.Specs {
				vs, ok := sp.(*ast.ValueSpec)
				if !ok {
					continue
				}
				for i, n := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					if fl.inErr && g.Tok == token.CONST {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							consts[n.Name], _ = strconv.Unquote(lit.Value)
						}
					}
					if call, ok := vs.Values[i].(*ast.CallExpr); ok && isErrsFunc(call.Fun, "Register", fl.inErr) && len(call.Args) == 2 {
						if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							registered[n.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			}
		}
	}

	var uses []use
	for _, fl := range files {
		resolve := func(x ast.Expr) string {
			switch x := x.(type) {
			case *ast.BasicLit:
				if x.Kind == token.STRING {
					s, _ := strconv.Unquote(x.Value)
					return s
				}
			case *ast.Ident:
				if fl.inErr {
					if v, ok := consts[x.Name]; ok {
						return v
					}
				}
				return registered[x.Name]
			case *ast.SelectorExpr:
				if id, ok := x.X.(*ast.Ident); ok && id.Name == "errs" {
					return consts[x.Sel.Name]
				}
				return registered[x.Sel.Name]
			case *ast.CallExpr: // errs.Code("X")
				if isErrsType(x.Fun, "Code", fl.inErr) && len(x.Args) == 1 {
					if lit, ok := x.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						return s
					}
				}
			}
			return ""
		}
		ast.Inspect(fl.f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				for _, name := range []string{"New", "Field", "Wrap", "Register"} {
					if !isErrsFunc(n.Fun, name, fl.inErr) || len(n.Args) == 0 {
						continue
					}
					if fl.inErr && name != "Register" {
						if id, ok := n.Args[0].(*ast.Ident); ok && id.Name == "code" {
							continue // the constructors themselves
						}
					}
					u := use{pos: pos(fset, n.Pos()), code: resolve(n.Args[0]), expr: exprString(fset, n.Args[0])}
					if name == "Register" {
						if fl.inErr {
							continue // Register's own code
						}
						if len(n.Args) == 2 {
							if lit, ok := n.Args[1].(*ast.BasicLit); ok {
								u.status, _ = strconv.Atoi(lit.Value)
							}
						}
					}
					uses = append(uses, u)
				}
			case *ast.CompositeLit:
				if !isErrsType(n.Type, "Error", fl.inErr) {
					return true
				}
				for _, el := range n.Elts {
					if kv, ok := el.(*ast.KeyValueExpr); ok {
						if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Code" {
							if id, ok := kv.Value.(*ast.Ident); ok && fl.inErr && id.Name == "code" {
								continue // the constructors themselves
							}
							uses = append(uses, use{pos: pos(fset, n.Pos()), code: resolve(kv.Value), expr: exprString(fset, kv.Value)})
						}
					}
				}
			}
			return true
		})
	}
	sort.Slice(uses, func(i, j int) bool { return uses[i].pos < uses[j].pos })
	return uses
}

// isErrsFunc reports whether fun is errs.<name> (or <name> inside package errs).
func isErrsFunc(fun ast.Expr, name string, inErrs bool) bool {
	switch f := fun.(type) {
	case *ast.SelectorExpr:
		id, ok := f.X.(*ast.Ident)
		return ok && id.Name == "errs" && f.Sel.Name == name
	case *ast.Ident:
		return inErrs && f.Name == name
	}
	return false
}

// isErrsType is isErrsFunc for a type name (errs.Error, errs.Code).
func isErrsType(x ast.Expr, name string, inErrs bool) bool { return isErrsFunc(x, name, inErrs) }

// pos is a position relative to the module's top folder.
func pos(fset *token.FileSet, p token.Pos) string {
	return strings.TrimPrefix(fset.Position(p).String(), root+"/")
}

func exprString(fset *token.FileSet, x ast.Expr) string {
	var b strings.Builder
	start, end := fset.Position(x.Pos()), fset.Position(x.End())
	src, err := os.ReadFile(start.Filename)
	if err != nil || end.Offset > len(src) {
		return "an expression"
	}
	b.Write(src[start.Offset:end.Offset])
	return b.String()
}
