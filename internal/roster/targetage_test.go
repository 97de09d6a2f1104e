package roster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/dbtest"
	"github.com/canbao/canbao/internal/platform/web"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// testKeyring is the keyring the people of these tests are encrypted with.
var testKeyring = func() *pii.Keyring {
	kr, err := pii.NewKeyring("k1", map[string][]byte{"k1": make([]byte, 32)}, "k1")
	if err != nil {
		panic(err)
	}
	return kr
}()

func addPerson(t *testing.T, db *sqlx.DB, birth time.Time, status string) int64 {
	t.Helper()
	now := database.Now()
	bidx := fmt.Sprintf("%032d", time.Now().UnixNano())
	enc, _, err := testKeyring.Encrypt(idcard.Generate("350583", birth, 1, idcard.Male), pii.AADResidentIDNumber)
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Exec(`INSERT INTO residents (id_number_enc, id_number_bidx, pii_key_id, name, gender, birth_date, village_code, status, source, created_at, updated_at)
		VALUES (?, ?, 'k1', '测试居民', 'male', ?, 'zhenxing', ?, 'seed', ?, ?)`, enc, bidx, birth, status, now, now)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	return id
}

// TestUnenrolledAreTargetsOnly: with "today" fixed at 2028-02-29 00:30 in Shanghai, a filter
// of status=unenrolled lists only people 16-59 today (turning 16 today in, turning 60 today
// out, both born on Feb 29) and counts the ones it left out; enrolled people of any age are
// listed as before.
func TestUnenrolledAreTargetsOnly(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	db := dbtest.New(t)
	if _, err := db.Exec(`INSERT INTO villages (code, name, town, sort_order, created_at) VALUES ('zhenxing', '振兴村', '罗东镇', 1, NOW(6))`); err != nil {
		t.Fatal(err)
	}
	in := map[int64]bool{}
	for _, b := range []time.Time{day(2012, 2, 29), day(1968, 3, 1), day(1990, 6, 1)} {
		in[addPerson(t, db, b, StatusUnenrolled)] = true
	}
	for _, b := range []time.Time{day(2012, 3, 1), day(1968, 2, 29), day(1961, 1, 1)} { // 15, 60, 67
		addPerson(t, db, b, StatusUnenrolled)
	}
	addPerson(t, db, day(1961, 1, 1), StatusResidentPension)
	kr := testKeyring
	now := time.Date(2028, 2, 29, 0, 30, 0, 0, loc)
	s := &Service{db: db, kr: kr, loc: loc, now: func() time.Time { return now }}
	page := web.Page{Number: 1, Size: 100}

	got, err := s.List(context.Background(), Filter{Status: StatusUnenrolled, AgeMin: -1, AgeMax: -1}, page)
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != 3 || len(got.Items) != 3 || got.ExcludedOutOfAge != 3 {
		t.Errorf("unenrolled: total %d, %d items, excluded %d; want 3, 3, 3: %+v", got.Total, len(got.Items), got.ExcludedOutOfAge, got.Items)
	}
	for _, it := range got.Items {
		if !in[it.ID] {
			t.Errorf("listed %d aged %d as unenrolled", it.ID, it.Age)
		}
	}
	got, err = s.List(context.Background(), Filter{Status: StatusResidentPension, AgeMin: -1, AgeMax: -1}, page)
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != 1 || got.ExcludedOutOfAge != 0 {
		t.Errorf("enrolled: total %d, excluded %d; want 1, 0", got.Total, got.ExcludedOutOfAge)
	}
	// The age filters narrow the target group, never widen it.
	got, err = s.List(context.Background(), Filter{Status: StatusUnenrolled, AgeMin: 50, AgeMax: 70}, page)
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != 1 || got.ExcludedOutOfAge != 2 {
		t.Errorf("unenrolled 50-70: total %d, excluded %d; want 1, 2", got.Total, got.ExcludedOutOfAge)
	}
}
