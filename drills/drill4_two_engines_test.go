//go:build drills

package drills

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/campaigns/engine"
	"github.com/canbao/canbao/internal/auth"
)

// Drill 4: two engine instances on one campaign. Two `canbao serve` processes share the
// database and Redis; each talks to its own fake WeChat and SMS (so the drill can tell who sent
// what). Both schedulers race to start the run, both feeders and both worker pools take
// deliveries, and the drill feeds every delivery id onto the stream twice more (at-least-once
// delivery). Every person must be messaged once across both instances, both must have sent,
// and the outbox and the stats must agree.
func TestDrill4TwoEnginesOneCampaign(t *testing.T) {
	e := newEnv(t, "d4_two_engines", middayZone())
	fa, varsA := newFakes(t, "A")
	fb, varsB := newFakes(t, "B")
	for _, f := range []*fakes{fa, fb} {
		f.wechat.Delay(10 * time.Millisecond)
		f.sms.Delay(10 * time.Millisecond)
	}
	villages := []string{"puxin", "tanxi"}
	a := e.prepareAudience(villages, 60, 5)
	a.injectFailures(fa, fb)
	pa := e.serve("canbao-A", varsA)
	pb := e.serve("canbao-B", varsB)
	staff := e.staffToken(auth.RoleStaff)
	id := e.createCampaign(pa, staff, campaignSpec("演练：两个引擎同一活动", villages, 2400))
	e.scheduleCampaign(pb, staff, id) // scheduled through the other instance

	// Redis streams deliver at least once, and both instances' reconcilers re-feed what waits
	// too long: a delivery id on the stream twice must be harmless. Feed every queued id a
	// second time, in interleaved blocks of 10 (a worker reads 10 at a time), so that two
	// workers, of either instance, hold the same delivery at once and race for its claim.
	for deadline := time.Now().Add(30 * time.Second); e.count(`SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ? AND status = 'dispatching'`, id) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the run did not reach dispatching: %s", fmtCounts(e.statusCounts(id)))
		}
	}
	shards := engine.StreamKeys(e.prefix)
	ctx := context.Background()
	for _, stream := range shards {
		if typ, _ := e.rdb.Type(ctx, stream).Result(); typ != "stream" {
			t.Fatalf("DRILL: %s is a %q, not a shard of the engine's stream: the drill needs updating", stream, typ)
		}
	}
	var queued []int64
	if err := e.db.Select(&queued, `SELECT id FROM deliveries WHERE campaign_id = ? AND status = 'queued' ORDER BY id`, id); err != nil {
		t.Fatal(err)
	}
	pipe := e.rdb.Pipeline()
	for i := 0; i < len(queued); i += 10 {
		block := queued[i:min(i+10, len(queued))]
		for range 2 {
			for _, d := range block {
				pipe.XAdd(ctx, &redis.XAddArgs{Stream: shards[d%int64(len(shards))], Values: []string{"d", strconv.FormatInt(d, 10)}})
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	e.logf("fed the %d queued deliveries a second time (twice each, in interleaved blocks of 10) onto the %d shards of the stream", len(queued), len(shards))
	e.waitCampaign(id, 3*time.Minute, pa, pb)

	oc := e.checkOutbox(id, a, fa, fb)
	na, nb := fa.total(), fb.total()
	e.logf("instance A's providers accepted %d messages (WeChat %d, SMS %d), instance B's %d (WeChat %d, SMS %d); together %d = outbox sent %d + unknown-but-delivered %d",
		na, len(fa.wechat.Sent()), fa.sms.Count(), nb, len(fb.wechat.Sent()), fb.sms.Count(), na+nb, oc.byStatus["sent"], oc.unknownReachedProvider)
	if na == 0 || nb == 0 {
		t.Errorf("DRILL: one instance sent nothing (A %d, B %d): the two engines did not share the campaign", na, nb)
	}
	var leaseOwner string
	_ = e.db.Get(&leaseOwner, `SELECT COALESCE(lease_owner, '') FROM campaign_runs WHERE campaign_id = ?`, id)
	e.logf("campaign_runs: %d run(s), last lease owner %s", e.count(`SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ?`, id), leaseOwner)
	for _, p := range []*proc{pa, pb} {
		diff, s := e.compareStats(p, staff, id)
		if diff != "" {
			t.Errorf("INVARIANT: stats via %s differ from the outbox: %s", p.name, diff)
		} else {
			e.logf("stats via %s equal the SQL GROUP BY (targeted %d, sent %d, failed %d, skipped %d)", p.name, s.Targeted, s.Sent, s.Failed, sum(s.Skipped))
		}
	}
	e.stopGracefully(pa, 30*time.Second)
	e.stopGracefully(pb, 30*time.Second)
}
