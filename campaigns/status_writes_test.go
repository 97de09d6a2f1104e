package campaigns

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/canbao/canbao/internal/platform/database"
)

var (
	sqlLiteral   = regexp.MustCompile("(?s)`[^`]*`")
	updateTarget = regexp.MustCompile(`(?i)\bUPDATE\s+campaigns\b(?:\s+(?:AS\s+)?([a-z_]\w*))?`)
	joinTarget   = regexp.MustCompile(`(?i)\bJOIN\s+campaigns\b(?:\s+(?:AS\s+)?([a-z_]\w*))?`)
	setClause    = regexp.MustCompile(`(?is)\bSET\b(.*?)(?:\bWHERE\b|$)`)
)

// writesCampaignStatus reports whether a SQL text assigns campaigns.status.
func writesCampaignStatus(q string) bool {
	if !regexp.MustCompile(`(?i)\bUPDATE\b`).MatchString(q) {
		return false
	}
	set := setClause.FindStringSubmatch(q)
	if set == nil {
		return false
	}
	assigns := func(col string) bool {
		return regexp.MustCompile(`(?i)(?:^|[\s,])` + regexp.QuoteMeta(col) + `\s*=`).MatchString(set[1])
	}
	if m := updateTarget.FindStringSubmatch(q); m != nil {
		alias := m[1]
		if strings.EqualFold(alias, "SET") || strings.EqualFold(alias, "JOIN") {
			alias = ""
		}
		if assigns("status") && !regexp.MustCompile(`(?i)\bJOIN\b`).MatchString(q) || assigns("campaigns.status") || (alias != "" && assigns(alias+".status")) {
			return true
		}
	}
	for _, m := range joinTarget.FindAllStringSubmatch(q, -1) {
		if assigns("campaigns.status") || (m[1] != "" && !strings.EqualFold(m[1], "ON") && assigns(m[1]+".status")) {
			return true
		}
	}
	return false
}

func TestWritesCampaignStatusRecognisesWrites(t *testing.T) {
	for q, want := range map[string]bool{
		"UPDATE campaigns SET status = ?, updated_at = ? WHERE id = ?":                                   true,
		"UPDATE campaigns SET next_run_at = ?, status = 'running' WHERE id = ?":                          true,
		"update campaigns c set c.status = 'x' where c.id = 1":                                           true,
		"UPDATE campaign_runs cr JOIN campaigns c ON c.id = cr.campaign_id SET c.status = 'x'":           true,
		"UPDATE campaign_runs cr JOIN campaigns c ON c.id = cr.campaign_id SET cr.status = 'cancelled'":  false,
		"UPDATE campaigns SET spec = JSON_SET(spec, '$.rate_per_minute', ?) WHERE id = ? AND status = ?": false,
		"UPDATE deliveries SET status = 'queued' WHERE campaign_id = ?":                                  false,
		"SELECT status FROM campaigns WHERE id = ?":                                                      false,
	} {
		if got := writesCampaignStatus(q); got != want {
			t.Errorf("%q: %v, want %v", q, got, want)
		}
	}
}

// TestOnlyMoveWritesCampaignStatus: campaigns.status is written by one statement of the whole
// module, the conditional UPDATE of Move (the named query campaign-move); every other change of
// status goes through it. It reads the SQL literals of the Go files and the named queries of
// every queries.sql.
func TestOnlyMoveWritesCampaignStatus(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not at %s: %v", root, err)
	}
	var writers []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		switch {
		case d.Name() == "queries.sql":
			qs, err := database.LoadQueries(os.DirFS(filepath.Dir(path)), d.Name())
			if err != nil {
				return err
			}
			for name, q := range qs {
				if writesCampaignStatus(q) {
					writers = append(writers, rel+": "+name)
				}
			}
		case strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go"):
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, lit := range sqlLiteral.FindAllString(string(b), -1) {
				if writesCampaignStatus(lit) {
					writers = append(writers, rel+": "+strings.Join(strings.Fields(lit), " "))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(writers) != 1 || writers[0] != filepath.Join("campaigns", "queries.sql")+": campaign-move" {
		t.Errorf("campaigns.status must be written only by Move (the query campaign-move of campaigns/queries.sql); written by %d statements:\n  %s",
			len(writers), strings.Join(writers, "\n  "))
	}
	if !writesCampaignStatus(Queries.Get("campaign-move")) {
		t.Error("campaign-move does not write campaigns.status")
	}
}
