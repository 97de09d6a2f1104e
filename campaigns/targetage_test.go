package campaigns

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/dbtest"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func addPerson(t *testing.T, db *sqlx.DB, village string, birth time.Time) int64 {
	t.Helper()
	now := database.Now()
	bidx := fmt.Sprintf("%032d", time.Now().UnixNano())
	res, err := db.Exec(`INSERT INTO residents (id_number_enc, id_number_bidx, pii_key_id, name, gender, birth_date, village_code, status, source, created_at, updated_at)
		VALUES ('x', ?, 'k1', '测试居民', 'male', ?, ?, 'unenrolled', 'seed', ?, ?)`, bidx, birth, village, now, now)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	return id
}

// TestSegmentIsTargetGroupOnly: with "today" fixed (00:30 in Shanghai), a segment never selects
// anyone outside 16-59 today, whatever its own age bounds, and the preview says how many it
// left out. Boundary birthdays: turning 16 today (in), turning 60 today (out), Feb 29.
func TestSegmentIsTargetGroupOnly(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	db := dbtest.New(t)
	if _, err := db.Exec(`INSERT INTO villages (code, name, town, sort_order, created_at) VALUES
		('zhenxing', '振兴村', '罗东镇', 1, NOW(6)), ('luoxi', '罗溪村', '罗东镇', 2, NOW(6))`); err != nil {
		t.Fatal(err)
	}
	ageMin, ageMax := 10, 80
	for _, c := range []struct {
		today   time.Time
		in, out []time.Time
	}{
		{day(2026, 12, 3),
			[]time.Time{day(2010, 12, 3), day(1966, 12, 4), day(1990, 1, 1)},
			[]time.Time{day(2010, 12, 4), day(1966, 12, 3), day(1959, 6, 1)}},
		{day(2028, 2, 29),
			[]time.Time{day(2012, 2, 29), day(1968, 3, 1)},
			[]time.Time{day(2012, 3, 1), day(1968, 2, 29), day(1960, 5, 5)}},
	} {
		t.Run(c.today.Format(time.DateOnly), func(t *testing.T) {
			if _, err := db.Exec(`DELETE FROM residents`); err != nil {
				t.Fatal(err)
			}
			var want []int64
			for i, b := range c.in {
				want = append(want, addPerson(t, db, []string{"zhenxing", "luoxi"}[i%2], b))
			}
			for _, b := range c.out {
				addPerson(t, db, "zhenxing", b)
			}
			for _, g := range []Segment{{}, {Statuses: []string{"unenrolled"}, AgeMin: &ageMin, AgeMax: &ageMax}} {
				where, args := g.Where(c.today)
				var got []int64
				if err := db.Select(&got, `SELECT r.id FROM `+From+` WHERE `+where+` ORDER BY r.id`, args...); err != nil {
					t.Fatal(err)
				}
				sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("segment %+v selects %v, want %v", g, got, want)
				}
			}
			now := time.Date(c.today.Year(), c.today.Month(), c.today.Day(), 0, 30, 0, 0, loc)
			a := &API{db: db, loc: loc, now: func() time.Time { return now }}
			p, err := a.Preview(context.Background(), Segment{AgeMin: &ageMin, AgeMax: &ageMax})
			if err != nil {
				t.Fatal(err)
			}
			if p.Audience != len(c.in) || p.ExcludedOutOfAge != len(c.out) || p.ByVillage["zhenxing"]+p.ByVillage["luoxi"] != len(c.in) {
				t.Errorf("preview %+v, want audience %d excluding %d", p, len(c.in), len(c.out))
			}
		})
	}
}
