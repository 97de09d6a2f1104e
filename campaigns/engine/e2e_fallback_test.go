package engine_test

import (
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns"
)

var chain = []string{campaigns.ChannelWeChat, campaigns.ChannelSMS, campaigns.ChannelVisitTask}

// deliveryRow is one person's delivery in a campaign.
type deliveryRow struct {
	ID       int64  `db:"id"`
	Status   string `db:"status"`
	Reason   string `db:"skip_reason"`
	Channel  string `db:"channel"`
	Code     string `db:"error_code"`
	Attempts int    `db:"attempts"`
	MsgID    string `db:"provider_msg_id"`
}

func (h *harness) delivery(campaign int64, p person) deliveryRow {
	h.t.Helper()
	var d deliveryRow
	if err := h.env.DB.Get(&d, `SELECT id, status, COALESCE(skip_reason, '') AS skip_reason, COALESCE(channel, '') AS channel,
		COALESCE(error_code, '') AS error_code, attempts, COALESCE(provider_msg_id, '') AS provider_msg_id
		FROM deliveries WHERE campaign_id = ? AND resident_id = ?`, campaign, p.ID); err != nil {
		h.t.Fatalf("delivery of resident %d in campaign %d: %v", p.ID, campaign, err)
	}
	return d
}

// TestE2EFallbackChain: WeChat while a consent is left (spending one), else SMS, else a visit
// task; WeChat's 43101 falls through to SMS and empties the ledger; a permanent SMS error
// falls through to a visit task.
func TestE2EFallbackChain(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	wx := h.person(personSpec{Phone: true, OpenID: true, Consents: 2})
	wxNoPhone := h.person(personSpec{OpenID: true, Consents: 1, Village: "luoxi"})
	smsOnly := h.person(personSpec{Phone: true})
	nothing := h.person(personSpec{Village: "luoxi"})
	refused := h.person(personSpec{Phone: true, OpenID: true, Consents: 3})
	badPhone := h.person(personSpec{Phone: true, Village: "luoxi"})
	spent := h.person(personSpec{Phone: true, OpenID: true, Consents: 0}) // an account, no consent left
	h.person(personSpec{Phone: true, Status: "resident_pension"})         // not in the segment
	h.wx.RefuseConsent(refused.OpenID, wxTemplate)
	h.sms.FailPhone(badPhone.Phone, "isv.MOBILE_NUMBER_ILLEGAL")

	id := h.scheduled(campaignSpec{Channels: chain})
	h.start(testConfig())
	h.waitEnded(id, 20*time.Second)

	want := map[person]string{wx: "wechat", wxNoPhone: "wechat", smsOnly: "sms", nothing: "visit_task", refused: "sms",
		badPhone: "visit_task", spent: "sms"}
	for p, ch := range want {
		if d := h.delivery(id, p); d.Status != "sent" || d.Channel != ch || d.MsgID == "" {
			t.Errorf("resident %d: %+v, want sent by %s", p.ID, d, ch)
		}
	}
	if n := h.count(id, ""); n != len(want) {
		t.Errorf("targeted %d, want %d", n, len(want))
	}
	// The consent ledger: one spent per WeChat message; 43101 leaves nothing.
	for p, left := range map[person]int{wx: 1, wxNoPhone: 0, refused: 0, spent: 0} {
		if n := h.consents(p); n != left {
			t.Errorf("resident %d has %d consents left, want %d", p.ID, n, left)
		}
	}
	if d := h.delivery(id, refused); d.Attempts != 1 {
		t.Errorf("43101 then SMS took %d attempts", d.Attempts)
	}
	// What the providers received.
	if n := h.wxSentCount(); n != 2 {
		t.Errorf("WeChat accepted %d messages, want 2", n)
	}
	for _, p := range []person{smsOnly, refused, spent} {
		if n := h.sms.SentTo(p.Phone); n != 1 {
			t.Errorf("resident %d got %d SMS", p.ID, n)
		}
	}
	if n := h.sms.SentTo(wx.Phone) + h.sms.SentTo(badPhone.Phone); n != 0 {
		t.Errorf("%d SMS to people reached otherwise or refused by the provider", n)
	}
	// Visit tasks: open, for their village, from this campaign.
	for _, p := range []person{nothing, badPhone} {
		if n := h.env.Count(`SELECT COUNT(*) FROM visit_tasks WHERE resident_id = ? AND village_code = ? AND status = 'open'
			AND source = 'campaign' AND campaign_id = ? AND open_slot = resident_id`, p.ID, p.Village, id); n != 1 {
			t.Errorf("resident %d has %d open visit tasks", p.ID, n)
		}
	}
	if n := h.env.Count(`SELECT COUNT(*) FROM visit_tasks`); n != 2 {
		t.Errorf("%d visit tasks, want 2", n)
	}
	s := h.stats(id)
	if s.Sent != 7 || s.ByChannel["wechat"]["sent"] != 2 || s.ByChannel["sms"]["sent"] != 3 || s.ByChannel["visit_task"]["sent"] != 2 ||
		s.ByVillage["luoxi"]["sent"] != 3 || s.Reached != 7 {
		t.Errorf("stats: %s", statsString(s))
	}
	h.checkInvariants()
}

// TestE2ENoUsableChannelIsSkipped: with WeChat only, an account without consent is skipped
// no_consent and a person without an account no_contact; nothing is sent.
func TestE2ENoUsableChannelIsSkipped(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	noConsent := h.person(personSpec{OpenID: true, Phone: true})
	noAccount := h.person(personSpec{Phone: true})
	id := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelWeChat}})
	h.start(testConfig())
	h.waitEnded(id, 15*time.Second)
	if d := h.delivery(id, noConsent); d.Status != "skipped" || d.Reason != "no_consent" {
		t.Errorf("no consent: %+v", d)
	}
	if d := h.delivery(id, noAccount); d.Status != "skipped" || d.Reason != "no_contact" {
		t.Errorf("no account: %+v", d)
	}
	if h.wxSentCount()+h.smsSentCount() != 0 {
		t.Error("something was sent")
	}
	if s := h.stats(id); s.Skipped["no_consent"] != 1 || s.Skipped["no_contact"] != 1 || s.Sent != 0 {
		t.Errorf("stats: %s", statsString(s))
	}
	h.checkInvariants()
}
