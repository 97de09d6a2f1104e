package engine_test

import (
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns"
)

// TestDrillStopDrains: stopping an engine mid-dispatch (what SIGTERM does) returns promptly:
// it stops taking work, lets what is in flight finish (nothing is left in sending), and sends
// nothing afterwards; another engine then finishes the campaign, everyone once.
func TestDrillStopDrains(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.people(12, personSpec{Phone: true})
	id := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}, Rate: 120})
	cfg := testConfig()
	stop := h.start(cfg)
	h.waitFor("two SMS", 15*time.Second, func() bool { return h.smsSentCount() >= 2 })
	began := time.Now()
	stop()
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("the engine took %s to stop", d.Round(time.Millisecond))
	}
	if n := h.count(id, "sending"); n != 0 {
		t.Errorf("%d deliveries left in sending by a clean stop", n)
	}
	stopped := h.smsSentCount()
	if stopped >= len(ps) {
		t.Fatalf("all %d sent before the stop", stopped)
	}
	h.stays("no sends after the stop", 1500*time.Millisecond, func() bool { return h.smsSentCount() == stopped })

	h.start(cfg)
	h.waitEnded(id, 25*time.Second)
	for _, p := range ps {
		if n := h.sms.SentTo(p.Phone); n != 1 {
			t.Errorf("resident %d got %d SMS", p.ID, n)
		}
	}
	h.checkInvariants()
}
