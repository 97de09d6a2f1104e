package docs

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// root is the repository's top folder (tests run in docs/).
const root = ".."

// repoFiles lists the repository's files as git sees them (tracked, and new ones not ignored),
// or, without git, every file under root but the ignored build and dependency folders. Paths are slash-separated and
// relative to root.
func repoFiles(t *testing.T) []string {
	t.Helper()
	if out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output(); err == nil {
		var files []string
		for _, f := range strings.Split(string(out), "\x00") {
			if f != "" {
				files = append(files, f)
			}
		}
		return files
	}
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			switch rel {
			case ".git", "bin", ".canbao", "tmp", "coverage", "web/node_modules", "web/test-results", "web/playwright-report":
				return filepath.SkipDir
			}
			return nil
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// skipped are files no citation check reads: dependencies, build output, checksums, lockfiles.
func skipped(f string) bool {
	base := filepath.Base(f)
	return strings.Contains(f, "node_modules/") || strings.HasPrefix(f, "web/dist/") || base == "go.sum" ||
		base == "package-lock.json" || strings.HasSuffix(base, ".lock")
}

// textFiles reads every tracked text file (no NUL byte in it) that skipped lets through.
func textFiles(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, f := range repoFiles(t) {
		if skipped(f) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the work tree, not yet in the index
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.IndexByte(b, 0) >= 0 {
			continue
		}
		out[f] = b
	}
	return out
}

var (
	// outside is a path into the folder beside the repository that earlier notes lived in.
	outside = regexp.MustCompile(`\.\./shared\b`)
	// namedDoc is a citation of one of the project's documents, with its path if it has one.
	namedDoc = regexp.MustCompile(`((?:[A-Za-z0-9_.-]+/)*)\b(DESIGN|API|STYLE|SECURITY|ARCHITECTURE|ERRORS)\.md\b`)
	// docsPath is any path into docs/ that names a Markdown file.
	docsPath = regexp.MustCompile(`(?:^|[^A-Za-z0-9_./-])(docs/[A-Za-z0-9_./-]*\.md)\b`)
	// section is a citation of one section of a document: its path, a comma and the section's
	// heading in double quotes.
	section = regexp.MustCompile(`(docs/[A-Za-z0-9_./-]*\.md), "([^"]+)"`)
)

// resolves reports whether ref, cited in file, names a file of the repository: from the top
// folder or from the citing file's folder, never leaving the repository.
func resolves(file, ref string) bool {
	for _, base := range []string{".", filepath.Dir(filepath.FromSlash(file))} {
		p := filepath.Clean(filepath.Join(base, filepath.FromSlash(ref)))
		if p == ".." || strings.HasPrefix(p, ".."+string(filepath.Separator)) {
			continue
		}
		if st, err := os.Stat(filepath.Join(root, p)); err == nil && !st.IsDir() {
			return true
		}
	}
	return false
}

// hasHeading reports whether the document doc (a path from the top folder) has a Markdown
// heading whose text is title.
func hasHeading(doc, title string) bool {
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(doc)))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if h, ok := strings.CutPrefix(line, "#"); ok && strings.TrimSpace(strings.TrimLeft(h, "#")) == title {
			return true
		}
	}
	return false
}

// citations returns every line of text that cites a document the repository does not hold.
func citations(file string, text []byte) []string {
	var bad []string
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		at := file + ":" + strconv.Itoa(n) + ": "
		if outside.MatchString(line) {
			bad = append(bad, at+"cites "+outside.FindString(line)+", outside the repository")
		}
		for _, m := range namedDoc.FindAllStringSubmatch(line, -1) {
			if !resolves(file, m[0]) {
				bad = append(bad, at+"cites "+m[0]+", which is not in the repository")
			}
		}
		for _, m := range docsPath.FindAllStringSubmatch(line, -1) {
			if !resolves(file, m[1]) && !namedDoc.MatchString(m[1]) {
				bad = append(bad, at+"cites "+m[1]+", which is not in the repository")
			}
		}
		for _, m := range section.FindAllStringSubmatch(line, -1) {
			if resolves(file, m[1]) && !hasHeading(m[1], m[2]) {
				bad = append(bad, at+"cites the section \""+m[2]+"\" of "+m[1]+", which has no such heading")
			}
		}
	}
	return bad
}

// TestNoCitationLeavesTheRepository: the repository stands alone. Code, configuration and
// documents may cite only documents that are in it (the project's design, API and style notes
// from before the repository, and anything beside it, are not).
func TestNoCitationLeavesTheRepository(t *testing.T) {
	files := textFiles(t)
	if len(files) < 100 {
		t.Fatalf("only %d text files found: is %s the repository?", len(files), root)
	}
	var bad []string
	for f, text := range files {
		bad = append(bad, citations(f, text)...)
	}
	slices.Sort(bad)
	if len(bad) > 0 {
		t.Errorf("%d citations of documents outside the repository:\n%s", len(bad), strings.Join(bad, "\n"))
	}
}

