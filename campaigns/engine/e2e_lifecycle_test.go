package engine_test

import (
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns"
)

// TestE2EPauseAndResume: pausing a running campaign stops its sends (once what was in flight
// has finished, the count does not move for several ticks); resuming finishes it, everyone
// once. The SMS fake holds every send after the second, so the pause meets a campaign with
// sends in flight and most of it still queued, however slow the machine.
func TestE2EPauseAndResume(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.people(10, personSpec{Phone: true})
	id := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}, Rate: 300})
	release := h.sms.Hold(2)
	cfg := testConfig()
	h.start(cfg)
	h.waitFor("two SMS and one held", 15*time.Second, func() bool { return h.smsSentCount() == 2 && h.sms.Held() >= 1 })
	h.mustAct(id, "pause")
	release()
	h.waitFor("in-flight sends to finish", 15*time.Second, func() bool { return h.count(id, "sending") == 0 })
	paused := h.smsSentCount()
	if paused > 2+cfg.Workers { // each worker had at most one send in flight
		t.Fatalf("%d sent once the pause took effect, want at most %d", paused, 2+cfg.Workers)
	}
	h.stays("no sends while paused", 1500*time.Millisecond, func() bool {
		return h.smsSentCount() == paused && h.count(id, "sent") == paused && h.status(id) == campaigns.StatusPaused
	})
	if w := h.act(id, "resume"); w.Code != 200 || h.status(id) != campaigns.StatusRunning {
		t.Fatalf("resume: %d %s, now %s", w.Code, w.Body, h.status(id))
	}
	h.waitEnded(id, 25*time.Second)
	if s := h.status(id); s != campaigns.StatusCompleted {
		t.Fatalf("campaign %s", s)
	}
	for _, p := range ps {
		if n := h.sms.SentTo(p.Phone); n != 1 {
			t.Errorf("resident %d got %d SMS", p.ID, n)
		}
	}
	if n := h.env.Count(`SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ?`, id); n != 1 {
		t.Errorf("%d runs", n)
	}
	h.checkInvariants()
}

// TestE2EPausedAfterLastSend: a campaign paused after its last message went out, before the
// reconciler noticed, ends completed with its run; resuming it then does not start the run
// over. The reconciler runs only when the test calls it, so the pause always comes first.
func TestE2EPausedAfterLastSend(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.people(3, personSpec{Phone: true})
	id := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}})
	e := h.startOnDemand(testConfig())
	h.waitFor("every SMS", 15*time.Second, func() bool { return h.count(id, "sent") == len(ps) })
	h.mustAct(id, "pause")
	h.waitCounted(id)
	h.reconcile(e)
	if n := h.env.Count(`SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ? AND status = 'completed'`, id); n != 1 || h.status(id) != campaigns.StatusCompleted {
		t.Fatalf("after the reconciler: %d runs completed, campaign %s", n, h.status(id))
	}
	if w := h.act(id, "resume"); w.Code != 409 || w.ErrorCode() != "ILLEGAL_TRANSITION" {
		t.Errorf("resume a completed campaign: %d %s", w.Code, w.Body)
	}
	h.reconcile(e)
	h.stays("one run, completed", 500*time.Millisecond, func() bool { // a few scheduler ticks
		return h.env.Count(`SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ?`, id) == 1 && h.status(id) == campaigns.StatusCompleted
	})
	h.waitEnded(id, 10*time.Second)
	for _, p := range ps {
		if n := h.sms.SentTo(p.Phone); n != 1 {
			t.Errorf("resident %d got %d SMS", p.ID, n)
		}
	}
	h.checkInvariants()
}

// TestE2ECancel: cancelling mid-dispatch stops the sends; what was not sent is skipped with
// reason cancelled; the run and the campaign end cancelled. The reconciler runs only when the
// test calls it, so what the test sees right after the cancel is the cancel's and the workers'
// doing; the SMS fake holds every send after the second, so the cancel meets sends in flight
// and most of the campaign still queued.
func TestE2ECancel(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.people(10, personSpec{Phone: true})
	id := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}, Rate: 300})
	release := h.sms.Hold(2)
	e := h.startOnDemand(testConfig())
	h.waitFor("two SMS and one held", 15*time.Second, func() bool { return h.smsSentCount() == 2 && h.sms.Held() >= 1 })
	h.mustAct(id, "cancel")
	release()
	atCancel := h.env.Count(`SELECT COUNT(*) FROM deliveries WHERE campaign_id = ? AND status IN ('sent', 'sending')`, id)
	// At once, not after the reconciler's next round: nothing is queued any more, and what was
	// is skipped as cancelled.
	if s, skipped := h.stats(id), h.env.Count(`SELECT COUNT(*) FROM deliveries WHERE campaign_id = ? AND status = 'skipped' AND skip_reason = 'cancelled'`, id); s.Queued != 0 ||
		skipped == 0 || s.Skipped["cancelled"] != int64(skipped) || h.count(id, "queued") != 0 {
		t.Errorf("right after the cancel: %d queued in the outbox, %d skipped as cancelled; stats %s", h.count(id, "queued"), skipped, statsString(s))
	}
	h.waitFor("in-flight sends to finish", 15*time.Second, func() bool { return h.count(id, "sending") == 0 })
	h.reconcile(e)
	h.waitEnded(id, 15*time.Second)
	sent := h.count(id, "sent")
	if sent > atCancel || h.smsSentCount() != sent {
		t.Errorf("%d sent (%d SMS), only %d were sent or in flight when the cancel returned", sent, h.smsSentCount(), atCancel)
	}
	if n := h.env.Count(`SELECT COUNT(*) FROM deliveries WHERE campaign_id = ? AND status = 'skipped' AND skip_reason = 'cancelled'`, id); n != len(ps)-sent {
		t.Errorf("%d skipped cancelled, want %d\n%s", n, len(ps)-sent, h.describe())
	}
	if s := h.status(id); s != campaigns.StatusCancelled {
		t.Errorf("campaign %s", s)
	}
	if n := h.env.Count(`SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ? AND status = 'cancelled' AND completed_at IS NOT NULL`, id); n != 1 {
		t.Errorf("%d cancelled runs", n)
	}
	if s := h.stats(id); s.Skipped["cancelled"] != int64(len(ps)-sent) || s.Sent != int64(sent) {
		t.Errorf("stats: %s", statsString(s))
	}
	h.stays("no sends after the cancel", 500*time.Millisecond, func() bool { return h.smsSentCount() == sent })
	for _, action := range []string{"resume", "cancel", "schedule", "pause"} {
		if w := h.act(id, action); w.Code != 409 || w.ErrorCode() != "ILLEGAL_TRANSITION" || h.status(id) != campaigns.StatusCancelled {
			t.Errorf("%s a cancelled campaign: %d %s, now %s", action, w.Code, w.Body, h.status(id))
		}
	}
	h.checkInvariants()
}
