// Package rules holds the yearly policy data: contribution tiers and subsidies, the age bounds
// of the guidance rule and the plan's milestones. They are configuration (configs/policy/
// <year>.yaml), versioned by year; a year without its own file uses the latest earlier one.
package rules

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"
)

// Tier is one contribution level of the resident pension, in yuan per year.
type Tier struct {
	Amount  int `koanf:"amount" json:"amount"`
	Subsidy int `koanf:"subsidy" json:"subsidy"`
}

// Guidance holds the bounds of the guidance rule (section 二(二) of the plan).
type Guidance struct {
	MinAge                int            `koanf:"min_age"`
	MaxAge                int            `koanf:"max_age"`
	ResidentPensionMinAge map[string]int `koanf:"resident_pension_min_age"` // by gender
	LandSubsidy           bool           `koanf:"land_expropriated_subsidy"`
}

// Year is the policy of one year.
type Year struct {
	Year       int                `koanf:"year"`
	Tiers      []Tier             `koanf:"tiers"`
	Guidance   Guidance           `koanf:"guidance"`
	Milestones map[string]float64 `koanf:"milestones"`
	Deadline   string             `koanf:"deadline"`
}

// Tier returns the tier with that amount.
func (y *Year) Tier(amount int) (Tier, bool) {
	for _, t := range y.Tiers {
		if t.Amount == amount {
			return t, true
		}
	}
	return Tier{}, false
}

// Book is every configured year.
type Book struct {
	years []*Year // sorted by year
}

// Load reads every policy/*.yaml of fsys and checks it.
func Load(fsys fs.FS) (*Book, error) {
	files, err := fs.Glob(fsys, "policy/*.yaml")
	if err != nil {
		return nil, err
	}
	b := &Book{}
	seen := map[int]string{}
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		k := koanf.New(".")
		if err := k.Load(rawbytes.Provider(data), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("rules: %s: %w", f, err)
		}
		var y Year
		if err := k.Unmarshal("", &y); err != nil {
			return nil, fmt.Errorf("rules: %s: %w", f, err)
		}
		if err := y.check(); err != nil {
			return nil, fmt.Errorf("rules: %s: %w", f, err)
		}
		if want := strings.TrimSuffix(path.Base(f), ".yaml"); want != fmt.Sprint(y.Year) {
			return nil, fmt.Errorf("rules: %s declares year %d", f, y.Year)
		}
		if prev, dup := seen[y.Year]; dup {
			return nil, fmt.Errorf("rules: year %d in both %s and %s", y.Year, prev, f)
		}
		seen[y.Year] = f
		b.years = append(b.years, &y)
	}
	if len(b.years) == 0 {
		return nil, fmt.Errorf("rules: no policy/*.yaml found")
	}
	sort.Slice(b.years, func(i, j int) bool { return b.years[i].Year < b.years[j].Year })
	return b, nil
}

func (y *Year) check() error {
	if y.Year < 2000 || y.Year > 2100 {
		return fmt.Errorf("year %d out of range", y.Year)
	}
	if len(y.Tiers) == 0 {
		return fmt.Errorf("no tiers")
	}
	for i, t := range y.Tiers {
		if t.Amount <= 0 || t.Subsidy < 0 {
			return fmt.Errorf("tier %d: amount must be positive and subsidy non-negative", i)
		}
		if i > 0 && t.Amount <= y.Tiers[i-1].Amount {
			return fmt.Errorf("tiers must be in increasing order")
		}
	}
	g := y.Guidance
	if g.MinAge <= 0 || g.MaxAge < g.MinAge {
		return fmt.Errorf("guidance ages %d-%d invalid", g.MinAge, g.MaxAge)
	}
	for _, sex := range []string{"male", "female"} {
		a, ok := g.ResidentPensionMinAge[sex]
		if !ok || a < g.MinAge || a > g.MaxAge {
			return fmt.Errorf("guidance.resident_pension_min_age.%s missing or outside %d-%d", sex, g.MinAge, g.MaxAge)
		}
	}
	for k, r := range y.Milestones {
		if r <= 0 || r > 1 {
			return fmt.Errorf("milestone %s: ratio %v not in (0,1]", k, r)
		}
	}
	return nil
}

// For returns the policy in force in year: its own, or the latest earlier one.
func (b *Book) For(year int) (*Year, error) {
	var found *Year
	for _, y := range b.years {
		if y.Year <= year {
			found = y
		}
	}
	if found == nil {
		return nil, fmt.Errorf("rules: no policy for %d (earliest is %d)", year, b.years[0].Year)
	}
	return found, nil
}

// Years lists the configured years.
func (b *Book) Years() []int {
	out := make([]int, len(b.years))
	for i, y := range b.years {
		out[i] = y.Year
	}
	return out
}
