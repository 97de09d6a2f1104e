package visit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/dbtest"
	"github.com/canbao/canbao/internal/platform/web"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// addPerson puts an unenrolled, never-visited person born on birth in zhenxing.
func addPerson(t *testing.T, db *sqlx.DB, birth time.Time) int64 {
	t.Helper()
	now := database.Now()
	bidx := fmt.Sprintf("%032d", time.Now().UnixNano())
	res, err := db.Exec(`INSERT INTO residents (id_number_enc, id_number_bidx, pii_key_id, name, gender, birth_date, village_code, status, source, created_at, updated_at)
		VALUES ('x', ?, 'k1', '测试居民', 'male', ?, 'zhenxing', 'unenrolled', 'seed', ?, ?)`, bidx, birth, now, now)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	return id
}

// TestTaskListLeavesOutPeopleOutsideTheTargetAge: with "today" fixed (00:30 in Shanghai, the
// previous day in UTC), the list holds only people 16-59 today and says how many it left out;
// boundary birthdays (turning 16 and 60 today, Feb 29) fall on the right side.
func TestTaskListLeavesOutPeopleOutsideTheTargetAge(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	db := dbtest.New(t)
	if _, err := db.Exec(`INSERT INTO villages (code, name, town, sort_order, created_at) VALUES ('zhenxing', '振兴村', '罗东镇', 1, NOW(6))`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		today   time.Time
		in, out []time.Time
	}{
		{day(2026, 12, 3),
			[]time.Time{day(2010, 12, 3), day(1966, 12, 4), day(1990, 1, 1)},                   // turns 16 today, 59 until tomorrow, 36
			[]time.Time{day(2010, 12, 4), day(1966, 12, 3), day(1959, 6, 1), day(1958, 1, 1)}}, // 15, turns 60 today, 67, 68
		{day(2028, 2, 29),
			[]time.Time{day(2012, 2, 29), day(1968, 3, 1)},  // born Feb 29 turns 16, 59 until tomorrow
			[]time.Time{day(2012, 3, 1), day(1968, 2, 29)}}, // 15, born Feb 29 turns 60
	} {
		t.Run(c.today.Format(time.DateOnly), func(t *testing.T) {
			if _, err := db.Exec(`DELETE FROM residents`); err != nil {
				t.Fatal(err)
			}
			want := map[int64]bool{}
			for _, b := range c.in {
				want[addPerson(t, db, b)] = true
			}
			for _, b := range c.out {
				addPerson(t, db, b)
			}
			now := time.Date(c.today.Year(), c.today.Month(), c.today.Day(), 0, 30, 0, 0, loc)
			s := &Service{db: db, loc: loc, now: func() time.Time { return now }}
			got, err := s.TaskList(context.Background(), "zhenxing", web.Page{Number: 1, Size: 100}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Total != len(c.in) || len(got.Items) != len(c.in) || got.ExcludedOutOfAge != len(c.out) {
				t.Errorf("total %d, %d items, excluded %d; want %d, %d, %d: %+v", got.Total, len(got.Items), got.ExcludedOutOfAge,
					len(c.in), len(c.in), len(c.out), got.Items)
			}
			for _, it := range got.Items {
				if !want[it.ResidentID] || it.Age < 16 || it.Age > 59 {
					t.Errorf("listed resident %d aged %d", it.ResidentID, it.Age)
				}
			}
		})
	}
}
