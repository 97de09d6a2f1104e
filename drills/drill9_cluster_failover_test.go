//go:build drills

package drills

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Drill 9: a Redis Cluster master dies and its replica takes over, as in a production cluster.
// The drill's private cluster has 3 masters with one replica each (cluster-node-timeout 5 s).
// One canbao (API and engine) runs on it; residents register people before, during and after.
// A master is SIGKILLed; the cluster promotes its replica; later the old master is started
// again and rejoins as a replica of the new one.
//
// Then: /readyz goes red while the slots have no master and green again after the promotion,
// engine included, with nothing done to canbao (the client follows the new master); every
// registration sent meanwhile got a 201 or a 503; the 503s retried with their Idempotency-Key
// and the later registrations all get a 201; the old master comes back as a replica and
// /readyz stays green; and the database holds each person exactly once, under the receipt the
// client was given.
//
// It runs under make drills-cluster (CANBAO_DRILL_REDIS_CLUSTER=1), on a cluster of its own.
func TestDrill9ClusterFailoverToAReplica(t *testing.T) {
	if !clusterMode() {
		t.Skip("drill 9 fails a Redis Cluster master over to its replica: run it with make drills-cluster (CANBAO_DRILL_REDIS_CLUSTER=1)")
	}
	drillStart := time.Now()
	e := newEnvWithRedis(t, "d9_cluster_failover", "", func(t *testing.T, dir string) (string, redis.UniversalClient, []*redisNode) {
		nodes := startRedisClusterOf(t, dir, 3, 1)
		addrs := make([]string, len(nodes))
		for i, n := range nodes {
			addrs[i] = n.addr
		}
		return strings.Join(addrs, ","), redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs}), nodes
	})
	ctx := context.Background()
	master, replica := masterAndReplica(t, e)
	rc := redis.NewClient(&redis.Options{Addr: replica})
	t.Cleanup(func() { _ = rc.Close() })

	_, vars := newFakes(t, "A")
	o := newOutageLoad(e, e.serve("canbao", vars), "d9")

	killedAt := time.Now()
	master.kill()
	e.logf("SIGKILLed the Redis Cluster master %s; its replica is %s", master.addr, replica)
	redAfter, checks := o.waitReadiness(http.StatusServiceUnavailable, killedAt, 30*time.Second, "/readyz to go red after a master died")
	e.logf("/readyz red %s after the kill: redis %q", redAfter.Round(time.Millisecond), checks["redis"])
	if checks["redis"] == "ok" {
		t.Errorf("/readyz is red, but its redis check says ok while a master is gone: %v", checks)
	}
	during := o.registerDuring()
	e.logf("registrations sent in the %s after the kill: %s", time.Since(killedAt).Round(time.Millisecond), during)

	waitFor(t, 60*time.Second, "the replica to be promoted", func() bool {
		nodes, err := rc.ClusterNodes(ctx).Result()
		return err == nil && strings.Contains(nodes, "myself,master")
	})
	promotedAfter := time.Since(killedAt)
	greenAfter, checks := o.waitReadiness(http.StatusOK, killedAt, 60*time.Second, "/readyz to be green after the promotion")
	e.logf("replica %s promoted by %s after the kill; /readyz green %s after the kill: %v", replica,
		promotedAfter.Round(time.Millisecond), greenAfter.Round(time.Millisecond), checks)

	// The old master comes back, as a replica of the new one; canbao stays ready.
	master.restart(t)
	oc := redis.NewClient(&redis.Options{Addr: master.addr})
	t.Cleanup(func() { _ = oc.Close() })
	waitFor(t, 60*time.Second, "the old master to rejoin as a replica", func() bool {
		nodes, err := oc.ClusterNodes(ctx).Result()
		return err == nil && strings.Contains(nodes, "myself,slave")
	})
	retried, total := o.finish()
	if code, checks := o.readiness(); code != http.StatusOK {
		t.Errorf("with the old master back as a replica /readyz answered %d %v", code, checks)
	}
	e.logf("done in %s: %d people, %d stored; %d registrations retried; /readyz red %s after the kill, replica promoted by %s, green by %s",
		time.Since(drillStart).Round(time.Millisecond), len(o.ps), total, retried, redAfter.Round(time.Millisecond),
		promotedAfter.Round(time.Millisecond), greenAfter.Round(time.Millisecond))
}

// masterAndReplica finds, in CLUSTER NODES, a master of the drill's cluster and the address of
// its replica.
func masterAndReplica(t *testing.T, e *env) (*redisNode, string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: e.redisNodes[0].addr})
	defer c.Close()
	out, err := c.ClusterNodes(context.Background()).Result()
	if err != nil {
		t.Fatalf("CLUSTER NODES: %v", err)
	}
	addrOf := map[string]string{} // node id → host:port
	type line struct{ id, addr, flags, master string }
	var lines []line
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if len(f) < 4 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		addrOf[f[0]] = addr
		lines = append(lines, line{id: f[0], addr: addr, flags: f[2], master: f[3]})
	}
	for _, l := range lines {
		if !strings.Contains(l.flags, "slave") {
			continue
		}
		for _, n := range e.redisNodes {
			if n.addr == addrOf[l.master] {
				return n, l.addr
			}
		}
	}
	t.Fatalf("no master with a replica in CLUSTER NODES:\n%s", out)
	return nil, ""
}
