package engine_test

import (
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/web"
)

// enroll records p as newly enrolled today, in the transaction that changes their status,
// as a confirmed registration does.
func (h *harness) enroll(p person, source int64) bool {
	h.t.Helper()
	var counted bool
	ctx := h.t.Context()
	err := database.InTx(ctx, h.env.DB, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE residents SET status = 'resident_pension', updated_at = ? WHERE id = ?`, database.Now(), p.ID); err != nil {
			return err
		}
		var err error
		counted, err = enrollment.New(h.env.Config.Location(), h.env.Config.Campaigns.AttributionDays).Record(ctx, tx, enrollment.Enrollment{ResidentID: p.ID, Village: p.Village, Scheme: "resident_pension",
			Source: enrollment.SourceRegistration, SourceID: source, Day: web.Today(time.Now(), h.env.Config.Location())})
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return counted
}

// TestE2EConversion: a person reached by SMS who enrolls within the attribution window counts
// as that campaign's conversion, for its channel and village; one reached 40 days before
// enrolling does not.
func TestE2EConversion(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	recent := h.person(personSpec{Phone: true, Village: "luoxi"})
	old := h.person(personSpec{Phone: true, Village: "zhenxing"})
	h.person(personSpec{Phone: true, Village: "zhenxing"}) // reached, never enrolls
	id := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}})
	h.start(testConfig())
	h.waitEnded(id, 15*time.Second)
	if n := h.count(id, "sent"); n != 3 {
		t.Fatalf("%d sent", n)
	}
	// The old one was reached 40 days ago.
	h.env.Exec(`UPDATE deliveries SET sent_at = sent_at - INTERVAL 40 DAY WHERE campaign_id = ? AND resident_id = ?`, id, old.ID)
	if err := h.env.Server.Counters.Rebuild(t.Context(), id); err != nil { // the outbox was changed behind the engine
		t.Fatal(err)
	}
	if !h.enroll(recent, 1) || !h.enroll(old, 2) {
		t.Fatal("the enrollments did not count")
	}
	var conv []struct {
		Resident int64  `db:"resident_id"`
		Campaign int64  `db:"campaign_id"`
		Channel  string `db:"channel"`
		Village  string `db:"village_code"`
		Delivery int64  `db:"delivery_id"`
	}
	if err := h.env.DB.Select(&conv, `SELECT resident_id, campaign_id, channel, village_code, delivery_id FROM conversions`); err != nil {
		t.Fatal(err)
	}
	if len(conv) != 1 || conv[0].Resident != recent.ID || conv[0].Campaign != id || conv[0].Channel != "sms" || conv[0].Village != "luoxi" ||
		conv[0].Delivery != h.delivery(id, recent).ID {
		t.Fatalf("conversions: %+v", conv)
	}
	s := h.stats(id)
	if s.Converted != 1 || s.ByChannel["sms"]["converted"] != 1 || s.ByVillage["luoxi"]["converted"] != 1 || s.ByVillage["zhenxing"]["converted"] != 0 {
		t.Errorf("stats: %s", statsString(s))
	}
	h.checkInvariants()
}
