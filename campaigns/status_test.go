package campaigns

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/dbtest"
	"github.com/canbao/canbao/internal/platform/errs"
)

var allStatuses = []string{StatusDraft, StatusScheduled, StatusRunning, StatusPaused, StatusCompleted, StatusCancelled}

// allowed is the state machine as the product defines it, written out edge by edge (not read
// from the table under test).
var allowed = map[[2]string]bool{
	{StatusDraft, StatusScheduled}:     true, // staff: schedule
	{StatusDraft, StatusCancelled}:     true, // staff: cancel
	{StatusScheduled, StatusRunning}:   true, // engine: a run starts
	{StatusScheduled, StatusPaused}:    true, // staff: pause
	{StatusScheduled, StatusCancelled}: true, // staff: cancel
	{StatusRunning, StatusPaused}:      true, // staff: pause
	{StatusRunning, StatusCancelled}:   true, // staff: cancel
	{StatusRunning, StatusCompleted}:   true, // engine: the last run ended
	{StatusRunning, StatusScheduled}:   true, // engine: a run ended, the campaign repeats
	{StatusPaused, StatusScheduled}:    true, // staff: resume
	{StatusPaused, StatusRunning}:      true, // staff: resume with a run under way
	{StatusPaused, StatusCancelled}:    true, // staff: cancel
	{StatusPaused, StatusCompleted}:    true, // engine: the last run ended while paused
	{StatusCompleted, StatusRunning}:   true, // staff: retry the failed deliveries
}

func newCampaignRow(t *testing.T, db *sqlx.DB, status string) int64 {
	t.Helper()
	now := database.Now()
	res, err := db.Exec(`INSERT INTO campaigns (name, status, spec, start_at, end_at, next_run_at, created_at, updated_at)
		VALUES ('测试', ?, '{}', ?, ?, ?, ?, ?)`, status, now, now.Add(time.Hour), now, now.Add(-time.Hour), now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	return id
}

type campaignState struct {
	Status  string     `db:"status"`
	NextRun *time.Time `db:"next_run_at"`
	Updated time.Time  `db:"updated_at"`
}

func stateOf(t *testing.T, db *sqlx.DB, id int64) campaignState {
	t.Helper()
	var s campaignState
	if err := db.Get(&s, `SELECT status, next_run_at, updated_at FROM campaigns WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	return s
}

func (a campaignState) equal(b campaignState) bool {
	return a.Status == b.Status && a.Updated.Equal(b.Updated) &&
		((a.NextRun == nil && b.NextRun == nil) || (a.NextRun != nil && b.NextRun != nil && a.NextRun.Equal(*b.NextRun)))
}

func isIllegal(err error) bool {
	var e *errs.Error
	return errors.As(err, &e) && e.Code == CodeIllegalTransition && errs.Status(e.Code) == 409
}

// TestMoveEveryEdge: every (from, to) pair of statuses: the allowed ones move the campaign, every
// other one is 409 ILLEGAL_TRANSITION and writes nothing.
func TestMoveEveryEdge(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	for _, from := range allStatuses {
		for _, to := range allStatuses {
			id := newCampaignRow(t, db, from)
			before := stateOf(t, db, id)
			err := Move(ctx, db, id, from, to, KeepNextRun)
			after := stateOf(t, db, id)
			if allowed[[2]string{from, to}] {
				if err != nil || after.Status != to || after.NextRun == nil || !after.NextRun.Equal(*before.NextRun) {
					t.Errorf("%s → %s: %v, now %+v", from, to, err, after)
				}
				continue
			}
			if !isIllegal(err) || !after.equal(before) {
				t.Errorf("%s → %s: want 409 ILLEGAL_TRANSITION and nothing written; got %v, %+v → %+v", from, to, err, before, after)
			}
		}
	}
	// The staff actions stay inside the state machine.
	for from, ts := range transitions {
		for action, to := range ts {
			if !allowed[[2]string{from, to}] {
				t.Errorf("staff action %s takes %s to %s, not an allowed move", action, from, to)
			}
		}
	}
}

// TestMoveFromAStaleStatus: an allowed move from a status the campaign is no longer in is
// refused and changes nothing.
func TestMoveFromAStaleStatus(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	id := newCampaignRow(t, db, StatusCancelled)
	before := stateOf(t, db, id)
	if err := Move(ctx, db, id, StatusRunning, StatusCompleted, KeepNextRun); !isIllegal(err) {
		t.Fatalf("running → completed of a cancelled campaign: %v", err)
	}
	if after := stateOf(t, db, id); !after.equal(before) {
		t.Fatalf("written: %+v → %+v", before, after)
	}
	if err := Move(ctx, db, 1<<40, StatusDraft, StatusScheduled, KeepNextRun); !isIllegal(err) {
		t.Fatalf("a campaign that does not exist: %v", err)
	}
	// SetNextRun writes next_run_at with the move.
	id = newCampaignRow(t, db, StatusScheduled)
	if err := Move(ctx, db, id, StatusScheduled, StatusRunning, SetNextRun(nil)); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, db, id); s.Status != StatusRunning || s.NextRun != nil {
		t.Fatalf("after a move with no next run: %+v", s)
	}
}

// TestMoveRace: writers racing to move one campaign from the same status: exactly one wins.
func TestMoveRace(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	for round := 0; round < 10; round++ {
		id := newCampaignRow(t, db, StatusRunning)
		tos := []string{StatusPaused, StatusCancelled, StatusCompleted, StatusScheduled}
		errs := make([]error, len(tos))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, to := range tos {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = Move(ctx, db, id, StatusRunning, to, KeepNextRun)
			}()
		}
		close(start)
		wg.Wait()
		won := ""
		for i, err := range errs {
			switch {
			case err == nil && won == "":
				won = tos[i]
			case err == nil:
				t.Fatalf("round %d: both %s and %s won", round, won, tos[i])
			case !isIllegal(err):
				t.Fatalf("round %d: %s: %v", round, tos[i], err)
			}
		}
		if s := stateOf(t, db, id); won == "" || s.Status != won {
			t.Fatalf("round %d: winner %q, status %s", round, won, s.Status)
		}
	}
}
