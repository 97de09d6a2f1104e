package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/campaigns/engine"
	"github.com/canbao/canbao/internal/platform/dbtest"
)

// TestStreamShardsSpreadOverTheCluster: the delivery stream is StreamShards streams, each with
// a hash tag of its own after the prefix; against a Redis Cluster (make test-cluster) they live
// on more than one master, and a consumer group can be created and read on each (no MOVED, no
// CROSSSLOT).
func TestStreamShardsSpreadOverTheCluster(t *testing.T) {
	rdb, prefix := dbtest.Redis(t)
	ctx := context.Background()
	keys := engine.StreamKeys(prefix)
	if len(keys) != engine.StreamShards || engine.StreamShards < 2 {
		t.Fatalf("%d shard keys, StreamShards %d", len(keys), engine.StreamShards)
	}
	tags := map[string]bool{}
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, prefix)
		i, j := strings.IndexByte(rest, '{'), strings.IndexByte(rest, '}')
		if !ok || i < 0 || j < i+2 {
			t.Fatalf("shard %q has no hash tag after the prefix", k)
		}
		tags[rest[i:j+1]] = true
	}
	if len(tags) != len(keys) {
		t.Fatalf("shards share hash tags: %v", tags)
	}
	for _, k := range keys {
		if err := rdb.XGroupCreateMkStream(ctx, k, "senders", "0").Err(); err != nil {
			t.Fatalf("XGROUP CREATE %s: %v", k, err)
		}
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: k, Values: []string{"d", "1"}}).Err(); err != nil {
			t.Fatal(err)
		}
		res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "senders", Consumer: "t", Streams: []string{k, ">"}, Count: 10, Block: -1}).Result()
		if err != nil || len(res) != 1 || len(res[0].Messages) != 1 {
			t.Fatalf("XREADGROUP %s: %v %v", k, res, err)
		}
	}
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		t.Skip("a single Redis node: the spread over masters is checked by make test-cluster")
	}
	masters := map[string]bool{}
	for _, k := range keys {
		m, err := cc.MasterForKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		masters[m.Options().Addr] = true
	}
	if len(masters) < 2 {
		t.Fatalf("all %d shards on one master: %v", len(keys), masters)
	}
	t.Logf("%d shards on %d masters", len(keys), len(masters))
}