// TestCitationCheckCatchesWhatItShould keeps the check honest on made-up text.
func TestCitationCheckCatchesWhatItShould(t *testing.T) {
	for _, c := range []struct {
		file, text string
		bad        int
	}{
		{"internal/x/x.go", "// see " + "DESIGN" + ".md, section 3", 1},
		{"internal/x/x.go", "// as " + "API" + ".md says", 1},
		{"api/openapi.yaml", "    docs/" + "API" + ".md and must agree", 1},
		{"Makefile", "# Fault drills (" + "SECURITY" + ".md, \"Nothing lost\")", 1},
		{"README.md", "see .." + "/shared/notes.txt", 1},
		{"internal/x/x.go", "// See docs/" + "NOPE.md", 1},
		{"internal/x/x.go", "// See docs/SECURITY.md and docs/PERFORMANCE.md", 0},
		{"docs/ERRORS.md", "see SECURITY.md", 0}, // beside it
		{"README.md", "an OPENAPI.md or APIs.md is not a citation", 0},
		{"internal/x/x.go", "// (docs/SECURITY.md, \"Rate limits\")", 0},
		{"internal/x/x.go", "// (docs/SECURITY.md, \"Rate limts\")", 1},
	} {
		if got := citations(c.file, []byte(c.text)); len(got) != c.bad {
			t.Errorf("%s %q: %d findings %q, want %d", c.file, c.text, len(got), got, c.bad)
		}
	}
}

// TestMakeHelpListsEveryTarget: `make help` names every target the Makefile declares (.PHONY),
// each on a line of its own.
func TestMakeHelpListsEveryTarget(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	listed := map[string]bool{}
	inHelp := false
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, ".PHONY:"); ok {
			targets = append(targets, strings.Fields(rest)...)
		}
		switch {
		case line == "help:":
			inHelp = true
		case inHelp && strings.HasPrefix(line, "\t"):
			if m := helpLine.FindStringSubmatch(line); m != nil {
				listed[m[1]] = true
			}
		case inHelp:
			inHelp = false
		}
	}
	if len(targets) < 5 {
		t.Fatalf("found only the targets %v", targets)
	}
	for _, tg := range targets {
		if tg != "help" && !listed[tg] {
			t.Errorf("make help does not list %q", tg)
		}
	}
}

var helpLine = regexp.MustCompile(`^\t@echo "make ([a-z-]+) `)

var (
	// goTestName is a Go test or fuzz function named in a document, in backticks.
	goTestName = regexp.MustCompile("`((?:Test|Fuzz)[A-Z0-9][A-Za-z0-9_]*)`")
	// e2eTest is a browser test named in a document: its spec file in backticks, then
	// optionally › and its title in double quotes.
	e2eTest = regexp.MustCompile("`(web/e2e/[A-Za-z0-9_.-]+\\.spec\\.ts)`(?:\\s*›\\s*\"([^\"]+)\")?")
	// goTestFunc is the declaration of a Go test or fuzz function.
	goTestFunc = regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)[A-Za-z0-9_]*)\(`)
)

// TestDocumentedTestsExist: every test the documents name as the proof of a control or an
// invariant exists: a Go test or fuzz function somewhere in the repository, a browser test's
// spec file and, when given, its title.
func TestDocumentedTestsExist(t *testing.T) {
	files := textFiles(t)
	funcs := map[string]bool{}
	for f, text := range files {
		if strings.HasSuffix(f, "_test.go") {
			for _, m := range goTestFunc.FindAllSubmatch(text, -1) {
				funcs[string(m[1])] = true
			}
		}
	}
	if len(funcs) < 100 {
		t.Fatalf("only %d test functions found", len(funcs))
	}
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	named := map[string]int{}
	for _, d := range docs {
		b, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		name := "docs/" + filepath.Base(d)
		for _, m := range goTestName.FindAllStringSubmatch(string(b), -1) {
			named[name]++
			if !funcs[m[1]] {
				t.Errorf("%s names %s, which is no test function of the repository", name, m[1])
			}
		}
		for _, m := range e2eTest.FindAllStringSubmatch(string(b), -1) {
			named[name]++
			spec, ok := files[m[1]]
			switch {
			case !ok:
				t.Errorf("%s names %s, which is not in the repository", name, m[1])
			case m[2] != "" && !bytes.Contains(spec, []byte("test('"+m[2]+"'")):
				t.Errorf("%s names the test %q of %s, which has no test of that title", name, m[2], m[1])
			}
		}
	}
	for _, d := range []string{"docs/SECURITY.md", "docs/ARCHITECTURE.md"} {
		if named[d] < 10 {
			t.Errorf("%s names %d tests; is the format still `TestName` and `web/e2e/x.spec.ts` › \"title\"?", d, named[d])
		}
	}
}
