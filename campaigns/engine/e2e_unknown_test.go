package engine_test

import (
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/campaigns/channels"
	"github.com/canbao/canbao/campaigns/channels/sms"
	"github.com/canbao/canbao/campaigns/engine"
)

// TestE2ETimedOutSendIsUnknownNotResent: a send whose answer never comes may have reached the
// resident. Retried as a transient error, it reached them twice (the provider had taken the
// first). It is recorded as unknown instead, as a send whose lease expired is, and not resent;
// staff may retry unknown ones explicitly.
func TestE2ETimedOutSendIsUnknownNotResent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.person(personSpec{Phone: true})
	h.sms.LoseAnswers(1)
	e := h.newEngine(testConfig(), func(d *engine.Deps) {
		// A short client timeout: the lost answer is given up on quickly.
		d.Channels[campaigns.ChannelSMS] = channels.SMS{Client: sms.NewClient(sms.Config{APIBase: h.sms.URL, AccessKeyID: smsKeyID,
			AccessKeySecret: smsSecret, Timeout: 300 * time.Millisecond}, h.log)}
	})
	h.run(e)
	id := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}})
	h.waitEnded(id, 20*time.Second)
	if d := h.delivery(id, p); d.Status != "unknown" || d.Code != "timeout" || d.Attempts != 1 {
		t.Errorf("a send whose answer was lost: %+v, want unknown after one attempt", d)
	}
	if n := h.sms.SentTo(p.Phone); n != 1 {
		t.Errorf("the resident got %d SMS", n)
	}
	h.waitCounted(id)
	if s := h.stats(id); s.Unknown != 1 || s.Sent != 0 || s.Sending != 0 {
		t.Errorf("stats: %s", statsString(s))
	}
	h.checkInvariants()
}
