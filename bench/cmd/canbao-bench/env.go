package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/configs"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/config"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/rules"
)

// The fixed secrets of the benchmark database: it is dropped at the end, so they protect nothing.
var (
	benchJWTSecret = "canbao-bench-jwt-secret-not-for-production-0123456789"
	benchPIIKey    = func() string {
		k := sha256.Sum256([]byte("canbao-bench pii key: not for production"))
		return base64.StdEncoding.EncodeToString(k[:])
	}()
)

// benchDB names the benchmark's database, and benchRedisPrefix its Redis keys: canbao_bench,
// or canbao_bench_NAME when CANBAO_BENCH_NAME=NAME (letters, digits, underscore), so that two
// benchmarks on one machine do not drop each other's database.
var benchDB, benchRedisPrefix = benchNames(os.Getenv("CANBAO_BENCH_NAME"))

func benchNames(suffix string) (db, prefix string) {
	db = "canbao_bench"
	if suffix != "" {
		if !regexp.MustCompile(`^[A-Za-z0-9_]{1,32}$`).MatchString(suffix) {
			panic("CANBAO_BENCH_NAME: letters, digits and underscores only, at most 32")
		}
		db += "_" + suffix
	}
	return db, db + ":"
}

const loopback = "127.0.0.1"

// env is what every step shares: the configuration the children run with, and the bench's
// own connections to the same MariaDB and Redis.
type env struct {
	canbao  string // path of the canbao binary
	self    string // path of this binary (for the bare servers)
	workDir string // temporary files: CSVs, logs
	dsnBase string // root@tcp(127.0.0.1:3306)/
	redis   string // 127.0.0.1:6379
	apiAddr string // 127.0.0.1:port of canbao serve

	cfg    *config.Config
	kr     *pii.Keyring
	tokens *auth.Tokens
	book   *rules.Book
	loc    *time.Location
	db     *sqlx.DB // canbao_bench
	rdb    redis.UniversalClient
}

// checkLoopback refuses any address that is not 127.0.0.1.
func checkLoopback(what, hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("%s %q: %w", what, hostport, err)
	}
	if host != loopback {
		return fmt.Errorf("%s %q: the benchmark only ever targets %s", what, hostport, loopback)
	}
	return nil
}

// dsn returns the DSN of database name (empty: none) on the bench's server.
func (e *env) dsn(name string, params ...string) string {
	s := e.dsnBase + name + "?parseTime=true"
	for _, p := range params {
		s += "&" + p
	}
	return s
}

// childEnv is the environment of every canbao child process: this process's environment
// without any CANBAO_ variable, then the bench's configuration.
func (e *env) childEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CANBAO_") {
			out = append(out, kv)
		}
	}
	return append(out,
		"CANBAO_MODE=production",
		"CANBAO_MYSQL_DSN="+e.dsn(benchDB),
		"CANBAO_REDIS_ADDR="+e.redis,
		"CANBAO_REDIS_PREFIX="+benchRedisPrefix,
		"CANBAO_JWT_SECRET="+benchJWTSecret,
		"CANBAO_JWT_STAFF_TTL=1h",
		"CANBAO_PII_KEY="+benchPIIKey,
		"CANBAO_HTTP_ADDR="+e.apiAddr,
	)
}

// load reads the children's configuration the way canbao does and builds the keyring, token
// issuer and policy book from it, so that what the bench writes and signs is what canbao reads.
func (e *env) load() error {
	childEnv := e.childEnv()
	cfg, err := config.Load(config.Options{Environ: func() []string { return childEnv }})
	if err != nil {
		return err
	}
	e.cfg = cfg
	key, err := pii.DecodeKey(cfg.PII.Key)
	if err != nil {
		return err
	}
	if e.kr, err = pii.NewKeyring(cfg.PII.KeyID, map[string][]byte{cfg.PII.KeyID: key}, cfg.PII.KeyID); err != nil {
		return err
	}
	if e.tokens, err = auth.NewTokens(cfg.JWT.Secret, cfg.JWT.Issuer, cfg.JWT.ResidentTTL, cfg.JWT.StaffTTL); err != nil {
		return err
	}
	if e.book, err = rules.Load(configs.Policy); err != nil {
		return err
	}
	e.loc = cfg.Location()
	return nil
}

// openDB connects to the bench database (after migrate created it).
func (e *env) openDB(ctx context.Context) error {
	db, err := database.Open(ctx, e.dsn(benchDB), database.Options{MaxOpenConns: 24, MaxIdleConns: 24, ConnMaxLifetime: time.Hour})
	if err != nil {
		return err
	}
	e.db = db
	return nil
}

// serverDB connects without a database, for DROP/CREATE and global settings.
func (e *env) serverDB(ctx context.Context) (*sqlx.DB, error) {
	return database.Open(ctx, e.dsn(""), database.Options{MaxOpenConns: 2})
}

// dropBenchDB drops canbao_bench, and nothing else.
func (e *env) dropBenchDB(ctx context.Context) error {
	db, err := e.serverDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+benchDB+"`")
	return err
}

// clearRedis deletes the bench's keys, and nothing else: those under its prefix, and the rate
// limiter's (redis_rate puts "rate:" before the keys it is given, so the bench's limits live
// under rate:canbao_bench:). Left behind, the per-account limits of one run met the next run's
// accounts, whose database ids repeat, and registrations got 429.
func (e *env) clearRedis(ctx context.Context) (int, error) {
	n := 0
	for _, prefix := range []string{benchRedisPrefix, "rate:" + benchRedisPrefix} {
		m, err := e.unlinkPrefix(ctx, prefix)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (e *env) unlinkPrefix(ctx context.Context, prefix string) (int, error) {
	n := 0
	iter := e.rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := e.rdb.Unlink(ctx, batch...).Err(); err != nil {
			return err
		}
		n += len(batch)
		batch = batch[:0]
		return nil
	}
	for iter.Next(ctx) {
		if !strings.HasPrefix(iter.Val(), prefix) {
			continue
		}
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

// parseDSNBase checks that a DSN names 127.0.0.1 over TCP and returns it without a database.
func parseDSNBase(dsn string) (string, error) {
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", err
	}
	if c.Net != "tcp" {
		return "", errors.New("-mysql: use tcp(127.0.0.1:3306)")
	}
	if err := checkLoopback("-mysql", c.Addr); err != nil {
		return "", err
	}
	if c.DBName != "" {
		return "", errors.New("-mysql: give the server only (root@tcp(127.0.0.1:3306)/), the bench uses its own database " + benchDB)
	}
	return strings.TrimSuffix(strings.SplitN(dsn, "?", 2)[0], "/") + "/", nil
}

// staffToken signs an admin token for the bench's staff account.
func (e *env) staffToken(ctx context.Context) (string, error) {
	var u struct {
		ID      int64 `db:"id"`
		Version int   `db:"token_version"`
	}
	if err := e.db.GetContext(ctx, &u, `SELECT id, token_version FROM staff_users WHERE username = ?`, benchAdmin); err != nil {
		return "", fmt.Errorf("bench admin account: %w", err)
	}
	tok, _, err := e.tokens.Issue(auth.Principal{Kind: auth.KindStaff, ID: u.ID, Role: auth.RoleAdmin, Version: u.Version})
	return tok, err
}

const (
	benchAdmin         = "bench-admin"
	benchAdminPassword = "Zq7!perf-run-2026-Luodong"
)
