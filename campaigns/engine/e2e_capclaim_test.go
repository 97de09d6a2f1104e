package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/campaigns/engine"
)

// TestConcurrentClaimsRespectTheFrequencyCap: two campaigns capped at one message per 7 days,
// one person in both, claimed by two workers at once. Worker A records an earlier send of its
// batch (whose reach count is a plain read: at REPEATABLE READ, InnoDB's snapshot is taken
// there, TiDB's at the transaction's start) and, before it claims the person, worker B claims,
// sends and commits the other campaign's message to them. A then locks the person and counts
// their recent sends: it must see B's, and skip its own delivery as frequency_cap. Under a
// snapshot read it counted none and sent a second SMS.
func TestConcurrentClaimsRespectTheFrequencyCap(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	other := h.person(personSpec{Phone: true}) // A's first send, recorded before A claims `shared`
	shared := h.person(personSpec{Phone: true})
	cp := &[2]int{1, 7}
	a := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}, Cap: cp})
	b := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}, Cap: cp})
	// An engine without workers schedules and snapshots both campaigns; the test plays the two
	// workers itself.
	cfg := testConfig()
	cfg.Workers = 0
	h.startOnDemand(cfg)
	// Fed too: the engine's feeder then leaves these rows alone, and its stamp of them cannot
	// queue behind worker A's locks while B, inside A's step, waits for it.
	h.waitFor("both audiences queued and fed", 20*time.Second, func() bool {
		return h.env.Count(`SELECT COUNT(*) FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id
			WHERE d.status = 'queued' AND d.enqueued_at IS NOT NULL AND r.status = 'dispatching'`) == 4
	})
	aOther, aShared, bShared := h.delivery(a, other), h.delivery(a, shared), h.delivery(b, shared)

	ctx := context.Background()
	workerA, workerB := h.newEngine(testConfig()), h.newEngine(testConfig())
	steps, bDone := 0, false
	engine.OnStep(workerA, func() {
		// Step 1 claims `other`; step 2 records its send and then claims `shared`: B goes
		// between the two, inside A's transaction.
		if steps++; steps != 2 {
			return
		}
		if err := engine.ProcessBatch(ctx, workerB, []int64{bShared.ID}); err != nil {
			t.Errorf("worker B: %v", err)
		}
		bDone = true
	})
	if err := engine.ProcessBatch(ctx, workerA, []int64{aOther.ID, aShared.ID}); err != nil {
		t.Fatalf("worker A: %v", err)
	}
	if !bDone {
		t.Fatalf("worker B never ran inside A's step (A took %d steps)\n%s", steps, h.describe())
	}
	if n := h.sms.SentTo(shared.Phone); n != 1 {
		t.Errorf("the shared person got %d SMS under a cap of one", n)
	}
	if n := h.sms.SentTo(other.Phone); n != 1 {
		t.Errorf("the other person got %d SMS, want 1", n)
	}
	da, db := h.delivery(a, shared), h.delivery(b, shared)
	if db.Status != "sent" || da.Status != "skipped" || da.Reason != "frequency_cap" {
		t.Errorf("campaign A's delivery %+v and B's %+v: want B's sent and A's skipped frequency_cap", da, db)
	}
}
