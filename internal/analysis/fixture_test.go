package analysis_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/canbao/canbao/internal/analysis"
	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/server/servertest"
	"github.com/canbao/canbao/internal/visit"
)

var shanghai = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return l
}()

// clock is the fixture's "now": visits may be logged up to a year back from it.
var clock = time.Date(2019, 10, 10, 12, 0, 0, 0, shanghai)

// fixture is an API with people and visits recorded through the visit service (the owner of
// visits) on a fixed clock.
type fixture struct {
	t      *testing.T
	env    *servertest.Env
	visits *visit.Service
	vols   map[string]*auth.Principal
	people map[string]int64
}

func newFixture(t *testing.T) *fixture {
	env := servertest.New(t)
	f := &fixture{t: t, env: env, vols: map[string]*auth.Principal{}, people: map[string]int64{},
		visits: visit.NewService(env.DB, audit.New(env.DB), shanghai, enrollment.New(shanghai, 30), env.Keyring).
			WithClock(func() time.Time { return clock })}
	for _, v := range []string{"zhenxing", "luoxi"} {
		_, id := env.Staff(auth.RoleVolunteer, v)
		f.vols[v] = &auth.Principal{Kind: auth.KindStaff, ID: id, Role: auth.RoleVolunteer, Village: v, Version: 1}
	}
	return f
}

// person puts someone on the roster with an exact birth date.
func (f *fixture) person(name, village string, g idcard.Gender, birth string) {
	f.t.Helper()
	id, _ := f.env.AddResident(servertest.ResidentSpec{Village: village, Gender: g})
	f.env.Exec(`UPDATE residents SET birth_date = ? WHERE id = ?`, birth, id)
	f.people[name] = id
}

// visit logs a visit by the volunteer of the person's village at a Shanghai wall-clock time.
func (f *fixture) visit(name, at, result, reason string) {
	f.t.Helper()
	var village string
	if err := f.env.DB.Get(&village, `SELECT village_code FROM residents WHERE id = ?`, f.people[name]); err != nil {
		f.t.Fatal(err)
	}
	when, err := time.ParseInLocation("2006-01-02 15:04", at, shanghai)
	if err != nil {
		f.t.Fatal(err)
	}
	in := visit.Input{ClientID: uuid.NewString(), ResidentID: f.people[name], VisitedAt: when.Format(time.RFC3339), Outcome: result}
	if reason != "" {
		in.Reason = &reason
	}
	if _, err := f.visits.Record(context.Background(), audit.System("test"), f.vols[village], []visit.Input{in}, false); err != nil {
		f.t.Fatalf("visit %s %s: %v", name, at, err)
	}
}

// september is the hand-computed fixture of the tests: eleven people counted in September
// 2019 (the window), with ages on 30 September at the band edges.
//
//	zhenxing  A m 1990-09-30 29  09-02 refused unwilling, 09-10 considering cannot_afford, 09-20 refused cannot_afford
//	          B f 1989-09-30 30  08-28 refused unwilling (before), 09-05 considering (no reason)
//	          C m 1989-10-01 29  09-12 refused unable, 10-02 agreed (after)
//	          D f 1959-10-01 59  09-30 23:30 not_home (last minutes of the window)
//	          E m 1959-09-30 60  09-01 00:10 refused inconvenient (31 August in UTC)
//	          F f 1995-01-01     08-31 23:50 refused unwilling, 10-01 00:05 enrolled: both outside
//	          M m 1985-05-05 34  09-03 refused unwilling here, then moves to luoxi
//	luoxi     M                  09-25 agreed
//	          G f 1979-09-30 40  09-15 refused cannot_afford
//	          H m 1974-10-01 44  09-16 considering unwilling
//	          T f 1995-03-03 24  09-18 10:00 refused unwilling, then at the same minute considering unable
//	          Y m 2003-09-30 16  09-09 refused unwilling
//	          Z f 2003-10-01 15  09-20 not_home
func september(t *testing.T) *fixture {
	f := newFixture(t)
	m, w := idcard.Male, idcard.Female
	for _, p := range []struct {
		name, village string
		g             idcard.Gender
		birth         string
	}{
		{"A", "zhenxing", m, "1990-09-30"}, {"B", "zhenxing", w, "1989-09-30"}, {"C", "zhenxing", m, "1989-10-01"},
		{"D", "zhenxing", w, "1959-10-01"}, {"E", "zhenxing", m, "1959-09-30"}, {"F", "zhenxing", w, "1995-01-01"},
		{"M", "zhenxing", m, "1985-05-05"},
		{"G", "luoxi", w, "1979-09-30"}, {"H", "luoxi", m, "1974-10-01"}, {"T", "luoxi", w, "1995-03-03"},
		{"Y", "luoxi", m, "2003-09-30"}, {"Z", "luoxi", w, "2003-10-01"},
	} {
		f.person(p.name, p.village, p.g, p.birth)
	}
	f.visit("A", "2019-09-02 10:00", "refused", "unwilling")
	f.visit("A", "2019-09-10 10:00", "considering", "cannot_afford")
	f.visit("A", "2019-09-20 10:00", "refused", "cannot_afford")
	f.visit("B", "2019-08-28 10:00", "refused", "unwilling")
	f.visit("B", "2019-09-05 10:00", "considering", "")
	f.visit("C", "2019-09-12 10:00", "refused", "unable")
	f.visit("C", "2019-10-02 10:00", "agreed", "")
	f.visit("D", "2019-09-30 23:30", "not_home", "")
	f.visit("E", "2019-09-01 00:10", "refused", "inconvenient")
	f.visit("F", "2019-08-31 23:50", "refused", "unwilling")
	f.visit("F", "2019-10-01 00:05", "enrolled", "")
	f.visit("M", "2019-09-03 10:00", "refused", "unwilling")
	f.env.Exec(`UPDATE residents SET village_code = 'luoxi' WHERE id = ?`, f.people["M"]) // moved
	f.visit("M", "2019-09-25 10:00", "agreed", "")
	f.visit("G", "2019-09-15 10:00", "refused", "cannot_afford")
	f.visit("H", "2019-09-16 10:00", "considering", "unwilling")
	f.visit("T", "2019-09-18 10:00", "refused", "unwilling")
	f.visit("T", "2019-09-18 10:00", "considering", "unable")
	f.visit("Y", "2019-09-09 10:00", "refused", "unwilling")
	f.visit("Z", "2019-09-20 10:00", "not_home", "")
	return f
}

// summary writes a group's figures compactly: people, staying out, without a reason, each
// reason, then the outcomes that occur.
func summary(g analysis.Group) string {
	var b strings.Builder
	fmt.Fprintf(&b, "people=%d out=%d none=%d", g.People, g.StayingOut, g.WithoutReason)
	for _, c := range g.ByReason {
		fmt.Fprintf(&b, " %s=%d", c.Code, c.Count)
	}
	b.WriteString(" |")
	for _, c := range g.ByOutcome {
		if c.Count > 0 {
			fmt.Fprintf(&b, " %s=%d", c.Code, c.Count)
		}
	}
	return b.String()
}

func byCode(gs []analysis.Group) map[string]string {
	out := map[string]string{}
	for _, g := range gs {
		out[g.Code] = summary(g)
	}
	return out
}

func codes(gs []analysis.Group) string {
	cs := make([]string, len(gs))
	for i, g := range gs {
		cs[i] = g.Code
	}
	return strings.Join(cs, ",")
}
