//go:build drills

package drills

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// Drill 7: a Redis Cluster master dies and comes back. One canbao (API and engine) runs on the
// drill's private 3-master cluster (no replicas, so a third of the slots have no home while the
// master is away). Residents register people before, during and after the outage.
//
// Then: /readyz, green before, goes red while the master is away and says how many masters do
// not answer (one PING reaches one node, which answers while another master is down, so a
// readiness that only pinged stayed green); every registration sent during the outage got a
// 201 or a 503 (never a 500, never a hang); once the master is back /readyz is green again,
// engine included; the 503s retried with their Idempotency-Key and the later registrations
// all get a 201; and the database holds each person exactly once, under the receipt the client
// was given.
//
// It needs a cluster: it runs under make drills-cluster (CANBAO_DRILL_REDIS_CLUSTER=1).
func TestDrill7DeadClusterMaster(t *testing.T) {
	if !clusterMode() {
		t.Skip("drill 7 kills a master of a Redis Cluster: run it with make drills-cluster (CANBAO_DRILL_REDIS_CLUSTER=1)")
	}
	drillStart := time.Now()
	e := newEnv(t, "d7_dead_master", "")
	_, vars := newFakes(t, "A")
	o := newOutageLoad(e, e.serve("canbao", vars), "d7")

	dead := e.redisNodes[1]
	killedAt := time.Now()
	dead.kill()
	e.logf("SIGKILLed the Redis Cluster master %s", dead.addr)
	redAfter, checks := o.waitReadiness(http.StatusServiceUnavailable, killedAt, 30*time.Second, "/readyz to go red after a master died")
	e.logf("/readyz red %s after the kill: redis %q", redAfter.Round(time.Millisecond), checks["redis"])
	if !strings.Contains(checks["redis"], "1 of 3 cluster masters do not answer") && !strings.Contains(checks["redis"], "cluster_state") {
		t.Errorf("/readyz's redis check during the outage: %q, want it to say a master does not answer", checks["redis"])
	}
	if strings.Contains(checks["redis"], dead.addr) {
		t.Errorf("the public /readyz names the node: %q", checks["redis"])
	}
	e.logf("registrations during the outage: %s", o.registerDuring())

	dead.restart(t)
	addrs := make([]string, len(e.redisNodes))
	for i, n := range e.redisNodes {
		addrs[i] = n.addr
	}
	waitClusterOK(t, addrs, 3, 60*time.Second)
	restartedAt := time.Now()
	e.logf("master %s restarted; the cluster is ok again %s after the kill", dead.addr, restartedAt.Sub(killedAt).Round(time.Millisecond))
	greenAfter, checks := o.waitReadiness(http.StatusOK, restartedAt, 60*time.Second, "/readyz to be green after the master came back")
	e.logf("/readyz green %s after the cluster was ok: %v", greenAfter.Round(time.Millisecond), checks)

	retried, total := o.finish()
	e.logf("done in %s: %d people, %d stored; %d registrations retried after the outage; /readyz red %s after the kill, green %s after the cluster was ok",
		time.Since(drillStart).Round(time.Millisecond), len(o.ps), total, retried, redAfter.Round(time.Millisecond), greenAfter.Round(time.Millisecond))
}
