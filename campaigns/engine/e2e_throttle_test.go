package engine_test

import (
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns"
)

// TestE2EFrequencyCapAcrossCampaigns: two campaigns for the same people, each capped at one
// message per 7 days: everyone gets exactly one message in total; their other delivery is
// skipped frequency_cap.
func TestE2EFrequencyCapAcrossCampaigns(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.people(12, personSpec{Phone: true})
	cp := &[2]int{1, 7}
	a := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}, Cap: cp})
	b := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}, Cap: cp})
	h.start(testConfig())
	h.waitEnded(a, 20*time.Second)
	h.waitEnded(b, 20*time.Second)

	for _, p := range ps {
		if n := h.sms.SentTo(p.Phone); n != 1 {
			t.Errorf("resident %d got %d SMS", p.ID, n)
		}
		da, db := h.delivery(a, p), h.delivery(b, p)
		sent, capped := da, db
		if db.Status == "sent" {
			sent, capped = db, da
		}
		if sent.Status != "sent" || capped.Status != "skipped" || capped.Reason != "frequency_cap" {
			t.Errorf("resident %d: %+v and %+v, want one sent and one skipped frequency_cap", p.ID, da, db)
		}
	}
	sa, sb := h.stats(a), h.stats(b)
	if sa.Sent+sb.Sent != int64(len(ps)) || sa.Skipped["frequency_cap"]+sb.Skipped["frequency_cap"] != int64(len(ps)) {
		t.Errorf("stats:\n  %s\n  %s", statsString(sa), statsString(sb))
	}
	h.checkInvariants()
}

// TestE2EFrequencyCapCountsEarlierMessages: a message of an earlier, uncapped campaign counts
// against a later campaign's cap; one older than the cap's period does not.
func TestE2EFrequencyCapCountsEarlierMessages(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	recent, old := h.person(personSpec{Phone: true}), h.person(personSpec{Phone: true})
	first := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}})
	stop := h.start(testConfig())
	h.waitEnded(first, 15*time.Second)
	stop()
	// The old one was reached eight days ago.
	h.env.Exec(`UPDATE deliveries SET sent_at = sent_at - INTERVAL 8 DAY WHERE campaign_id = ? AND resident_id = ?`, first, old.ID)
	if err := h.env.Server.Counters.Rebuild(t.Context(), first); err != nil { // the outbox was changed behind the engine
		t.Fatal(err)
	}
	second := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}, Cap: &[2]int{1, 7}})
	h.start(testConfig())
	h.waitEnded(second, 15*time.Second)
	if d := h.delivery(second, recent); d.Status != "skipped" || d.Reason != "frequency_cap" {
		t.Errorf("reached yesterday: %+v", d)
	}
	if d := h.delivery(second, old); d.Status != "sent" {
		t.Errorf("reached eight days ago: %+v", d)
	}
	h.checkInvariants()
}

// TestE2ERemindersBecomeVisitTask: with K = 2, a person sent two reminders (two campaigns)
// without enrolling gets an open visit task; someone reminded once does not.
func TestE2ERemindersBecomeVisitTask(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	twice := h.person(personSpec{Village: "zhenxing"})
	once := h.person(personSpec{Village: "luoxi"})
	cfg := testConfig()
	cfg.RemindersForVisit = 2
	first := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelLog}})
	h.start(cfg)
	h.waitEnded(first, 15*time.Second)
	if n := h.env.Count(`SELECT COUNT(*) FROM visit_tasks`); n != 0 {
		t.Fatalf("%d visit tasks after one reminder", n)
	}
	second := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelLog}, Segment: map[string]any{"villages": []string{"zhenxing"}}})
	h.waitEnded(second, 15*time.Second)
	if d := h.delivery(second, twice); d.Status != "sent" || d.Channel != "log" {
		t.Fatalf("second reminder: %+v", d)
	}
	h.waitFor("the visit task", 5*time.Second, func() bool {
		return h.env.Count(`SELECT COUNT(*) FROM visit_tasks WHERE resident_id = ? AND status = 'open' AND source = 'campaign'`, twice.ID) == 1
	})
	if n := h.env.Count(`SELECT COUNT(*) FROM visit_tasks WHERE resident_id = ?`, once.ID); n != 0 {
		t.Errorf("a person reminded once has %d visit tasks", n)
	}
	h.checkInvariants()
}
