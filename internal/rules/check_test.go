package rules

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canbao/canbao/configs"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/platform/web"
)

// policyYAML is a valid year's file; each case below changes one line of it.
func policyYAML(year, tiers, ages, pension, milestones string) string {
	return "year: " + year + "\n" +
		"tiers: " + tiers + "\n" +
		"guidance: {" + ages + ", resident_pension_min_age: " + pension + "}\n" +
		"milestones: " + milestones + "\n"
}

const (
	okTiers      = "[{amount: 100, subsidy: 30}, {amount: 200, subsidy: 35}]"
	okAges       = "min_age: 16, max_age: 59"
	okPension    = "{male: 45, female: 40}"
	okMilestones = `{"2020": 0.8}`
)

// TestPolicyCheckBoundaries: every bound of a year's policy, just inside (loads) and just
// outside (refused with the message naming what is wrong, and the file).
func TestPolicyCheckBoundaries(t *testing.T) {
	for _, c := range []struct {
		name, year, tiers, ages, pension, milestones string
		want                                         string // "" = loads
	}{
		{name: "valid", want: ""},
		{name: "year 2000", year: "2000"},
		{name: "year 2100", year: "2100"},
		{name: "year 1999", year: "1999", want: "year 1999 out of range"},
		{name: "year 2101", year: "2101", want: "year 2101 out of range"},
		{name: "no tiers", tiers: "[]", want: "no tiers"},
		{name: "amount 1", tiers: "[{amount: 1, subsidy: 0}]"},
		{name: "amount 0", tiers: "[{amount: 0, subsidy: 0}]", want: "tier 0: amount must be positive and subsidy non-negative"},
		{name: "amount negative", tiers: "[{amount: -100, subsidy: 0}]", want: "tier 0: amount must be positive and subsidy non-negative"},
		{name: "subsidy negative", tiers: "[{amount: 100, subsidy: 0}, {amount: 200, subsidy: -1}]", want: "tier 1: amount must be positive and subsidy non-negative"},
		{name: "duplicate amount", tiers: "[{amount: 100, subsidy: 30}, {amount: 100, subsidy: 35}]", want: "tiers must be in increasing order"},
		{name: "decreasing", tiers: "[{amount: 100, subsidy: 30}, {amount: 300, subsidy: 35}, {amount: 200, subsidy: 40}]", want: "tiers must be in increasing order"},
		{name: "increasing by one", tiers: "[{amount: 100, subsidy: 30}, {amount: 101, subsidy: 30}]"},
		{name: "min age 1", ages: "min_age: 1, max_age: 59", pension: "{male: 1, female: 59}"},
		{name: "min age 0", ages: "min_age: 0, max_age: 59", pension: "{male: 45, female: 40}", want: "guidance ages 0-59 invalid"},
		{name: "min equals max", ages: "min_age: 40, max_age: 40", pension: "{male: 40, female: 40}"},
		{name: "max below min", ages: "min_age: 41, max_age: 40", pension: "{male: 40, female: 40}", want: "guidance ages 41-40 invalid"},
		{name: "pension ages at the bounds", pension: "{male: 16, female: 59}"},
		{name: "male below", pension: "{male: 15, female: 40}", want: "guidance.resident_pension_min_age.male missing or outside 16-59"},
		{name: "female above", pension: "{male: 45, female: 60}", want: "guidance.resident_pension_min_age.female missing or outside 16-59"},
		{name: "female missing", pension: "{male: 45}", want: "guidance.resident_pension_min_age.female missing or outside 16-59"},
		{name: "male missing", pension: "{female: 40}", want: "guidance.resident_pension_min_age.male missing or outside 16-59"},
		{name: "milestone 1", milestones: `{"2020": 0.5, "2021": 1}`},
		{name: "milestone tiny", milestones: `{"2020": 0.001}`},
		{name: "milestone 0", milestones: `{"2020": 0}`, want: "milestone 2020: ratio 0 not in (0,1]"},
		{name: "milestone negative", milestones: `{"2020": -0.5}`, want: "milestone 2020: ratio -0.5 not in (0,1]"},
		{name: "milestone above 1", milestones: `{"2020": 1.001}`, want: "milestone 2020: ratio 1.001 not in (0,1]"},
		{name: "no milestones", milestones: "{}"},
	} {
		t.Run(c.name, func(t *testing.T) {
			year := or(c.year, "2020")
			file := "policy/" + year + ".yaml"
			body := policyYAML(year, or(c.tiers, okTiers), or(c.ages, okAges), or(c.pension, okPension), or(c.milestones, okMilestones))
			b, err := Load(fstest.MapFS{file: {Data: []byte(body)}})
			if c.want != "" {
				if want := "rules: " + file + ": " + c.want; err == nil || err.Error() != want {
					t.Fatalf("Load = %v\nwant %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := b.Years(); len(got) != 1 || fmt.Sprint(got[0]) != year {
				t.Fatalf("Years = %v, want [%s]", got, year)
			}
		})
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TestLoadChecksTheFileSet: the year must match the file's name; an empty set is refused; a
// broken YAML file names the file.
func TestLoadChecksTheFileSet(t *testing.T) {
	valid := policyYAML("2021", okTiers, okAges, okPension, okMilestones)
	for _, c := range []struct {
		name string
		fs   fstest.MapFS
		want string
	}{
		{"wrong year", fstest.MapFS{"policy/2020.yaml": {Data: []byte(valid)}}, "rules: policy/2020.yaml declares year 2021"},
		{"empty", fstest.MapFS{"other/2021.yaml": {Data: []byte(valid)}}, "rules: no policy/*.yaml found"},
		{"bad yaml", fstest.MapFS{"policy/2021.yaml": {Data: []byte("year: [")}}, "rules: policy/2021.yaml: "},
		{"bad type", fstest.MapFS{"policy/2021.yaml": {Data: []byte("year: [1, 2]\n")}}, "rules: policy/2021.yaml: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(c.fs)
			if err == nil || !strings.HasPrefix(err.Error(), c.want) || (strings.HasSuffix(c.want, ": ") && err.Error() == c.want) {
				t.Fatalf("Load = %v, want %q", err, c.want)
			}
		})
	}
}

// TestForPicksTheLatestEarlierYear over three years given out of order.
func TestForPicksTheLatestEarlierYear(t *testing.T) {
	fsys := fstest.MapFS{}
	for _, y := range []string{"2030", "2010", "2020"} {
		fsys["policy/"+y+".yaml"] = &fstest.MapFile{Data: []byte(policyYAML(y, okTiers, okAges, okPension, okMilestones))}
	}
	b, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Years(); !slices.Equal(got, []int{2010, 2020, 2030}) {
		t.Fatalf("Years = %v", got)
	}
	for _, c := range []struct{ year, want int }{
		{2010, 2010}, {2011, 2010}, {2019, 2010}, {2020, 2020}, {2029, 2020}, {2030, 2030}, {2100, 2030},
	} {
		y, err := b.For(c.year)
		if err != nil || y.Year != c.want {
			t.Errorf("For(%d) = %v, %v; want %d", c.year, y, err, c.want)
		}
	}
	if _, err := b.For(2009); err == nil || err.Error() != "rules: no policy for 2009 (earliest is 2010)" {
		t.Errorf("For(2009) = %v", err)
	}
	y, _ := b.For(2020)
	if tier, ok := y.Tier(200); !ok || tier != (Tier{Amount: 200, Subsidy: 35}) {
		t.Errorf("Tier(200) = %v %v", tier, ok)
	}
	if tier, ok := y.Tier(100); !ok || tier != (Tier{Amount: 100, Subsidy: 30}) {
		t.Errorf("Tier(100) = %v %v", tier, ok)
	}
	if tier, ok := y.Tier(300); ok || tier != (Tier{}) {
		t.Errorf("Tier(300) = %v %v", tier, ok)
	}
}

// TestTiersRoute: GET /api/v1/tiers answers a year's tiers (the shipped policy: 2019, then
// 2026), refuses years outside 2000-2100 on the field, and is 404 before the first policy.
func TestTiersRoute(t *testing.T) {
	gin.SetMode(gin.TestMode)
	b, err := Load(configs.Policy)
	if err != nil {
		t.Fatal(err)
	}
	loc := time.FixedZone("CST", 8*3600)
	e := gin.New()
	e.Use(web.Errors(slog.New(slog.NewTextHandler(io.Discard, nil))))
	NewTiers(b, loc).Routes(auth.NewRouter(e, nil, nil))
	get := func(q string) (int, map[string]any, http.Header) {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/tiers"+q, nil))
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: %v: %s", q, err, w.Body)
		}
		return w.Code, body, w.Header()
	}
	for _, c := range []struct {
		q         string
		year      float64
		first     float64
		tierCount int
	}{
		{"?year=2019", 2019, 100, 12},
		{"?year=2025", 2025, 100, 12},
		{"?year=2100", 2100, 0, 0},
		{"", 0, 0, 0}, // this year in loc
	} {
		before := float64(time.Now().In(loc).Year())
		code, body, h := get(c.q)
		if c.q == "" && body["year"] == before || body["year"] == float64(time.Now().In(loc).Year()) {
			c.year = body["year"].(float64)
		}
		if code != http.StatusOK || body["year"] != c.year || h.Get("Cache-Control") != "public, max-age=300" {
			t.Errorf("%q: %d %v %q", c.q, code, body["year"], h.Get("Cache-Control"))
			continue
		}
		tiers, _ := body["tiers"].([]any)
		if len(tiers) == 0 {
			t.Errorf("%q: no tiers", c.q)
		}
		if c.tierCount > 0 {
			first, _ := tiers[0].(map[string]any)
			if len(tiers) != c.tierCount || first["amount"] != c.first {
				t.Errorf("%q: tiers %v", c.q, tiers)
			}
		}
	}
	for _, q := range []string{"?year=1999", "?year=2101", "?year=abc", "?year=-1"} {
		code, body, _ := get(q)
		e, _ := body["error"].(map[string]any)
		if code != http.StatusBadRequest || e["code"] != "INVALID_INPUT" || e["field"] != "year" || e["message"] != "年度须为 2000 到 2100 之间的整数" {
			t.Errorf("%s: %d %v", q, code, body)
		}
	}
	for _, q := range []string{"?year=2000", "?year=2018"} {
		code, body, _ := get(q)
		e, _ := body["error"].(map[string]any)
		if code != http.StatusNotFound || e["code"] != "NOT_FOUND" || e["message"] != "该年度暂无缴费档次配置" {
			t.Errorf("%s: %d %v", q, code, body)
		}
	}
}
