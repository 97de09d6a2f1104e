package config

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func environ(kv ...string) func() []string { return func() []string { return kv } }

var (
	goodJWT = strings.Repeat("j", 40)
	goodPII = base64.StdEncoding.EncodeToString(make([]byte, 32))
)

func TestDefaultsAndEnvOverrides(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Load(Options{Environ: environ(
		"CANBAO_DEV_SECRETS_FILE="+filepath.Join(dir, "s.yaml"),
		"CANBAO_HTTP_ADDR=0.0.0.0:9999",
		"CANBAO_MYSQL_DSN=u@tcp(db:3306)/x?parseTime=true",
		"CANBAO_REDIS_DB=3",
		"CANBAO_JWT_STAFF_TTL=20m",
		"CANBAO_WECHAT_API_BASE=http://127.0.0.1:1",
		"UNRELATED=1",
	)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != "0.0.0.0:9999" || cfg.MySQL.DSN != "u@tcp(db:3306)/x?parseTime=true" || cfg.Redis.DB != 3 {
		t.Fatalf("env not applied: %+v %+v %+v", cfg.HTTP, cfg.MySQL, cfg.Redis)
	}
	if cfg.JWT.StaffTTL != 20*time.Minute || cfg.WeChat.APIBase != "http://127.0.0.1:1" {
		t.Fatalf("env not applied: %+v %+v", cfg.JWT, cfg.WeChat)
	}
	if cfg.JWT.ResidentTTL != 2*time.Hour || cfg.Redis.Addr != "127.0.0.1:6379" || cfg.Business.Timezone != "Asia/Shanghai" {
		t.Fatalf("defaults wrong: %+v", cfg)
	}
	if cfg.Location().String() != "Asia/Shanghai" {
		t.Fatalf("location: %v", cfg.Location())
	}
}

func TestDevModeGeneratesSecretsOnceAndKeepsThem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dev-secrets.yaml")
	env := environ("CANBAO_DEV_SECRETS_FILE=" + path)
	a, err := Load(Options{Environ: env})
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file mode %v, want 0600", st.Mode().Perm())
	}
	b, err := Load(Options{Environ: env})
	if err != nil {
		t.Fatal(err)
	}
	if a.JWT.Secret == "" || a.JWT.Secret != b.JWT.Secret || a.PII.Key != b.PII.Key {
		t.Fatal("dev secrets must be generated once and reused")
	}
	s, err := LoadDevSecrets(path)
	if err != nil || len(s.DemoPassword) < 10 {
		t.Fatalf("demo password: %q %v", s.DemoPassword, err)
	}
}

func TestProductionRefusesMissingSecretsAndSaysWhich(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		env     []string
		missing []string
		ok      bool
	}{
		{"both missing", nil, []string{"CANBAO_JWT_SECRET", "CANBAO_PII_KEY"}, false},
		{"jwt missing", []string{"CANBAO_PII_KEY=" + goodPII}, []string{"CANBAO_JWT_SECRET"}, false},
		{"pii missing", []string{"CANBAO_JWT_SECRET=" + goodJWT}, []string{"CANBAO_PII_KEY"}, false},
		{"short jwt", []string{"CANBAO_JWT_SECRET=short", "CANBAO_PII_KEY=" + goodPII}, []string{"at least 32 bytes"}, false},
		{"pii not 32 bytes", []string{"CANBAO_JWT_SECRET=" + goodJWT, "CANBAO_PII_KEY=" + base64.StdEncoding.EncodeToString([]byte("short"))}, []string{"must be 32 bytes"}, false},
		{"complete", []string{"CANBAO_JWT_SECRET=" + goodJWT, "CANBAO_PII_KEY=" + goodPII}, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			secrets := filepath.Join(dir, tc.name+".yaml")
			env := append([]string{"CANBAO_MODE=production", "CANBAO_DEV_SECRETS_FILE=" + secrets}, tc.env...)
			_, err := Load(Options{Environ: environ(env...)})
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				if err == nil {
					t.Fatal("expected an error")
				}
				for _, m := range tc.missing {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q does not mention %s", err, m)
					}
				}
			}
			if _, err := os.Stat(secrets); !os.IsNotExist(err) {
				t.Error("production mode must never write a dev secrets file")
			}
		})
	}
}

