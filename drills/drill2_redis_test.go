//go:build drills

package drills

import (
	"context"
	"testing"
	"time"

	"github.com/canbao/canbao/internal/auth"
)

// Drill 2: Redis flushed mid-dispatch. A WeChat-then-SMS campaign is dispatching when the
// private Redis is flushed (FLUSHDB; FLUSHALL on every master of a private cluster: the delivery
// stream, its consumer group, the rate limiter,
// the counters and the WeChat token are gone). The campaign must still complete, nobody may be
// messaged twice, and the stats the API serves must equal a GROUP BY over the outbox, both
// right after completion and after another FLUSHDB (rebuilt on read).
func TestDrill2RedisFlushedMidDispatch(t *testing.T) {
	e := newEnv(t, "d2_redis_flush", middayZone())
	f, vars := newFakes(t, "A")
	villages := []string{"jingkeng", "shanban", "xiashan"}
	a := e.prepareAudience(villages, 60, 5)
	a.injectFailures(f)
	e.logf("failures injected at the fakes: %d openids refuse the template (43101), %d phones blacklisted", len(a.refused), len(a.blacklisted))
	srv := e.serve("canbao", vars) // API and engine in one process
	staff := e.staffToken(auth.RoleStaff)
	id := e.createCampaign(srv, staff, campaignSpec("演练：发送中清空 Redis", villages, 2400))
	e.scheduleCampaign(srv, staff, id)

	// Flush once about a third of the messages are out.
	expectedSends := 0
	for _, m := range a.members {
		if st, _ := a.expected(m); st == "sent" {
			expectedSends++
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for f.total() < expectedSends/3 {
		if time.Now().After(deadline) {
			t.Fatalf("dispatch too slow: %d messages after 90s; %s\n%s", f.total(), fmtCounts(e.statusCounts(id)), tail(srv.out.String(), 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx := context.Background()
	before := e.statusCounts(id)
	keys, err := e.flushRedis(ctx) // FLUSHALL on every master of a cluster
	if err != nil {
		t.Fatal(err)
	}
	flushedAt := time.Now()
	e.logf("flushed Redis (%s) with %d keys in it, %d of ~%d messages out; outbox then: %s",
		e.redisAddr, keys, f.total(), expectedSends, fmtCounts(before))

	e.waitCampaign(id, 3*time.Minute, srv)
	e.logf("completed %s after the flush", time.Since(flushedAt).Round(100*time.Millisecond))
	e.checkOutbox(id, a, f)

	diff, s := e.compareStats(srv, staff, id)
	e.logf("stats after completion: %s", statsLine(s))
	if diff != "" {
		t.Errorf("INVARIANT: stats served after the flush and the engine's rebuild differ from the outbox: %s", diff)
	} else {
		e.logf("stats after completion equal the SQL GROUP BY over deliveries")
	}
	// Lose the cache again: the stats endpoint rebuilds it from the outbox.
	if _, err := e.flushRedis(ctx); err != nil {
		t.Fatal(err)
	}
	diff, s = e.compareStats(srv, staff, id)
	if diff != "" {
		t.Errorf("INVARIANT: stats rebuilt after a second FLUSHDB differ from the outbox: %s", diff)
	} else {
		e.logf("second flush after completion: stats rebuilt on read equal the SQL GROUP BY (targeted %d, sent %d, failed %d, skipped %v)",
			s.Targeted, s.Sent, s.Failed, s.Skipped)
	}
	e.stopGracefully(srv, 30*time.Second)
}
