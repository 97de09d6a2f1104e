package counters_test

import (
	"context"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/campaigns/counters"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/dbtest"
)

// sentRows puts n sent deliveries of one run of a campaign in the outbox, to residents from
// first on, and returns their ids.
func sentRows(t *testing.T, db *sqlx.DB, campaign, run, first int64, n int) {
	t.Helper()
	now := database.Now()
	tx := db.MustBegin()
	for i := 0; i < n; i++ {
		if _, err := tx.Exec(`INSERT INTO deliveries (campaign_id, run_id, resident_id, village_code, status, channel, sent_at, created_at, updated_at)
			VALUES (?, ?, ?, 'zhenxing', 'sent', 'log', ?, ?, ?)`, campaign, run, first+int64(i), now, now, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestReachedIsExact: 1,050 distinct people sent to are 1,050 reached, whether the counters
// were rebuilt from the outbox or kept live; a person reached in two runs counts once.
func TestReachedIsExact(t *testing.T) {
	db := dbtest.New(t)
	rdb, prefix := dbtest.Redis(t)
	loc, _ := time.LoadLocation("Asia/Shanghai")
	c := counters.New(db, rdb, prefix, loc)
	ctx := context.Background()

	sentRows(t, db, 1, 1, 1, 1050)
	s, err := c.Stats(ctx, 1) // rebuilt from the outbox
	if err != nil {
		t.Fatal(err)
	}
	if s.Sent != 1050 || s.Reached != 1050 {
		t.Errorf("rebuilt: sent %d, reached %d; want 1050, 1050", s.Sent, s.Reached)
	}

	// Live: a second run reaches 50 of the same people again and 1,000 new ones.
	now := time.Now()
	sentRows(t, db, 1, 2, 1001, 1050)
	var changes []counters.Change
	for id := int64(1001); id < 2051; id++ {
		changes = append(changes, counters.Change{Campaign: 1, Village: "zhenxing", From: "sending", To: "sent", Channel: "log",
			ResidentID: id, FirstReach: id > 1050, At: now})
	}
	if err := c.Apply(ctx, changes...); err != nil {
		t.Fatal(err)
	}
	if s, err = c.Stats(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if s.Reached != 2050 {
		t.Errorf("live: reached %d, want 2050", s.Reached)
	}
	if err := c.Rebuild(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if s, err = c.Stats(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if s.Sent != 2100 || s.Reached != 2050 {
		t.Errorf("rebuilt after two runs: sent %d, reached %d; want 2100, 2050", s.Sent, s.Reached)
	}
	// Counters built before reached was exact (a HyperLogLog beside the hash, no field) are
	// rebuilt on read.
	if n, err := rdb.HDel(ctx, prefix+"cstat:"+counters.Tag(1), "reached").Result(); err != nil || n != 1 {
		t.Fatalf("HDEL reached: %d, %v", n, err)
	}
	if s, err = c.Stats(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if s.Reached != 2050 {
		t.Errorf("old counters: reached %d, want 2050", s.Reached)
	}
}
