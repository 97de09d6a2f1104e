//go:build drills

package drills

import (
	"syscall"
	"testing"
	"time"

	"github.com/canbao/canbao/internal/auth"
)

// Drill 3: the engine SIGKILLed mid-batch and restarted. The providers answer slowly (40 ms),
// so sends are in flight when the process is killed. The deliveries it left in `sending` must
// not be resent: after their lease (15 s in the drills: CANBAO_CAMPAIGNS_LEASE) they become `unknown`. At
// the end sent + failed + skipped + unknown = targeted, and no openid or phone received two
// messages, counted at the fake WeChat and SMS servers.
func TestDrill3EngineSIGKILLMidBatch(t *testing.T) {
	e := newEnv(t, "d3_engine_sigkill", middayZone())
	f, vars := newFakes(t, "A")
	f.wechat.Delay(40 * time.Millisecond)
	f.sms.Delay(40 * time.Millisecond)
	villages := []string{"caicuo", "gaotang"}
	a := e.prepareAudience(villages, 60, 5)
	a.injectFailures(f)
	first := e.serve("canbao-1", vars)
	staff := e.staffToken(auth.RoleStaff)
	id := e.createCampaign(first, staff, campaignSpec("演练：发送中强杀引擎", villages, 6000))
	e.scheduleCampaign(first, staff, id)

	expectedSends := 0
	for _, m := range a.members {
		if st, _ := a.expected(m); st == "sent" {
			expectedSends++
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for f.total() < expectedSends*3/10 {
		if time.Now().After(deadline) {
			t.Fatalf("dispatch too slow: %d messages after 90s: %s", f.total(), fmtCounts(e.statusCounts(id)))
		}
		time.Sleep(5 * time.Millisecond)
	}
	first.signal(syscall.SIGKILL)
	killedAt := time.Now()
	if !first.wait(10 * time.Second) {
		t.Fatal("canbao-1 did not die of SIGKILL")
	}
	atKill := e.statusCounts(id)
	msgsAtKill := f.total()
	e.logf("SIGKILL canbao-1 with %d of ~%d messages out (exit status %v); outbox left behind: %s",
		msgsAtKill, expectedSends, first.state, fmtCounts(atKill))
	if atKill["sending"] == 0 {
		t.Logf("DRILL: nothing was in flight at the kill (no delivery in sending): the kill missed the batch")
	}

	second := e.serve("canbao-2", vars)
	e.waitCampaign(id, 4*time.Minute, second)
	e.logf("completed %s after the kill (the stuck sends wait out their 15-second lease)", time.Since(killedAt).Round(100*time.Millisecond))
	oc := e.checkOutbox(id, a, f)
	if oc.byStatus["unknown"] != atKill["sending"] {
		t.Errorf("INVARIANT: %d deliveries were in sending at the kill, %d ended unknown: a stuck send was resent or lost",
			atKill["sending"], oc.byStatus["unknown"])
	} else {
		e.logf("the %d deliveries in sending at the kill all ended unknown, none resent (%d of them had reached a provider)",
			atKill["sending"], oc.unknownReachedProvider)
	}
	diff, s := e.compareStats(second, staff, id)
	e.logf("stats: %s", statsLine(s))
	if diff != "" {
		t.Errorf("INVARIANT: stats differ from the outbox after the restart: %s", diff)
	}
	if s.Sent+s.Failed+s.Unknown+sum(s.Skipped) != s.Targeted {
		t.Errorf("INVARIANT: stats say sent %d + failed %d + skipped %d + unknown %d != targeted %d",
			s.Sent, s.Failed, sum(s.Skipped), s.Unknown, s.Targeted)
	}
	e.stopGracefully(second, 30*time.Second)
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
