// Package content holds the seed policy explainers (政策解读) shown to residents,
// written as Markdown files with a small front matter and embedded in the binary.
package content

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/canbao/canbao/internal/policy"
)

//go:embed articles/*.md
var files embed.FS

// Article is one policy explainer as written in the seed content.
type Article struct{ Slug, Title, Summary, Category, Body string }

// Articles parses every embedded article, sorted by slug; it returns an error naming the file if one is malformed.
func Articles() ([]Article, error) {
	names, err := fs.Glob(files, "articles/*.md")
	if err != nil {
		return nil, err
	}
	out := make([]Article, 0, len(names))
	seen := make(map[string]string, len(names))
	for _, name := range names {
		data, err := files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("content: %s: %w", name, err)
		}
		a, err := parse(data)
		if err != nil {
			return nil, fmt.Errorf("content: %s: %w", name, err)
		}
		if want := strings.TrimSuffix(path.Base(name), ".md"); a.Slug != want {
			return nil, fmt.Errorf("content: %s: slug %q does not match the file name", name, a.Slug)
		}
		if !policy.KnownCategory(a.Category) {
			return nil, fmt.Errorf("content: %s: unknown category %q", name, a.Category)
		}
		if prev, dup := seen[a.Slug]; dup {
			return nil, fmt.Errorf("content: %s: slug %q already used by %s", name, a.Slug, prev)
		}
		seen[a.Slug] = name
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slug < out[j].Slug })
	return out, nil
}

// parse reads one article: a front matter block between two "---" lines with
// one "key: value" per line (slug, title, summary, category), then the body.
func parse(data []byte) (Article, error) {
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.TrimPrefix(text, "\ufeff")
	rest, ok := strings.CutPrefix(text, "---\n")
	if !ok {
		return Article{}, fmt.Errorf("missing front matter: the file must start with a --- line")
	}
	var front, body string
	if f, b, found := strings.Cut(rest, "\n---\n"); found {
		front, body = f, b
	} else if f, found := strings.CutSuffix(rest, "\n---"); found {
		front = f
	} else {
		return Article{}, fmt.Errorf("front matter is not closed by a --- line")
	}

	var a Article
	fields := map[string]*string{
		"slug":     &a.Slug,
		"title":    &a.Title,
		"summary":  &a.Summary,
		"category": &a.Category,
	}
	set := make(map[string]bool, len(fields))
	for i, line := range strings.Split(front, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		key, value, found := strings.Cut(line, ":")
		if !found {
			return Article{}, fmt.Errorf("front matter line %d: want \"key: value\", got %q", i+2, line)
		}
		key = strings.TrimSpace(key)
		dst, known := fields[key]
		if !known {
			return Article{}, fmt.Errorf("front matter line %d: unknown key %q", i+2, key)
		}
		if set[key] {
			return Article{}, fmt.Errorf("front matter line %d: duplicate key %q", i+2, key)
		}
		set[key] = true
		*dst = strings.TrimSpace(value)
	}
	for _, key := range []string{"slug", "title", "summary", "category"} {
		if *fields[key] == "" {
			return Article{}, fmt.Errorf("front matter: %s is missing or empty", key)
		}
	}
	a.Body = strings.TrimSpace(body)
	if a.Body == "" {
		return Article{}, fmt.Errorf("body is empty")
	}
	return a, nil
}
