package engine_test

import (
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/campaigns/engine"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/server/servertest"
	"github.com/canbao/canbao/internal/wechat/wechattest"
)

// retryConfig retries after a short backoff and feeds the retry again soon after.
func retryConfig() engine.Config {
	c := testConfig()
	c.RetryBackoff = 300 * time.Millisecond
	c.RequeueAfter = 200 * time.Millisecond
	return c
}

// TestE2ETransientErrorIsRetried: a temporary provider error puts the delivery back in the
// queue with not_before = now + the backoff and the error code; the retry then sends it.
// For WeChat the consent spent on the failed attempt is given back first. The backoff is an
// hour, so the waiting row stays to be looked at however slow the machine; the test then moves
// not_before into the past, standing for the wait.
func TestE2ETransientErrorIsRetried(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	v1, v2 := h.village("t1"), h.village("t2")
	p := h.person(personSpec{Phone: true, Village: v1})
	w := h.person(personSpec{OpenID: true, Consents: 1, Village: v2})
	cfg := retryConfig()
	cfg.RetryBackoff = time.Hour
	h.start(cfg)
	waited := func(id int64) {
		h.t.Helper()
		h.waitFor("the delivery back in the queue", 15*time.Second, func() bool {
			return h.env.Count(`SELECT COUNT(*) FROM deliveries WHERE campaign_id = ? AND status = 'queued' AND attempts = 1
				AND error_code IS NOT NULL AND not_before IS NOT NULL`, id) == 1
		})
		h.env.Exec(`UPDATE deliveries SET not_before = ? WHERE campaign_id = ?`, database.Now().Add(-time.Second), id)
	}

	h.sms.FailNext("isp.SYSTEM_ERROR", "系统错误", 500)
	id := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}, Segment: map[string]any{"villages": []string{v1}}})
	h.waitFor("the delivery back in the queue", 15*time.Second, func() bool {
		return h.env.Count(`SELECT COUNT(*) FROM deliveries WHERE campaign_id = ? AND status = 'queued' AND attempts = 1
			AND error_code = 'sms:isp.SYSTEM_ERROR' AND not_before IS NOT NULL`, id) == 1
	})
	var nb, failedAt time.Time
	if err := h.env.DB.QueryRow(`SELECT not_before, updated_at FROM deliveries WHERE campaign_id = ?`, id).Scan(&nb, &failedAt); err != nil {
		t.Fatal(err)
	}
	if wait := nb.Sub(failedAt); wait < time.Hour-50*time.Millisecond || wait > time.Hour+50*time.Millisecond {
		t.Errorf("not_before is %s after the failure, want the 1h backoff", wait)
	}
	if w := h.waiting(id); w.ForRetry != 1 || w.ForWindow != 0 {
		t.Errorf("stats: waiting %+v, want 1 for a retry", w)
	}
	h.stays("not sent while it waits", 500*time.Millisecond, func() bool { return h.smsSentCount() == 0 }) // a few reconciler rounds
	waited(id)
	h.waitEnded(id, 15*time.Second)
	if d := h.delivery(id, p); d.Status != "sent" || d.Channel != "sms" || d.Attempts != 2 {
		t.Errorf("after the retry: %+v", d)
	}

	h.wx.FailNext(wechattest.PathSubscribe, -1, "system error")
	wid := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelWeChat}, Segment: map[string]any{"villages": []string{v2}}})
	waited(wid)
	h.waitEnded(wid, 15*time.Second)
	if d := h.delivery(wid, w); d.Status != "sent" || d.Channel != "wechat" || d.Attempts != 2 {
		t.Errorf("WeChat after the retry: %+v", d)
	}
	if n := h.consents(w); n != 0 {
		t.Errorf("%d consents left: the failed attempt's was not given back, or the retry's not spent", n)
	}
	if h.wxSentCount() != 1 || h.smsSentCount() != 1 {
		t.Errorf("%d WeChat, %d SMS", h.wxSentCount(), h.smsSentCount())
	}
	h.checkInvariants()
}