func TestBadConfigurationIsRejected(t *testing.T) {
	base := []string{"CANBAO_MODE=production", "CANBAO_JWT_SECRET=" + goodJWT, "CANBAO_PII_KEY=" + goodPII}
	cases := map[string]string{
		"mode":            "CANBAO_MODE=staging",
		"timezone":        "CANBAO_BUSINESS_TIMEZONE=Mars/Olympus",
		"duration":        "CANBAO_JWT_STAFF_TTL=soon",
		"ttl too long":    "CANBAO_JWT_STAFF_TTL=5h",
		"proxy":           "CANBAO_HTTP_TRUSTED_PROXIES=not-an-ip",
		"empty addr":      "CANBAO_HTTP_ADDR=",
		"wechat timeout":  "CANBAO_WECHAT_TIMEOUT=1m",
		"redis db number": "CANBAO_REDIS_DB=zero",
	}
	for name, kv := range cases {
		t.Run(name, func(t *testing.T) {
			env := append(append([]string{}, base...), kv)
			if _, err := Load(Options{Environ: environ(env...)}); err == nil {
				t.Fatalf("%s accepted", kv)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		if _, err := Load(Options{File: filepath.Join(t.TempDir(), "nope.yaml"), Environ: environ(base...)}); err == nil {
			t.Fatal("a missing --config file must be an error")
		}
	})
	t.Run("file then env", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(f, []byte("http:\n  addr: 127.0.0.1:7000\nredis:\n  prefix: \"x:\"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(Options{File: f, Environ: environ(append(base, "CANBAO_HTTP_ADDR=127.0.0.1:7001")...)})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.HTTP.Addr != "127.0.0.1:7001" || cfg.Redis.Prefix != "x:" {
			t.Fatalf("precedence wrong: %s %s", cfg.HTTP.Addr, cfg.Redis.Prefix)
		}
	})
}

// TestEngineHealthAndLeaseSettings: when /readyz calls an engine loop failing or silent, and
// how long the scheduler's tick lease lasts, are settings with defaults (3 rounds, 5 minutes,
// 5 s) and environment overrides; values the engine cannot work with are refused.
func TestEngineHealthAndLeaseSettings(t *testing.T) {
	base := []string{"CANBAO_MODE=production", "CANBAO_JWT_SECRET=" + goodJWT, "CANBAO_PII_KEY=" + goodPII}
	cfg, err := Load(Options{Environ: environ(base...)})
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Campaigns; c.HealthFailAfter != 3 || c.HealthSilentAfter != 5*time.Minute || c.ScheduleLease != 5*time.Second {
		t.Fatalf("defaults: fail after %d, silent after %s, schedule lease %s", c.HealthFailAfter, c.HealthSilentAfter, c.ScheduleLease)
	}
	cfg, err = Load(Options{Environ: environ(append(base, "CANBAO_CAMPAIGNS_HEALTH_FAIL_AFTER=5",
		"CANBAO_CAMPAIGNS_HEALTH_SILENT_AFTER=90s", "CANBAO_CAMPAIGNS_SCHEDULE_LEASE=10s")...)})
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Campaigns; c.HealthFailAfter != 5 || c.HealthSilentAfter != 90*time.Second || c.ScheduleLease != 10*time.Second {
		t.Fatalf("overrides: fail after %d, silent after %s, schedule lease %s", c.HealthFailAfter, c.HealthSilentAfter, c.ScheduleLease)
	}
	for _, kv := range []string{"CANBAO_CAMPAIGNS_HEALTH_FAIL_AFTER=0", "CANBAO_CAMPAIGNS_HEALTH_FAIL_AFTER=many",
		"CANBAO_CAMPAIGNS_HEALTH_SILENT_AFTER=1s", "CANBAO_CAMPAIGNS_SCHEDULE_LEASE=1s", "CANBAO_CAMPAIGNS_SCHEDULE_LEASE=1h"} {
		if _, err := Load(Options{Environ: environ(append(base, kv)...)}); err == nil {
			t.Errorf("%s accepted", kv)
		}
	}
}

// TestChannelRates: the SMS and WeChat send limits have defaults and environment overrides;
// log and visit_task are not throttled; the old campaign-wide default rate is refused.
func TestChannelRates(t *testing.T) {
	dir := t.TempDir()
	base := []string{"CANBAO_DEV_SECRETS_FILE=" + filepath.Join(dir, "s.yaml")}
	cfg, err := Load(Options{Environ: environ(base...)})
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Campaigns.ChannelRates()
	if r["sms"] != 3000 || r["wechat"] != 6000 || r["log"] != 0 || r["visit_task"] != 0 {
		t.Fatalf("default channel rates: %v", r)
	}
	cfg, err = Load(Options{Environ: environ(append(base, "CANBAO_CAMPAIGNS_SMS_RATE_PER_MINUTE=1200", "CANBAO_CAMPAIGNS_WECHAT_RATE_PER_MINUTE=90")...)})
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Campaigns.ChannelRates(); r["sms"] != 1200 || r["wechat"] != 90 {
		t.Fatalf("env not applied: %v", r)
	}
	for _, kv := range []string{"CANBAO_CAMPAIGNS_SMS_RATE_PER_MINUTE=0", "CANBAO_CAMPAIGNS_DEFAULT_RATE_PER_MINUTE=600"} {
		if _, err := Load(Options{Environ: environ(append(base, kv)...)}); err == nil {
			t.Errorf("%s accepted", kv)
		}
	}
}

// TestRedisDeployments: CANBAO_REDIS_ADDR takes one node or a cluster's list; a master name
// with sentinels means Sentinel; a database other than 0 is refused for a cluster, with a
// message that says why; a prefix with a hash tag brace is refused.
func TestRedisDeployments(t *testing.T) {
	base := []string{"CANBAO_MODE=production", "CANBAO_JWT_SECRET=" + goodJWT, "CANBAO_PII_KEY=" + goodPII}
	load := func(kv ...string) (*Config, error) {
		return Load(Options{Environ: environ(append(append([]string{}, base...), kv...)...)})
	}
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Redis.Kind() != RedisSingle || len(cfg.Redis.Addrs()) != 1 {
		t.Fatalf("default: kind %s, addrs %v", cfg.Redis.Kind(), cfg.Redis.Addrs())
	}
	cfg, err = load("CANBAO_REDIS_ADDR=10.0.0.1:7001, 10.0.0.2:7001,10.0.0.3:7001")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Redis.Kind() != RedisCluster || strings.Join(cfg.Redis.Addrs(), " ") != "10.0.0.1:7001 10.0.0.2:7001 10.0.0.3:7001" {
		t.Fatalf("list: kind %s, addrs %q", cfg.Redis.Kind(), cfg.Redis.Addrs())
	}
	if _, ok := cfg.Redis.Client(0, 0, 0).(*redis.ClusterClient); !ok {
		t.Fatal("a list must give a cluster client")
	}
	cfg, err = load("CANBAO_REDIS_ADDR=10.0.0.1:7001", "CANBAO_REDIS_CLUSTER=true")
	if err != nil || cfg.Redis.Kind() != RedisCluster {
		t.Fatalf("one seed node with redis.cluster: %v %+v", err, cfg)
	}
	cfg, err = load("CANBAO_REDIS_MASTER_NAME=mymaster", "CANBAO_REDIS_SENTINEL_ADDRS=10.0.0.1:26379,10.0.0.2:26379", "CANBAO_REDIS_DB=2")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Redis.Kind() != RedisSentinel || !strings.Contains(cfg.Redis.Describe(), "mymaster") {
		t.Fatalf("sentinel: kind %s (%s)", cfg.Redis.Kind(), cfg.Redis.Describe())
	}
	if _, ok := cfg.Redis.Client(0, 0, 0).(*redis.Client); !ok { // NewFailoverClient gives a *redis.Client
		t.Fatal("sentinel must give a failover client")
	}

	for name, tc := range map[string]struct {
		env  []string
		want string
	}{
		"cluster with db 3":      {[]string{"CANBAO_REDIS_ADDR=10.0.0.1:7001,10.0.0.2:7001", "CANBAO_REDIS_DB=3"}, "a cluster has only database 0"},
		"seed node with db 1":    {[]string{"CANBAO_REDIS_CLUSTER=true", "CANBAO_REDIS_DB=1"}, "redis.db (CANBAO_REDIS_DB) is 1"},
		"sentinel without nodes": {[]string{"CANBAO_REDIS_MASTER_NAME=mymaster"}, "redis.sentinel_addrs"},
		"empty addr":             {[]string{"CANBAO_REDIS_ADDR= , "}, "redis.addr (CANBAO_REDIS_ADDR) must not be empty"},
		"prefix with a hash tag": {[]string{"CANBAO_REDIS_PREFIX={canbao}:"}, "must not contain { or }"},
		"negative database":      {[]string{"CANBAO_REDIS_DB=-1"}, "must not be negative"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := load(tc.env...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v: got %v, want an error saying %q", tc.env, err, tc.want)
			}
		})
	}
}
