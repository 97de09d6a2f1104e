package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/internal/server/servertest"
)

// closedWindow returns a daily window (minutes after midnight, Asia/Shanghai) at least an hour
// away from now on both sides, and when it next opens.
func closedWindow(loc *time.Location) (from, to int, opens time.Time) {
	now := time.Now().In(loc)
	mins := now.Hour()*60 + now.Minute()
	if mins < 720 {
		from, to = mins+60, mins+120
		return from, to, time.Date(now.Year(), now.Month(), now.Day(), from/60, from%60, 0, 0, loc)
	}
	from, to = mins-180, mins-60
	return from, to, time.Date(now.Year(), now.Month(), now.Day()+1, from/60, from%60, 0, 0, loc)
}

func hhmm(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// notBefore is when each of a campaign's waiting deliveries may go out.
func (h *harness) notBefore(campaign int64) []time.Time {
	h.t.Helper()
	var out []time.Time
	if err := h.env.DB.Select(&out, `SELECT not_before FROM deliveries WHERE campaign_id = ? AND not_before IS NOT NULL ORDER BY id`, campaign); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// waitingStats is the waiting block of the stats endpoint.
type waitingStats struct {
	ForWindow int64      `json:"waiting_for_window"`
	ForRetry  int64      `json:"waiting_for_retry"`
	Until     *time.Time `json:"until"`
}

// waiting reads what the stats endpoint says is waiting; the until it answers is in Asia/Shanghai.
func (h *harness) waiting(id int64) waitingStats {
	h.t.Helper()
	w := h.env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/campaigns/" + itoa(id) + "/stats", Token: h.staff})
	var s struct {
		Waiting *waitingStats `json:"waiting"`
	}
	w.JSON(h.t, &s)
	if s.Waiting == nil {
		h.t.Fatalf("stats without a waiting block: %s", w.Body)
	}
	if s.Waiting.Until != nil {
		if _, off := s.Waiting.Until.Zone(); off != 8*3600 {
			h.t.Errorf("until %s is not in Asia/Shanghai", s.Waiting.Until)
		}
	}
	return *s.Waiting
}

// TestE2ESendWindow: outside the campaign's window deliveries wait, queued, until the window
// next opens (not_before is exactly that moment, Asia/Shanghai) and nothing is sent; a
// campaign that ends before its next window skips them as quiet_hours.
func TestE2ESendWindow(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	loc := h.env.Config.Location()
	from, to, opens := closedWindow(loc)
	waiting := h.people(3, personSpec{Phone: true, Village: "zhenxing"})
	h.people(2, personSpec{Phone: true, Village: "luoxi"})

	later := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}, Window: [2]string{hhmm(from), hhmm(to)},
		Segment: map[string]any{"villages": []string{"zhenxing"}}})
	end := time.Now().Add(30 * time.Minute)
	ending := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}, Window: [2]string{hhmm(from), hhmm(to)},
		Segment: map[string]any{"villages": []string{"luoxi"}}, End: &end})
	h.start(testConfig())

	h.waitFor("the deliveries to wait for the window", 15*time.Second, func() bool {
		return h.env.Count(`SELECT COUNT(*) FROM deliveries WHERE campaign_id = ? AND status = 'queued' AND not_before IS NOT NULL`, later) == len(waiting)
	})
	for _, nb := range h.notBefore(later) {
		if !nb.Equal(opens) {
			t.Errorf("not_before %s, want %s (%s Asia/Shanghai)", nb.UTC(), opens.UTC(), opens.Format("2006-01-02 15:04"))
		}
	}
	h.waitEnded(ending, 15*time.Second)
	if n := h.env.Count(`SELECT COUNT(*) FROM deliveries WHERE campaign_id = ? AND status = 'skipped' AND skip_reason = 'quiet_hours'`, ending); n != 2 {
		t.Errorf("%d skipped quiet_hours, want 2\n%s", n, h.describe())
	}
	// A few reconciler rounds later, the waiting ones still wait.
	h.stays("nothing sent", 600*time.Millisecond, func() bool {
		return h.smsSentCount() == 0 && h.count(later, "queued") == len(waiting)
	})
	if s := h.status(later); s != campaigns.StatusRunning {
		t.Errorf("the waiting campaign is %s", s)
	}
	if s := h.stats(ending); s.Skipped["quiet_hours"] != 2 {
		t.Errorf("stats: %s", statsString(s))
	}
	if s := h.stats(later); s.Queued != 3 || s.Sent != 0 {
		t.Errorf("stats: %s", statsString(s))
	}
	if w := h.waiting(later); w.ForWindow != 3 || w.Until == nil || !w.Until.Equal(opens) {
		t.Errorf("stats: waiting %+v, want 3 until %s", w, opens)
	}
	if w := h.waiting(ending); w.ForWindow != 0 || w.Until != nil {
		t.Errorf("stats of the ended campaign: waiting %+v", w)
	}
	h.checkInvariants()
}

// TestE2ESMSWindow: outside the SMS hours a person whom SMS is the first channel able to reach
// waits for the SMS window, even when a visit task follows in the chain; a person without a
// phone gets the visit task at once.
func TestE2ESMSWindow(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	loc := h.env.Config.Location()
	from, to, opens := closedWindow(loc)
	withPhone := h.person(personSpec{Phone: true})
	noPhone := h.person(personSpec{})
	id := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS, campaigns.ChannelVisitTask}})
	cfg := testConfig()
	cfg.SMSWindow = [2]int{from, to}
	h.start(cfg)

	h.waitFor("the visit task", 15*time.Second, func() bool {
		return h.env.Count(`SELECT COUNT(*) FROM deliveries WHERE campaign_id = ? AND resident_id = ? AND status = 'sent'`, id, noPhone.ID) == 1
	})
	if d := h.delivery(id, noPhone); d.Channel != "visit_task" {
		t.Errorf("no phone: %+v", d)
	}
	h.waitFor("the SMS to wait for its window", 15*time.Second, func() bool {
		return h.env.Count(`SELECT COUNT(*) FROM deliveries WHERE campaign_id = ? AND resident_id = ? AND not_before IS NOT NULL`, id, withPhone.ID) == 1
	})
	var nb time.Time
	if err := h.env.DB.Get(&nb, `SELECT not_before FROM deliveries WHERE id = ?`, h.delivery(id, withPhone).ID); err != nil {
		t.Fatal(err)
	}
	if d := h.delivery(id, withPhone); d.Status != "queued" || !nb.Equal(opens) {
		t.Errorf("with a phone: %+v not_before %s, want queued until %s", d, nb, opens)
	}
	if h.smsSentCount() != 0 || h.env.Count(`SELECT COUNT(*) FROM visit_tasks WHERE resident_id = ?`, withPhone.ID) != 0 {
		t.Errorf("a person with a phone was reached outside SMS hours\n%s", h.describe())
	}
	// The stats say what waits and until when.
	if w := h.waiting(id); w.ForWindow != 1 || w.Until == nil || !w.Until.Equal(opens) {
		t.Errorf("stats: waiting %+v, want 1 until %s", w, opens)
	}
	h.checkInvariants()
}
