package engine_test

import (
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns"
)

// TestSnapshotWalksSparseIDsByKeyset: resident ids as TiDB's AUTO_RANDOM or SHARD_ROW_ID_BITS
// hand them out, spread over 2^63, not consecutive. The snapshot pages by keyset (the next
// batch of ids past its cursor), so it ends after ceil(n / batch) batches and queues everyone;
// one walking id ranges up to MAX(id) would take 2^62 / batch batches and never end.
func TestSnapshotWalksSparseIDsByKeyset(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.people(5, personSpec{})
	for i, shift := range []int64{0, 1 << 40, 1 << 52, 1 << 61, 1 << 62} {
		if shift == 0 {
			continue
		}
		h.env.Exec(`UPDATE residents SET id = id + ? WHERE id = ?`, shift, ps[i].ID)
		ps[i].ID += shift
	}
	id := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelLog}})
	cfg := testConfig()
	cfg.SnapshotBatch = 2
	h.start(cfg)
	h.waitEnded(id, 30*time.Second)
	for _, p := range ps {
		if d := h.delivery(id, p); d.Status != "sent" {
			t.Errorf("resident %d: %+v, want sent", p.ID, d)
		}
	}
	var run struct {
		Targeted int64 `db:"targeted"`
		Cursor   int64 `db:"snapshot_cursor"`
	}
	if err := h.env.DB.Get(&run, `SELECT targeted, snapshot_cursor FROM campaign_runs WHERE campaign_id = ?`, id); err != nil {
		t.Fatal(err)
	}
	if run.Targeted != int64(len(ps)) || run.Cursor != ps[4].ID {
		t.Errorf("run targeted %d with its cursor at %d; want %d and the last id %d", run.Targeted, run.Cursor, len(ps), ps[4].ID)
	}
}
