package content

import (
	"path"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/canbao/canbao/internal/policy"
)

func TestArticles(t *testing.T) {
	articles, err := Articles()
	if err != nil {
		t.Fatal(err)
	}
	if len(articles) < 9 {
		t.Fatalf("got %d articles, want at least 9", len(articles))
	}
	names, err := files.ReadDir("articles")
	if err != nil {
		t.Fatal(err)
	}
	fileSlugs := map[string]bool{}
	for _, e := range names {
		fileSlugs[strings.TrimSuffix(e.Name(), path.Ext(e.Name()))] = true
	}
	if len(fileSlugs) != len(articles) {
		t.Errorf("%d files but %d articles", len(fileSlugs), len(articles))
	}

	seen := map[string]bool{}
	for i, a := range articles {
		if i > 0 && articles[i-1].Slug >= a.Slug {
			t.Errorf("articles not sorted by slug: %q before %q", articles[i-1].Slug, a.Slug)
		}
		if seen[a.Slug] {
			t.Errorf("duplicate slug %q", a.Slug)
		}
		seen[a.Slug] = true
		if !fileSlugs[a.Slug] {
			t.Errorf("slug %q matches no file name", a.Slug)
		}
		if !policy.KnownCategory(a.Category) {
			t.Errorf("%s: unknown category %q", a.Slug, a.Category)
		}
		if n := utf8.RuneCountInString(a.Title); n == 0 || n > 30 {
			t.Errorf("%s: title has %d runes, want 1-30", a.Slug, n)
		}
		if n := utf8.RuneCountInString(a.Summary); n == 0 || n > 80 {
			t.Errorf("%s: summary has %d runes, want 1-80", a.Slug, n)
		}
		if n := utf8.RuneCountInString(a.Body); n < 300 {
			t.Errorf("%s: body has %d runes, want at least 300", a.Slug, n)
		}
	}

	// Every category the brief names is covered by at least one article.
	used := map[string]bool{}
	for _, a := range articles {
		used[a.Category] = true
	}
	for code := range policy.Categories {
		if !used[code] {
			t.Errorf("no article in category %q", code)
		}
	}
}

func TestParse(t *testing.T) {
	good := "---\nslug: a\ntitle: 标题\nsummary: 摘要：说明\ncategory: faq\n---\n正文\n"
	a, err := parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if a.Slug != "a" || a.Title != "标题" || a.Summary != "摘要：说明" || a.Category != "faq" || a.Body != "正文" {
		t.Errorf("parse = %+v", a)
	}
	if _, err := parse([]byte(strings.ReplaceAll(good, "\n", "\r\n"))); err != nil {
		t.Errorf("CRLF file: %v", err)
	}

	bad := map[string]string{
		"no front matter": "slug: a\n正文",
		"not closed":      "---\nslug: a\ntitle: t\nsummary: s\ncategory: faq\n正文",
		"no colon":        "---\nslug a\ntitle: t\nsummary: s\ncategory: faq\n---\n正文",
		"unknown key":     "---\nslug: a\nauthor: x\ntitle: t\nsummary: s\ncategory: faq\n---\n正文",
		"duplicate key":   "---\nslug: a\nslug: b\ntitle: t\nsummary: s\ncategory: faq\n---\n正文",
		"missing title":   "---\nslug: a\nsummary: s\ncategory: faq\n---\n正文",
		"empty body":      "---\nslug: a\ntitle: t\nsummary: s\ncategory: faq\n---\n  \n",
	}
	for name, in := range bad {
		if _, err := parse([]byte(in)); err == nil {
			t.Errorf("%s: parse succeeded, want an error", name)
		}
	}
}
