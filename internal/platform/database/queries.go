package database

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"
)

// Queries are the named SQL blocks of a store's .sql file. A block starts with a line
// `-- name: some-name` and runs to the next such line; comment lines inside are kept.
type Queries map[string]string

// LoadQueries reads one embedded .sql file of named queries.
func LoadQueries(fsys fs.FS, path string) (Queries, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	q := Queries{}
	var name string
	var b strings.Builder
	flush := func() error {
		if name == "" {
			return nil
		}
		text := strings.TrimSpace(b.String())
		if text == "" {
			return fmt.Errorf("%s: query %q is empty", path, name)
		}
		if _, dup := q[name]; dup {
			return fmt.Errorf("%s: query %q defined twice", path, name)
		}
		q[name] = strings.TrimSuffix(text, ";")
		b.Reset()
		return nil
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(strings.TrimSpace(line), "-- name:"); ok {
			if err := flush(); err != nil {
				return nil, err
			}
			name = strings.TrimSpace(n)
			continue
		}
		if name != "" {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return q, nil
}

// MustLoadQueries is LoadQueries for package-level embedded files: a broken file is a
// programming error caught by every test of the package.
func MustLoadQueries(fsys fs.FS, path string) Queries {
	q, err := LoadQueries(fsys, path)
	if err != nil {
		panic(err)
	}
	return q
}

// Get returns a named query; a missing name is a programming error.
func (q Queries) Get(name string) string {
	s, ok := q[name]
	if !ok {
		panic("database: no query named " + name)
	}
	return s
}

// Check prepares every query once against the server and closes it, so a typo or a missing
// column fails at start-up rather than at 2 a.m.
func (q Queries) Check(ctx context.Context, db *sqlx.DB) error {
	names := make([]string, 0, len(q))
	for n := range q {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		st, err := db.PrepareContext(ctx, q[n])
		if err != nil {
			return fmt.Errorf("query %s: %w", n, err)
		}
		_ = st.Close()
	}
	return nil
}

// registry holds every package's named queries, so start-up can prepare them all without a
// hand-kept list. Packages register at init through RegisterQueries.
var registry = map[string]Queries{}

// RegisterQueries loads a package's embedded .sql file of named queries and records it under
// the package's name (its import path's last element is enough; it must be unique). It panics
// on a broken file or a second registration under the same name: both are programming errors
// that every test of the package catches at init.
func RegisterQueries(owner string, fsys fs.FS, path string) Queries {
	q := MustLoadQueries(fsys, path)
	if _, dup := registry[owner]; dup {
		panic("database: queries of " + owner + " registered twice")
	}
	registry[owner] = q
	return q
}

// Registered returns the owners that registered queries, sorted, and their queries.
func Registered() ([]string, map[string]Queries) {
	owners := make([]string, 0, len(registry))
	for o := range registry {
		owners = append(owners, o)
	}
	sort.Strings(owners)
	return owners, registry
}

// CheckRegistered prepares every registered query once (see Queries.Check).
func CheckRegistered(ctx context.Context, db *sqlx.DB) error {
	owners, all := Registered()
	for _, o := range owners {
		if err := all[o].Check(ctx, db); err != nil {
			return fmt.Errorf("%s: %w", o, err)
		}
	}
	return nil
}
