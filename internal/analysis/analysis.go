// Package analysis answers why people stay out of the schemes (数据分析运用): the outcomes of
// door-to-door visits and the reasons people gave, counted by village, age band and gender,
// for the console (GET /api/v1/admin/analysis/reasons) and the monthly bulletin
// (internal/progress). It reads visits and residents and writes nothing.
//
// What is counted: each person's latest visit in the window (latest visited_at, then the
// highest id, the rule the roster's last visit follows), not every visit, so that a person
// visited three times counts once, with what the last visit found. The village is the latest
// visit's; the age is the person's age on the window's last day (idcard.AgeOn), in the bands of
// enrollment.AgeBand (16-29, 30-39, 40-44, 45-59, other); the gender is the roster's (from the
// ID number). Visits are never changed or deleted and a person's birth date and gender never
// change, so a window's figures depend only on which visits were recorded by when (KnownBy).
package analysis

import (
	"context"
	"embed"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/targetage"
	"github.com/canbao/canbao/internal/visit/outcome"
)

//go:embed queries.sql
var queryFS embed.FS

// Queries are the package's named SQL, checked against the server at start-up.
var Queries = database.RegisterQueries("analysis", queryFS, "queries.sql")

// Counting names the counting rule in answers.
const Counting = "latest_visit_per_person"

// MaxDays is the longest window: a year, leap years included.
const MaxDays = 366

// AgeBand is one band of ages, both ends included.
type AgeBand struct {
	Code   string
	Label  string
	Lo, Hi int
}

// AgeBands are enrollment.AgeBand's bands (a test checks they agree at every age); OtherBand
// holds everyone outside them.
var AgeBands = []AgeBand{
	{"16-29", "16-29岁", 16, 29},
	{"30-39", "30-39岁", 30, 39},
	{"40-44", "40-44岁", 40, 44},
	{"45-59", "45-59岁", 45, 59},
}

// OtherBand is the band of ages outside AgeBands (under 16, 60 and over).
var OtherBand = AgeBand{Code: "other", Label: "其他年龄（16岁以下或60岁及以上）"}

// Genders are the roster's genders in report order, with their labels.
var Genders = []struct{ Code, Label string }{{"male", "男"}, {"female", "女"}}

// Query is a validated request for the analysis.
type Query struct {
	// Village limits the answer to the people whose latest visit in the window was in it; ""
	// is the whole town.
	Village string
	// From and To are civil dates (00:00 UTC, as web.ParseDate gives them), both included,
	// read in Loc.
	From, To time.Time
	Loc      *time.Location
	// KnownBy, when set, counts only the visits recorded (created_at) up to it: what the
	// analysis said at that moment (a stored bulletin frozen then).
	KnownBy time.Time
}

// Count is one code's figure, with its Chinese label.
type Count struct {
	Code  string `json:"code"`
	Label string `json:"label"`
	Count int    `json:"count"`
}

// Group is one row of a breakdown (a village, an age band, a gender).
type Group struct {
	Code  string `json:"code"`
	Label string `json:"label"`
	// People counts the people whose latest visit in the window falls in the group.
	People int `json:"people"`
	// StayingOut counts those whose latest visit was refused or considering.
	StayingOut int `json:"staying_out"`
	// WithoutReason counts those staying out whose visit recorded no reason.
	WithoutReason int     `json:"without_reason"`
	ByOutcome     []Count `json:"by_outcome"`
	ByReason      []Count `json:"by_reason"`
}

// Totals are the window's figures for the whole scope.
type Totals struct {
	// Visits counts every visit in the window and scope (by the visit's own village), before
	// the latest-visit rule.
	Visits        int `json:"visits"`
	People        int `json:"people"`
	StayingOut    int `json:"staying_out"`
	WithoutReason int `json:"without_reason"`
}

// Report is the analysis of one window.
type Report struct {
	From      string  `json:"from"`
	To        string  `json:"to"`
	Village   *string `json:"village"`
	Counting  string  `json:"counting"`
	AgeOn     string  `json:"age_on"`
	Totals    Totals  `json:"totals"`
	ByOutcome []Count `json:"by_outcome"`
	ByReason  []Count `json:"by_reason"`
	ByVillage []Group `json:"by_village"`
	ByAgeBand []Group `json:"by_age_band"`
	ByGender  []Group `json:"by_gender"`
}

// VillageName is one village's code and name.
type VillageName struct {
	Code string `db:"code"`
	Name string `db:"name"`
}

// Villages lists the town's villages in the annex's order.
func Villages(ctx context.Context, db sqlx.QueryerContext) ([]VillageName, error) {
	var vs []VillageName
	if err := sqlx.SelectContext(ctx, db, &vs, Queries.Get("villages")); err != nil {
		return nil, database.Map(err)
	}
	return vs, nil
}

type cell struct {
	Village string `db:"village_code"`
	Gender  string `db:"gender"`
	AgeBand string `db:"age_band"`
	Outcome string `db:"outcome"`
	Reason  string `db:"reason"`
	N       int    `db:"n"`
}

