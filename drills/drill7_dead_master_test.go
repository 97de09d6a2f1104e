//go:build drills

package drills

import (
	"encoding/json"
	"io"
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
	p := e.serve("canbao", vars)
	client := &http.Client{Timeout: 10 * time.Second}

	code, checks := readiness(t, client, p)
	if code != 200 || checks["redis"] != "ok" || checks["engine"] != "ok" {
		t.Fatalf("before the outage /readyz answered %d %v", code, checks)
	}

	accounts, tokens := e.residentAccounts(30, "d7")
	ps := people("d7", accounts, tokens, 3)
	before, during, after := ps[:30], ps[30:60], ps[60:]
	reg := newRegistrar(t, client, p)
	for _, p0 := range before {
		if a := reg.register(p0, 1); a.status != http.StatusCreated {
			t.Fatalf("before the outage: %s answered %d %s %s", p0.name, a.status, a.code, a.err)
		}
	}

	dead := e.redisNodes[1]
	killedAt := time.Now()
	dead.kill()
	e.logf("SIGKILLed the Redis Cluster master %s", dead.addr)
	var redAfter time.Duration
	waitFor(t, 30*time.Second, "/readyz to go red after a master died", func() bool {
		code, checks = readiness(t, client, p)
		redAfter = time.Since(killedAt)
		return code == http.StatusServiceUnavailable
	})
	e.logf("/readyz red %s after the kill: redis %q", redAfter.Round(time.Millisecond), checks["redis"])
	if !strings.Contains(checks["redis"], "1 of 3 cluster masters do not answer") && !strings.Contains(checks["redis"], "cluster_state") {
		t.Errorf("/readyz's redis check during the outage: %q, want it to say a master does not answer", checks["redis"])
	}
	if strings.Contains(checks["redis"], dead.addr) {
		t.Errorf("the public /readyz names the node: %q", checks["redis"])
	}

	var outage []attempt
	for _, p0 := range during {
		outage = append(outage, reg.register(p0, 1))
	}
	for _, a := range outage {
		if a.status != http.StatusCreated && a.status != http.StatusServiceUnavailable {
			t.Errorf("during the outage a registration answered %d %s %s (want 201 or 503)", a.status, a.code, a.err)
		}
	}
	e.logf("registrations during the outage: %s", statusHistogram(outage))

	dead.restart(t)
	addrs := make([]string, len(e.redisNodes))
	for i, n := range e.redisNodes {
		addrs[i] = n.addr
	}
	waitClusterOK(t, addrs, 3, 60*time.Second)
	restartedAt := time.Now()
	e.logf("master %s restarted; the cluster is ok again %s after the kill", dead.addr, restartedAt.Sub(killedAt).Round(time.Millisecond))
	var greenAfter time.Duration
	waitFor(t, 60*time.Second, "/readyz to be green after the master came back", func() bool {
		code, checks = readiness(t, client, p)
		greenAfter = time.Since(restartedAt)
		return code == http.StatusOK
	})
	e.logf("/readyz green %s after the cluster was ok: %v", greenAfter.Round(time.Millisecond), checks)

	retried := 0
	for i, a := range outage {
		if a.status == http.StatusCreated {
			continue
		}
		retried++
		if b := reg.register(during[i], 2); b.status != http.StatusCreated {
			t.Errorf("after the outage the retry of %s answered %d %s %s", during[i].name, b.status, b.code, b.err)
		}
	}
	for _, p0 := range after {
		if a := reg.register(p0, 1); a.status != http.StatusCreated {
			t.Errorf("after the outage: %s answered %d %s %s", p0.name, a.status, a.code, a.err)
		}
	}

	total := reg.checkStored(e, accounts, ps)
	e.logf("done in %s: %d people, %d stored; %d registrations retried after the outage; /readyz red %s after the kill, green %s after the cluster was ok",
		time.Since(drillStart).Round(time.Millisecond), len(ps), total, retried, redAfter.Round(time.Millisecond), greenAfter.Round(time.Millisecond))
}

// readiness asks p's /readyz and returns its status and checks.
func readiness(t *testing.T, c *http.Client, p *proc) (int, map[string]string) {
	t.Helper()
	resp, err := c.Get(p.url("/readyz"))
	if err != nil {
		t.Fatalf("/readyz: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("/readyz answered %d %q: %v", resp.StatusCode, b, err)
	}
	return resp.StatusCode, r.Checks
}
