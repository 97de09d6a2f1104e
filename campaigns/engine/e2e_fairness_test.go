package engine_test

import (
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns"
)

// TestE2EASlowCampaignDoesNotHoldUpAnother: a campaign held to one message a minute with a
// backlog must not stop another campaign's messages. Its deliveries used to go onto the stream
// all at once, and every worker that took one waited for the rate (up to a minute) with the
// rest of its batch: with 20 of them queued, all four workers waited and the other campaign's
// message sat behind them. The demo's running campaign (60 a minute, 09:00-20:00) did this to
// the console's campaign test by day.
func TestE2EASlowCampaignDoesNotHoldUpAnother(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	slowV, fastV := h.village("s1"), h.village("f1")
	h.people(20, personSpec{Phone: true, Village: slowV})
	quick := h.person(personSpec{Phone: true, Village: fastV})
	slow := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}, Rate: 1, Segment: map[string]any{"villages": []string{slowV}}})
	h.start(testConfig())
	h.waitFor("the slow campaign's first message", 15*time.Second, func() bool { return h.count(slow, "sent") == 1 })

	fast := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}, Segment: map[string]any{"villages": []string{fastV}}})
	h.waitFor("the other campaign's message, while the slow one waits for its rate", 15*time.Second, func() bool {
		return h.sms.SentTo(quick.Phone) == 1
	})
	h.waitEnded(fast, 15*time.Second)
	if n := h.count(slow, "sent"); n > 2 {
		t.Errorf("the slow campaign sent %d messages within a minute, at 1 a minute", n)
	}
}