// window is the query's [start, end) in UTC instants, and its known-by cutoff or nil.
func (q Query) window() (start, end time.Time, knownBy any) {
	at := func(d time.Time) time.Time {
		return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, q.Loc).UTC()
	}
	start, end = at(q.From), at(q.To.AddDate(0, 0, 1))
	if !q.KnownBy.IsZero() {
		knownBy = q.KnownBy.UTC()
	}
	return start, end, knownBy
}

// Reasons computes the analysis of q. villages are the rows of the by-village breakdown (all
// of them, in order, zeros included); a latest visit in a village not among them gets a row
// of its own at the end.
func Reasons(ctx context.Context, db sqlx.QueryerContext, q Query, villages []VillageName) (Report, error) {
	start, end, knownBy := q.window()
	args := make([]any, 0, 14)
	for _, b := range AgeBands {
		earliest, latest := targetage.BirthRange(q.To, b.Lo, b.Hi)
		args = append(args, earliest, latest)
	}
	args = append(args, start, end, knownBy, knownBy, q.Village, q.Village)
	var cells []cell
	if err := sqlx.SelectContext(ctx, db, &cells, Queries.Get("latest-visits-grouped"), args...); err != nil {
		return Report{}, database.Map(err)
	}
	r := Report{From: q.From.Format(time.DateOnly), To: q.To.Format(time.DateOnly), Counting: Counting,
		AgeOn: q.To.Format(time.DateOnly)}
	if q.Village != "" {
		v := q.Village
		r.Village = &v
	}
	if err := sqlx.GetContext(ctx, db, &r.Totals.Visits, Queries.Get("visits-in-window"),
		start, end, knownBy, knownBy, q.Village, q.Village); err != nil {
		return Report{}, database.Map(err)
	}

	all := newGroup("", "")
	byVillage := newBreakdown()
	for _, v := range villages {
		if q.Village == "" || v.Code == q.Village {
			byVillage.add(v.Code, v.Name)
		}
	}
	byBand := newBreakdown()
	for _, b := range AgeBands {
		byBand.add(b.Code, b.Label)
	}
	byBand.add(OtherBand.Code, OtherBand.Label)
	byGender := newBreakdown()
	for _, g := range Genders {
		byGender.add(g.Code, g.Label)
	}
	// Sorted cells make the rows added for unexpected codes come out in a stable order.
	sort.Slice(cells, func(i, j int) bool {
		a, b := cells[i], cells[j]
		if a.Village != b.Village {
			return a.Village < b.Village
		}
		if a.Gender != b.Gender {
			return a.Gender < b.Gender
		}
		return a.AgeBand < b.AgeBand
	})
	for _, c := range cells {
		all.count(c)
		byVillage.get(c.Village).count(c)
		byBand.get(c.AgeBand).count(c)
		byGender.get(c.Gender).count(c)
	}
	r.Totals.People, r.Totals.StayingOut, r.Totals.WithoutReason = all.People, all.StayingOut, all.WithoutReason
	r.ByOutcome, r.ByReason = all.ByOutcome, all.ByReason
	r.ByVillage, r.ByAgeBand, r.ByGender = byVillage.rows(), byBand.rows(), byGender.rows()
	return r, nil
}

func newGroup(code, label string) *Group {
	g := &Group{Code: code, Label: label, ByOutcome: make([]Count, len(outcome.OutcomeOrder)),
		ByReason: make([]Count, len(outcome.ReasonOrder))}
	for i, o := range outcome.OutcomeOrder {
		g.ByOutcome[i] = Count{Code: o, Label: outcome.OutcomeLabels[o]}
	}
	for i, o := range outcome.ReasonOrder {
		g.ByReason[i] = Count{Code: o, Label: outcome.ReasonLabels[o]}
	}
	return g
}

func (g *Group) count(c cell) {
	g.People += c.N
	for i := range g.ByOutcome {
		if g.ByOutcome[i].Code == c.Outcome {
			g.ByOutcome[i].Count += c.N
		}
	}
	if !outcome.StaysOut(c.Outcome) {
		return
	}
	g.StayingOut += c.N
	if c.Reason == "" {
		g.WithoutReason += c.N
		return
	}
	for i := range g.ByReason {
		if g.ByReason[i].Code == c.Reason {
			g.ByReason[i].Count += c.N
		}
	}
}

// breakdown is a list of groups in a fixed order, with an index by code.
type breakdown struct {
	order []*Group
	index map[string]*Group
}

func newBreakdown() *breakdown { return &breakdown{index: map[string]*Group{}} }

func (b *breakdown) add(code, label string) *Group {
	g := newGroup(code, label)
	b.order = append(b.order, g)
	b.index[code] = g
	return g
}

// get returns the group of code, added at the end (labelled with its code) if unknown.
func (b *breakdown) get(code string) *Group {
	if g, ok := b.index[code]; ok {
		return g
	}
	return b.add(code, code)
}

func (b *breakdown) rows() []Group {
	out := make([]Group, len(b.order))
	for i, g := range b.order {
		out[i] = *g
	}
	return out
}

// TopReasons are a group's reasons given at least once, most frequent first (ties in the
// reasons' order), at most n of them.
func TopReasons(g Group, n int) []Count {
	out := make([]Count, 0, len(g.ByReason))
	for _, c := range g.ByReason {
		if c.Count > 0 {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Count > out[j].Count })
	if len(out) > n {
		out = out[:n]
	}
	return out
}
