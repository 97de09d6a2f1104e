package idempotency

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/dbtest"
)

func insertKeys(t *testing.T, db *sqlx.DB, tag string, n int, expires time.Time) {
	t.Helper()
	for i := 0; i < n; i++ {
		scope := sha256.Sum256([]byte(fmt.Sprintf("%s-%d", tag, i)))
		if _, err := db.Exec(`INSERT INTO idempotency_keys (scope_hash, request_hash, state, response_status, response_body, created_at, expires_at)
			VALUES (?, ?, 'done', 201, '{}', ?, ?)`, scope[:], scope[:], expires.Add(-Retention), expires); err != nil {
			t.Fatal(err)
		}
	}
}

func newKeys(db *sqlx.DB) *Keys {
	return New(db, slog.New(slog.NewTextHandler(io.Discard, nil)), func(*gin.Context) string { return "t" })
}

// TestPurgeDeletesExpiredKeysInBoundedBatches: keys were never purged. One pass deletes every
// expired key, a batch at a time, and keeps the keys still within their retention.
func TestPurgeDeletesExpiredKeysInBoundedBatches(t *testing.T) {
	db := dbtest.New(t)
	now := database.Now()
	insertKeys(t, db, "old", 23, now.Add(-time.Minute))
	insertKeys(t, db, "fresh", 4, now.Add(time.Minute))
	insertKeys(t, db, "in-retention", 3, now.Add(Retention-time.Hour))

	res, err := newKeys(db).PurgeExpired(context.Background(), now, 5)
	if err != nil {
		t.Fatal(err)
	}
	// 23 rows in batches of 5: four full batches and a short one end the pass.
	if res.Deleted != 23 || res.Batches != 5 {
		t.Fatalf("pass: %+v, want 23 deleted in 5 batches", res)
	}
	var expired, kept int
	_ = db.Get(&expired, `SELECT COUNT(*) FROM idempotency_keys WHERE expires_at < ?`, now)
	_ = db.Get(&kept, `SELECT COUNT(*) FROM idempotency_keys`)
	if expired != 0 || kept != 7 {
		t.Fatalf("after the pass: %d expired, %d kept (want 0, 7)", expired, kept)
	}
	// Nothing left to do: one statement.
	if res, err := newKeys(db).PurgeExpired(context.Background(), now, 5); err != nil || res.Deleted != 0 || res.Batches != 1 {
		t.Fatalf("second pass: %+v %v", res, err)
	}
	// An exact multiple of the batch takes one extra, empty statement and no more.
	insertKeys(t, db, "old2", 10, now.Add(-time.Second))
	if res, err := newKeys(db).PurgeExpired(context.Background(), now, 5); err != nil || res.Deleted != 10 || res.Batches != 3 {
		t.Fatalf("multiple of the batch: %+v %v", res, err)
	}
}

// TestRunPurgeStopsWithItsContext: the background purger passes at start, then every
// interval, and returns when its context ends.
func TestRunPurgeStopsWithItsContext(t *testing.T) {
	db := dbtest.New(t)
	insertKeys(t, db, "old", 3, database.Now().Add(-time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	passes := make(chan PurgeResult, 10)
	done := make(chan struct{})
	go func() {
		newKeys(db).RunPurge(ctx, time.Hour, 2, func(r PurgeResult, err error) {
			if err != nil {
				t.Error(err)
			}
			passes <- r
		})
		close(done)
	}()
	if r := <-passes; r.Deleted != 3 || r.Batches != 2 {
		t.Fatalf("first pass: %+v", r)
	}
	cancel()
	<-done
}
