//go:build drills

package drills

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Drill 8: Redis behind Sentinel loses its master. The drill's Redis is the master; a replica
// follows it and one sentinel (quorum 1) watches it. canbao (API and engine) finds the master
// through the sentinel (CANBAO_REDIS_MASTER_NAME, CANBAO_REDIS_SENTINEL_ADDRS). Residents
// register people; then the master is SIGKILLed, the sentinel promotes the replica, and they
// go on registering.
//
// Then: every registration sent while the master was gone got a 201 or a 503 (never a 500,
// never a hang); /readyz is green again after the failover, engine included, with canbao now
// on the promoted replica (its keys are written there); the 503s retried with their
// Idempotency-Key and the later registrations all get a 201; and the database holds each
// person exactly once, under the receipt the client was given.
//
// Sentinel is a single-node deployment: the drill runs under make drills, not under make
// drills-cluster.
func TestDrill8SentinelFailover(t *testing.T) {
	if clusterMode() {
		t.Skip("drill 8 is about Sentinel, which watches single nodes: it runs under make drills")
	}
	drillStart := time.Now()
	e := newEnv(t, "d8_sentinel", "")
	master := e.redisNodes[0]
	ctx := context.Background()

	replicaDir := filepath.Join(e.dir, "redis-replica")
	if err := os.MkdirAll(replicaDir, 0o755); err != nil {
		t.Fatal(err)
	}
	replica := startRedisNode(t, replicaDir, freePort(), "--replicaof", "127.0.0.1", strconv.Itoa(master.port))
	rc := redis.NewClient(&redis.Options{Addr: replica.addr})
	t.Cleanup(func() { _ = rc.Close() })
	waitFor(t, 20*time.Second, "the replica to sync with the master", func() bool {
		info, _ := rc.Info(ctx, "replication").Result()
		return strings.Contains(info, "master_link_status:up")
	})

	const masterName = "canbao"
	sentinelDir := filepath.Join(e.dir, "redis-sentinel")
	if err := os.MkdirAll(sentinelDir, 0o755); err != nil {
		t.Fatal(err)
	}
	sport := freePort()
	conf := filepath.Join(sentinelDir, "sentinel.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`port %d
bind 127.0.0.1
daemonize no
dir %s
sentinel monitor %s 127.0.0.1 %d 1
sentinel down-after-milliseconds %s 2000
sentinel failover-timeout %s 10000
`, sport, sentinelDir, masterName, master.port, masterName, masterName)), 0o644); err != nil {
		t.Fatal(err)
	}
	sentinel := startRedisProcess(t, sentinelDir, sport, []string{conf, "--sentinel"})
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinel.addr})
	t.Cleanup(func() { _ = sc.Close() })
	waitFor(t, 30*time.Second, "the sentinel to see the replica", func() bool {
		rs, _ := sc.Replicas(ctx, masterName).Result()
		return len(rs) == 1
	})

	_, vars := newFakes(t, "A")
	vars["CANBAO_REDIS_MASTER_NAME"] = masterName
	vars["CANBAO_REDIS_SENTINEL_ADDRS"] = sentinel.addr
	o := newOutageLoad(e, e.serve("canbao", vars), "d8")
	if n, _ := rc.DBSize(ctx).Result(); n == 0 {
		t.Fatal("the replica holds no key: canbao is not writing to the master it follows")
	}

	killedAt := time.Now()
	master.kill()
	e.logf("SIGKILLed the Redis master %s", master.addr)
	// Watch the sentinel while the registrations go on: when did it name the replica master?
	promoted := make(chan time.Duration, 1)
	go func() {
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			addr, err := sc.GetMasterAddrByName(ctx, masterName).Result()
			if err == nil && len(addr) == 2 && addr[1] == strconv.Itoa(replica.port) {
				promoted <- time.Since(killedAt)
				return
			}
		}
		close(promoted)
	}()
	during := o.registerDuring()
	sentFor := time.Since(killedAt)
	promotedAfter, ok := <-promoted
	if !ok {
		t.Fatalf("the sentinel did not promote the replica %s within 60 s of the kill", replica.addr)
	}
	e.logf("registrations sent in the %s after the kill: %s; the sentinel named %s master %s after the kill",
		sentFor.Round(time.Millisecond), during, replica.addr, promotedAfter.Round(time.Millisecond))
	greenAfter, _ := o.waitReadiness(http.StatusOK, killedAt, 60*time.Second, "/readyz to be green after the failover")

	keysBefore, _ := rc.DBSize(ctx).Result()
	retried, total := o.finish()
	// The registrations' rate-limit buckets are written to the master: now the promoted replica.
	if keysAfter, _ := rc.DBSize(ctx).Result(); keysAfter <= keysBefore {
		t.Errorf("the promoted replica holds %d keys after %d more registrations, %d before: canbao does not write to it", keysAfter, len(o.after), keysBefore)
	}
	e.logf("done in %s: %d people, %d stored; %d registrations retried; promoted %s and /readyz green %s after the kill",
		time.Since(drillStart).Round(time.Millisecond), len(o.ps), total, retried, promotedAfter.Round(time.Millisecond), greenAfter.Round(time.Millisecond))
}
