package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/campaigns/engine"
)

// TestRefeedSkipsWhatTheStreamStillHolds: deliveries fed long ago but still queued are fed
// again only when no consumer can still read them. With no worker reading, every fed delivery
// still waits on the stream, and reconciler rounds add no duplicates however long ago they were
// fed (before, each round fed all of them again: a long backlog filled the stream with copies);
// once the stream is lost, the next round feeds every one of them again: nothing is lost.
func TestRefeedSkipsWhatTheStreamStillHolds(t *testing.T) {
	h := newHarness(t)
	const n = 30
	for i := 0; i < n; i++ {
		h.person(personSpec{})
	}
	h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelLog}})
	cfg := testConfig()
	cfg.Workers = 0                    // nothing reads the stream
	cfg.RequeueAfter = time.Nanosecond // "fed long ago" is everything fed
	e := h.startOnDemand(cfg)
	h.waitFor("every delivery fed", 15*time.Second, func() bool {
		return h.env.Count(`SELECT COUNT(*) FROM deliveries WHERE enqueued_at IS NOT NULL`) == n
	})
	xlen := func() int64 { t.Helper(); return h.streamLen() }
	if l := xlen(); l != n {
		t.Fatalf("stream holds %d entries after the feed, want %d", l, n)
	}
	for i := 0; i < 3; i++ {
		h.reconcile(e)
	}
	if l := xlen(); l != n {
		t.Fatalf("stream holds %d entries after three reconciler rounds, want %d: what still waited was fed again", l, n)
	}
	for _, stream := range engine.StreamKeys(h.env.Prefix) {
		if err := h.env.Redis.Del(context.Background(), stream).Err(); err != nil {
			t.Fatal(err)
		}
	}
	h.reconcile(e)
	if l := xlen(); l != n {
		t.Fatalf("stream holds %d entries after it was lost and a reconciler round, want all %d fed again", l, n)
	}
}

// TestFeedFindsADeliveryQueuedAgainBehindItsCursor: the feeder reads a run from the last id it
// fed, a page at a time; a delivery queued again behind that cursor (a retry of the failed ones
// clears enqueued_at) is still fed, once the feeder has reached the run's end and starts over.
func TestFeedFindsADeliveryQueuedAgainBehindItsCursor(t *testing.T) {
	h := newHarness(t)
	const n = 7
	for i := 0; i < n; i++ {
		h.person(personSpec{})
	}
	h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelLog}})
	cfg := testConfig()
	cfg.Workers = 0   // nothing reads the stream
	cfg.FeedBatch = 2 // several pages per run
	cfg.RequeueAfter = time.Hour
	h.startOnDemand(cfg)
	h.waitFor("every delivery fed", 15*time.Second, func() bool {
		return h.env.Count(`SELECT COUNT(*) FROM deliveries WHERE enqueued_at IS NOT NULL`) == n
	})
	var first int64
	if err := h.env.DB.Get(&first, `SELECT MIN(id) FROM deliveries`); err != nil {
		t.Fatal(err)
	}
	h.env.Exec(`UPDATE deliveries SET enqueued_at = NULL WHERE id = ?`, first)
	h.waitFor("the first delivery fed again", 15*time.Second, func() bool {
		return h.env.Count(`SELECT COUNT(*) FROM deliveries WHERE enqueued_at IS NOT NULL`) == n
	})
	if l := h.streamLen(); l != n+1 {
		t.Fatalf("stream holds %d entries, want %d: each delivery once and the requeued one again", l, n+1)
	}
}
