package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/campaigns/engine"
	"github.com/canbao/canbao/internal/platform/dbtest"
)

// flushPrefix deletes every Redis key of the test's instance: what FLUSHDB does to it, without
// touching the keys of the other tests sharing the Redis database. It returns how many keys
// it deleted.
func (h *harness) flushPrefix() int {
	h.t.Helper()
	n, err := dbtest.DeleteKeys(context.Background(), h.env.Redis, h.env.Prefix+"*")
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// streamLen is how many entries the delivery stream's shards hold together.
func (h *harness) streamLen() int64 {
	h.t.Helper()
	var n int64
	for _, s := range engine.StreamKeys(h.env.Prefix) {
		l, err := h.env.Redis.XLen(context.Background(), s).Result()
		if err != nil {
			h.t.Fatal(err)
		}
		n += l
	}
	return n
}

// TestDrillRedisFlushedMidDispatch: Redis loses everything mid-dispatch (stream, consumer
// group, counters, rate limiter state, the WeChat token). The engine recreates its group, the
// reconciler feeds again what MySQL says is pending, the campaign completes, no one is
// messaged twice, and the stats, rebuilt, equal the outbox. The SMS fake holds every SMS after
// the fifth until after the flush, so the flush always meets sends in flight and SMS queued.
func TestDrillRedisFlushedMidDispatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.people(20, personSpec{Phone: true})
	wx := h.people(10, personSpec{OpenID: true, Consents: 1, Village: "luoxi"})
	id := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelWeChat, campaigns.ChannelSMS}, Rate: 300})
	release := h.sms.Hold(5)
	h.start(testConfig())
	h.waitFor("five SMS and one held", 15*time.Second, func() bool { return h.smsSentCount() == 5 && h.sms.Held() >= 1 })
	if n := h.flushPrefix(); n == 0 {
		t.Fatal("nothing to flush")
	}
	release()
	h.waitFor("the stream group to be recreated on every shard", 10*time.Second, func() bool {
		for _, stream := range engine.StreamKeys(h.env.Prefix) {
			groups, err := h.env.Redis.XInfoGroups(context.Background(), stream).Result()
			if err != nil || len(groups) != 1 || groups[0].Name != "senders" {
				return false
			}
		}
		return true
	})
	h.waitEnded(id, 25*time.Second)
	if n := h.count(id, "sent"); n != len(ps)+len(wx) {
		t.Errorf("%d sent, want %d\n%s", n, len(ps)+len(wx), h.describe())
	}
	for _, p := range ps {
		if n := h.sms.SentTo(p.Phone); n != 1 {
			t.Errorf("resident %d got %d SMS", p.ID, n)
		}
	}
	for _, p := range wx {
		if left := h.consents(p); left != 0 {
			t.Errorf("resident %d has %d consents left after one message", p.ID, left)
		}
	}
	h.checkInvariants()

	// Flushed again once it ended: the stats endpoint rebuilds them from the outbox.
	h.flushPrefix()
	h.checkStats(id)
}
