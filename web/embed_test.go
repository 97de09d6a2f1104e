package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// TestDistIsAStrictCSPBuild: the committed build has an index.html whose scripts are all
// external files of the build (the console's CSP allows no inline script), and every file it
// references exists.
func TestDistIsAStrictCSPBuild(t *testing.T) {
	index, err := fs.ReadFile(DistFS, "index.html")
	if err != nil {
		t.Fatalf("web/dist/index.html: %v (run make web)", err)
	}
	html := string(index)
	scripts := regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`).FindAllStringSubmatch(html, -1)
	if len(scripts) == 0 {
		t.Fatal("index.html loads no script")
	}
	for _, s := range scripts {
		if strings.TrimSpace(s[2]) != "" || !strings.Contains(s[1], `src="/console/assets/`) {
			t.Errorf("inline or foreign script in index.html: %s", s[0])
		}
	}
	if regexp.MustCompile(`(?i)\son[a-z]+\s*=`).MatchString(html) {
		t.Error("index.html has an inline event handler")
	}
	refs := regexp.MustCompile(`(?:src|href)="/console/([^"]+)"`).FindAllStringSubmatch(html, -1)
	for _, r := range refs {
		if _, err := fs.Stat(DistFS, r[1]); err != nil {
			t.Errorf("index.html references %s, which is not in dist: %v", r[1], err)
		}
	}
	// No eval-like constructs in our own chunks would need 'unsafe-eval'.
	js, _ := fs.Glob(DistFS, "assets/*.js")
	for _, name := range js {
		b, _ := fs.ReadFile(DistFS, name)
		if strings.Contains(string(b), "new Function(") {
			t.Errorf("%s contains new Function(, which needs unsafe-eval", name)
		}
	}
}
