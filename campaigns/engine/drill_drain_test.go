package engine_test

import (
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns"
)

// TestDrillStopDrains: stopping an engine mid-dispatch (what SIGTERM does) stops it taking
// work and lets what is in flight finish (nothing is left in sending), and nothing is sent
// afterwards; another engine then finishes the campaign, everyone once. The SMS fake holds
// every send after the second until the engine's context has ended, so the stop always meets
// sends in flight and most of the campaign queued. (Prompt: the harness fails a stop that takes
// over 10 s; what is in flight is bounded by the workers.)
func TestDrillStopDrains(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.people(12, personSpec{Phone: true})
	id := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}, Rate: 300})
	cfg := testConfig()
	release := h.sms.Hold(2)
	stop, cancel := h.run(h.newEngine(cfg))
	h.waitFor("two SMS and one held", 15*time.Second, func() bool { return h.smsSentCount() == 2 && h.sms.Held() >= 1 })
	cancel()
	release()
	stop()
	if n := h.count(id, "sending"); n != 0 {
		t.Errorf("%d deliveries left in sending by a clean stop", n)
	}
	stopped := h.smsSentCount()
	if stopped > 2+cfg.Workers { // each worker had at most one send in flight
		t.Fatalf("%d sent by the stopped engine, want at most %d", stopped, 2+cfg.Workers)
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
