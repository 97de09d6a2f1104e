package analysis_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/analysis"
	"github.com/canbao/canbao/internal/platform/dbtest"
	"github.com/canbao/canbao/internal/visit/outcome"
)

// benchVisits is the benchmark's number of visits, spread over 2019 across benchVillages
// villages and benchPeople people (so most people have one or two visits, some more).
const (
	benchVisits   = 100_000
	benchPeople   = 60_000
	benchVillages = 12
)

// insertRows runs one multi-row INSERT per chunk of rows.
func insertRows(b *testing.B, db *sqlx.DB, head string, cols int, rows [][]any) {
	b.Helper()
	const chunk = 1000
	for i := 0; i < len(rows); i += chunk {
		part := rows[i:min(i+chunk, len(rows))]
		tuple := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
		args := make([]any, 0, len(part)*cols)
		for _, r := range part {
			args = append(args, r...)
		}
		if _, err := db.Exec(head+" VALUES "+strings.TrimSuffix(strings.Repeat(tuple+",", len(part)), ","), args...); err != nil {
			b.Fatal(err)
		}
	}
}

// benchData fills a database of its own with the benchmark's roster and visits (written
// directly, as bench fixtures do: the visit service would take minutes for 100,000 visits).
func benchData(b *testing.B) (*sqlx.DB, []analysis.VillageName) {
	db := dbtest.New(b)
	rng := rand.New(rand.NewPCG(14, 2019))
	now := time.Now().UTC()
	var villages []analysis.VillageName
	var vrows, srows [][]any
	for i := range benchVillages {
		code := fmt.Sprintf("v%02d", i)
		villages = append(villages, analysis.VillageName{Code: code, Name: fmt.Sprintf("第%d村", i+1)})
		vrows = append(vrows, []any{code, fmt.Sprintf("第%d村", i+1), "罗东镇", i, now})
		srows = append(srows, []any{int64(i + 1), "vol" + code, "x", "volunteer", code, now, now, now})
	}
	insertRows(b, db, "INSERT INTO villages (code, name, town, sort_order, created_at)", 5, vrows)
	insertRows(b, db, "INSERT INTO staff_users (id, username, password_hash, role, village_code, password_changed_at, created_at, updated_at)", 8, srows)
	people := make([][]any, benchPeople)
	villageOf := make([]int, benchPeople)
	for i := range people {
		villageOf[i] = rng.IntN(benchVillages)
		idx := sha256.Sum256([]byte(fmt.Sprint("person", i)))
		birth := time.Date(1950+rng.IntN(60), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
		gender := "male"
		if i%2 == 0 {
			gender = "female"
		}
		people[i] = []any{int64(i + 1), []byte("x"), idx[:], "k1", "居民", gender, birth, villages[villageOf[i]].Code, "unenrolled", "seed", now, now}
	}
	insertRows(b, db, "INSERT INTO residents (id, id_number_enc, id_number_bidx, pii_key_id, name, gender, birth_date, village_code, status, source, created_at, updated_at)", 12, people)
	start := time.Date(2018, 12, 31, 16, 0, 0, 0, time.UTC) // 2019-01-01 00:00 in Shanghai
	visits := make([][]any, benchVisits)
	for i := range visits {
		p := rng.IntN(benchPeople)
		o := outcome.OutcomeOrder[rng.IntN(len(outcome.OutcomeOrder))]
		var reason any
		if outcome.StaysOut(o) && rng.IntN(5) > 0 {
			reason = outcome.ReasonOrder[rng.IntN(len(outcome.ReasonOrder))]
		}
		at := start.Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
		visits[i] = []any{uuid.NewString(), int64(p + 1), villages[villageOf[p]].Code, int64(villageOf[p] + 1), at, o, reason, now}
	}
	insertRows(b, db, "INSERT INTO visits (client_id, resident_id, village_code, volunteer_id, visited_at, outcome, reason, created_at)", 8, visits)
	if _, err := db.Exec(`ANALYZE TABLE visits, residents`); err != nil {
		b.Fatal(err)
	}
	return db, villages
}

// BenchmarkReasons measures the analysis on 100,000 visits of 60,000 people over 2019: a
// month of the whole town (the bulletin's section), the whole year (the longest window), a
// month of one village (a village admin), and the same month as a stored bulletin's (with the
// known-by cutoff). Run: go test -run '^$' -bench Reasons -benchtime 20x ./internal/analysis/
func BenchmarkReasons(b *testing.B) {
	db, villages := benchData(b)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		q    analysis.Query
	}{
		{"town-month", analysis.Query{From: date("2019-09-01"), To: date("2019-09-30")}},
		{"town-year", analysis.Query{From: date("2019-01-01"), To: date("2019-12-31")}},
		{"village-month", analysis.Query{Village: "v03", From: date("2019-09-01"), To: date("2019-09-30")}},
		{"town-month-known-by", analysis.Query{From: date("2019-09-01"), To: date("2019-09-30"), KnownBy: time.Now()}},
	} {
		c.q.Loc = shanghai
		b.Run(c.name, func(b *testing.B) {
			var people int
			for b.Loop() {
				r, err := analysis.Reasons(ctx, db, c.q, villages)
				if err != nil {
					b.Fatal(err)
				}
				people = r.Totals.People
			}
			if people == 0 {
				b.Fatal("nobody counted")
			}
			b.ReportMetric(float64(people), "people")
		})
	}
}