// TestE2ETransientErrorsFailAfterMaxAttempts: a delivery fails only after MaxAttempts
// temporary errors (with the last error's code); one that succeeds at the last attempt is
// sent.
func TestE2ETransientErrorsFailAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	v1, v2 := h.village("m1"), h.village("m2")
	failing := h.person(personSpec{Phone: true, Village: v1})
	lucky := h.person(personSpec{Phone: true, Village: v2})
	cfg := retryConfig()
	cfg.MaxAttempts = 3
	h.start(cfg)

	for range 3 {
		h.sms.FailNext("isp.SYSTEM_ERROR", "系统错误", 500)
	}
	a := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}, Segment: map[string]any{"villages": []string{v1}}})
	h.waitFor("a second attempt", 15*time.Second, func() bool {
		return h.env.Count(`SELECT COUNT(*) FROM deliveries WHERE campaign_id = ? AND attempts >= 2`, a) == 1
	})
	if d := h.delivery(a, failing); d.Status == "failed" && d.Attempts < 3 {
		t.Fatalf("failed after %d attempts", d.Attempts)
	}
	h.waitEnded(a, 15*time.Second)
	if d := h.delivery(a, failing); d.Status != "failed" || d.Attempts != 3 || d.Code != "sms:isp.SYSTEM_ERROR" {
		t.Errorf("after three temporary errors: %+v", d)
	}

	for range 2 {
		h.sms.FailNext("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控", 0)
	}
	b := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}, Segment: map[string]any{"villages": []string{v2}}})
	h.waitEnded(b, 15*time.Second)
	if d := h.delivery(b, lucky); d.Status != "sent" || d.Attempts != 3 {
		t.Errorf("after two temporary errors: %+v", d)
	}
	if h.sms.SentTo(failing.Phone) != 0 || h.sms.SentTo(lucky.Phone) != 1 {
		t.Errorf("SMS: %d and %d", h.sms.SentTo(failing.Phone), h.sms.SentTo(lucky.Phone))
	}
	if s := h.stats(a); s.Failed != 1 || s.Sent != 0 {
		t.Errorf("stats: %s", statsString(s))
	}
	h.checkInvariants()

	// "Retry the failed ones" is one call; the provider has recovered.
	w := h.env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/campaigns/" + itoa(a) + "/retry-failed", Token: h.staff})
	var rq struct{ Requeued int }
	if w.JSON(t, &rq); w.Code != 200 || rq.Requeued != 1 {
		t.Fatalf("retry-failed: %d %s", w.Code, w.Body)
	}
	h.waitEnded(a, 15*time.Second)
	if d := h.delivery(a, failing); d.Status != "sent" || h.sms.SentTo(failing.Phone) != 1 || h.status(a) != campaigns.StatusCompleted {
		t.Errorf("after retry-failed: %+v, %d SMS, campaign %s", d, h.sms.SentTo(failing.Phone), h.status(a))
	}
	h.checkInvariants()
}

// TestE2EPermanentErrorOnLastChannelFails: permanent errors are not retried; when the last
// usable channel of the chain fails permanently the delivery fails at once with its code.
func TestE2EPermanentErrorOnLastChannelFails(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	both := h.person(personSpec{OpenID: true, Consents: 2, Phone: true})
	wxOnly := h.person(personSpec{OpenID: true, Consents: 1, Village: "luoxi"})
	smsOnly := h.person(personSpec{Phone: true, Village: "luoxi"})
	h.wx.RefuseConsent(both.OpenID, wxTemplate)
	h.wx.RefuseConsent(wxOnly.OpenID, wxTemplate)
	h.sms.FailPhone(both.Phone, "isv.MOBILE_NUMBER_ILLEGAL")
	h.sms.FailPhone(smsOnly.Phone, "isv.BLACK_KEY_CONTROL_LIMIT")
	id := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelWeChat, campaigns.ChannelSMS}})
	h.start(retryConfig())
	h.waitEnded(id, 15*time.Second)

	for p, code := range map[person]string{both: "sms:isv.MOBILE_NUMBER_ILLEGAL", wxOnly: "wechat:43101", smsOnly: "sms:isv.BLACK_KEY_CONTROL_LIMIT"} {
		if d := h.delivery(id, p); d.Status != "failed" || d.Code != code || d.Attempts != 1 {
			t.Errorf("resident %d: %+v, want failed with %s after one attempt", p.ID, d, code)
		}
	}
	for _, p := range []person{both, wxOnly} {
		if n := h.consents(p); n != 0 {
			t.Errorf("resident %d: 43101 left %d consents in the ledger", p.ID, n)
		}
	}
	if h.wxSentCount()+h.smsSentCount() != 0 {
		t.Error("something was accepted")
	}
	if s := h.stats(id); s.Failed != 3 || s.ByVillage["luoxi"]["failed"] != 2 {
		t.Errorf("stats: %s", statsString(s))
	}
	h.checkInvariants()
}
