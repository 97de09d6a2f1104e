package engine_test

import (
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns"
)

// TestDrillTwoInstances: two engine instances on the same database and Redis run the same
// campaigns at once (scheduler, snapshot, feeder, workers and reconciler all racing): every
// person is messaged once, and the sends add up to the audience.
func TestDrillTwoInstances(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.people(40, personSpec{Phone: true})
	wx := h.people(20, personSpec{OpenID: true, Consents: 2, Phone: true, Village: "luoxi"})
	cfg := testConfig()
	cfg.SnapshotBatch = 7 // many snapshot batches, so both instances meet there too
	a := h.scheduled(campaignSpec{Channels: chain, Rate: 1200})
	b := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}, Rate: 1200, Segment: map[string]any{"villages": []string{"zhenxing"}}})
	h.start(cfg)
	h.start(cfg)
	h.waitEnded(a, 25*time.Second)
	h.waitEnded(b, 25*time.Second)

	if n := h.count(a, "sent"); n != len(ps)+len(wx) {
		t.Errorf("campaign a: %d sent, want %d", n, len(ps)+len(wx))
	}
	if n := h.count(b, "sent"); n != len(ps) {
		t.Errorf("campaign b: %d sent, want %d", n, len(ps))
	}
	if n := h.smsSentCount(); n != 2*len(ps) {
		t.Errorf("%d SMS, want %d", n, 2*len(ps))
	}
	if n := h.wxSentCount(); n != len(wx) {
		t.Errorf("%d WeChat messages, want %d", n, len(wx))
	}
	for _, p := range ps {
		if n := h.sms.SentTo(p.Phone); n != 2 {
			t.Errorf("resident %d got %d SMS from two campaigns", p.ID, n)
		}
	}
	for _, p := range wx {
		if n := h.sms.SentTo(p.Phone); n != 0 || h.consents(p) != 1 {
			t.Errorf("resident %d: %d SMS, %d consents left", p.ID, n, h.consents(p))
		}
	}
	for _, id := range []int64{a, b} {
		if n := h.env.Count(`SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ?`, id); n != 1 {
			t.Errorf("campaign %d has %d runs", id, n)
		}
	}
	h.checkInvariants()
}
