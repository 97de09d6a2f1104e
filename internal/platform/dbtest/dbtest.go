// Package dbtest gives each test its own freshly migrated MariaDB database and its own Redis
// key prefix, on the real services of the machine, dropped when the test ends.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/internal/platform/database"
)

// ServerDSN is the MySQL server tests use, without a database name.
func ServerDSN() string {
	if dsn := os.Getenv("CANBAO_TEST_MYSQL_DSN"); dsn != "" {
		return dsn
	}
	return "root@tcp(127.0.0.1:3306)/"
}

// RedisAddr is the single Redis server tests use when no cluster is given.
func RedisAddr() string {
	if a := os.Getenv("CANBAO_TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// RedisClusterAddrs is the Redis Cluster tests use instead of the single server when
// CANBAO_TEST_REDIS_ADDRS lists its nodes ("127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003",
// what deployments/scripts/redis-cluster.sh starts); nil when it is not set.
func RedisClusterAddrs() []string {
	var out []string
	for _, a := range strings.Split(os.Getenv("CANBAO_TEST_REDIS_ADDRS"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// RedisCluster reports whether the tests run against a Redis Cluster.
func RedisCluster() bool { return len(RedisClusterAddrs()) > 0 }

// NewRedisClient connects to the tests' Redis: a cluster client when CANBAO_TEST_REDIS_ADDRS
// is set, a single-node client otherwise.
func NewRedisClient() redis.UniversalClient {
	if addrs := RedisClusterAddrs(); len(addrs) > 0 {
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, DialTimeout: 2 * time.Second})
	}
	return redis.NewClient(&redis.Options{Addr: RedisAddr(), DialTimeout: 2 * time.Second})
}

// RedisConfigAddr is the tests' Redis as CANBAO_REDIS_ADDR takes it: the single address, or
// the cluster's comma-separated list.
func RedisConfigAddr() string {
	if addrs := RedisClusterAddrs(); len(addrs) > 0 {
		return strings.Join(addrs, ",")
	}
	return RedisAddr()
}

// RedisDescription names the tests' Redis for messages.
func RedisDescription() string {
	if addrs := RedisClusterAddrs(); len(addrs) > 0 {
		return "the Redis Cluster at " + strings.Join(addrs, ",")
	}
	return "Redis at " + RedisAddr()
}

// Keys lists the keys matching pattern, on every master of a cluster (SCAN, not KEYS).
func Keys(ctx context.Context, rdb redis.UniversalClient, pattern string) ([]string, error) {
	var mu sync.Mutex
	var out []string
	scan := func(ctx context.Context, c *redis.Client) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
			if err != nil {
				return err
			}
			mu.Lock()
			out = append(out, keys...)
			mu.Unlock()
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	var err error
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *redis.Client:
		err = scan(ctx, c)
	default:
		err = fmt.Errorf("dbtest: unsupported Redis client %T", rdb)
	}
	sort.Strings(out)
	return out, err
}

// DeleteKeys deletes the keys matching pattern on every master, one key per command (a
// multi-key DEL would be CROSSSLOT in a cluster), and returns how many it deleted.
func DeleteKeys(ctx context.Context, rdb redis.UniversalClient, pattern string) (int, error) {
	keys, err := Keys(ctx, rdb, pattern)
	if err != nil || len(keys) == 0 {
		return 0, err
	}
	pipe := rdb.Pipeline()
	for _, k := range keys {
		pipe.Del(ctx, k)
	}
	_, err = pipe.Exec(ctx)
	return len(keys), err
}

func suffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// DSN returns a DSN for a new, empty database that is dropped at cleanup.
func DSN(t testing.TB) string {
	t.Helper()
	name := "canbao_t_" + suffix()
	base := strings.TrimSuffix(ServerDSN(), "/")
	i := strings.LastIndex(base, "/")
	if i >= 0 && strings.Contains(base[:i], "@") {
		base = base[:i]
	}
	dsn := base + "/" + name + "?parseTime=true"
	ctx := context.Background()
	if err := database.EnsureDatabase(ctx, dsn); err != nil {
		t.Fatalf("dbtest: create database (is MariaDB running? run `make services`): %v", err)
	}
	t.Cleanup(func() {
		db, err := database.Open(context.Background(), base+"/?parseTime=true", database.Options{})
		if err != nil {
			t.Logf("dbtest: cleanup: %v", err)
			return
		}
		defer db.Close()
		if _, err := db.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
			t.Logf("dbtest: drop %s: %v", name, err)
		}
	})
	return dsn
}

// New returns a connection to a new, migrated database of its own.
//
// The first database of a test process is migrated for real (database.Migrate); its schema
// and the rows the migrations left (goose's version table) are then kept in memory, and
// later databases of the process are made from that copy: the same CREATE TABLE statements,
// the same rows. That is the schema the migrations give, without their ALTER TABLEs and
// without the server-wide migration lock every test of every package would otherwise queue
// on (TestCloneEqualsMigrate checks that both ways give the same database).
func New(t testing.TB) *sqlx.DB {
	t.Helper()
	db, dsn := open(t)
	ctx := context.Background()
	if s := migrated.Load(); s != nil {
		if err := s.apply(ctx, dsn); err != nil {
			t.Fatalf("dbtest: copy the migrated schema: %v", err)
		}
		return db
	}
	if err := database.Migrate(ctx, db, nil); err != nil {
		t.Fatalf("dbtest: migrate: %v", err)
	}
	if migrated.Load() == nil {
		s, err := takeSnapshot(ctx, db)
		if err != nil {
			t.Fatalf("dbtest: read the migrated schema: %v", err)
		}
		migrated.CompareAndSwap(nil, s)
	}
	return db
}

// NewMigrated is New that always runs the migrations, for tests of the copy itself.
func NewMigrated(t testing.TB) *sqlx.DB {
	t.Helper()
	db, _ := open(t)
	if err := database.Migrate(context.Background(), db, nil); err != nil {
		t.Fatalf("dbtest: migrate: %v", err)
	}
	return db
}

// open connects to a new, empty database of the test's own (dropped at cleanup).
func open(t testing.TB) (*sqlx.DB, string) {
	t.Helper()
	dsn := DSN(t)
	db, err := database.Open(context.Background(), dsn, database.Options{MaxOpenConns: 16, MaxIdleConns: 16})
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, dsn
}

// Redis returns a client and a key prefix of the test's own; keys under the prefix are
// deleted at cleanup. The client is a cluster client when CANBAO_TEST_REDIS_ADDRS is set.
func Redis(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	rdb := NewRedisClient()
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("dbtest: %s (is it running? run `make services`, or deployments/scripts/redis-cluster.sh start): %v", RedisDescription(), err)
	}
	prefix := "canbao_t_" + suffix() + ":"
	t.Cleanup(func() {
		defer rdb.Close()
		if _, err := DeleteKeys(context.Background(), rdb, prefix+"*"); err != nil {
			t.Logf("dbtest: redis cleanup: %v", err)
		}
	})
	return rdb, prefix
}
