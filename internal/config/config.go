// Package config loads canbao's configuration: the embedded defaults, then an optional YAML
// file, then CANBAO_* environment variables, and checks it before anything starts.
package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"
	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/configs"
)

// Modes of operation.
const (
	ModeDev        = "dev"
	ModeProduction = "production"
)

// Config is the whole configuration, one struct per section of configs/canbao.yaml.
type Config struct {
	Mode      string    `koanf:"mode"`
	HTTP      HTTP      `koanf:"http"`
	MySQL     MySQL     `koanf:"mysql"`
	Redis     Redis     `koanf:"redis"`
	JWT       JWT       `koanf:"jwt"`
	PII       PII       `koanf:"pii"`
	WeChat    WeChat    `koanf:"wechat"`
	SMS       SMS       `koanf:"sms"`
	Auth      Auth      `koanf:"auth"`
	Campaigns Campaigns `koanf:"campaigns"`
	Events    Events    `koanf:"events"`
	Idem      Idem      `koanf:"idempotency"`
	Business  Business  `koanf:"business"`
	Dev       Dev       `koanf:"dev"`
}

// HTTP configures the API server.
type HTTP struct {
	Addr              string        `koanf:"addr"`
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout"`
	RequestTimeout    time.Duration `koanf:"request_timeout"`
	BodyTimeout       time.Duration `koanf:"body_timeout"`
	UploadBodyTimeout time.Duration `koanf:"upload_body_timeout"`
	ShutdownTimeout   time.Duration `koanf:"shutdown_timeout"`
	MaxBodyBytes      int64         `koanf:"max_body_bytes"`
	MaxUploadBytes    int64         `koanf:"max_upload_bytes"`
	TrustedProxies    string        `koanf:"trusted_proxies"`
}

// MySQL configures the database pool.
type MySQL struct {
	DSN             string        `koanf:"dsn"`
	MaxOpenConns    int           `koanf:"max_open_conns"`
	MaxIdleConns    int           `koanf:"max_idle_conns"`
	ConnMaxLifetime time.Duration `koanf:"conn_max_lifetime"`
}

// Redis configures the cache, counters and queues: one node, a Redis Cluster, or a master
// watched by Redis Sentinel.
type Redis struct {
	// Addr is one address (a single node), or a comma-separated list of a cluster's nodes
	// (any of them: the client discovers the rest).
	Addr string `koanf:"addr"`
	// Cluster makes a single address a cluster's seed node (a list is a cluster anyway).
	Cluster bool `koanf:"cluster"`
	// MasterName, with SentinelAddrs, makes the client find the master through Sentinel
	// (Addr is then not used).
	MasterName       string `koanf:"master_name"`
	SentinelAddrs    string `koanf:"sentinel_addrs"` // comma-separated host:port of the sentinels
	SentinelPassword string `koanf:"sentinel_password"`
	DB               int    `koanf:"db"` // 0 in a cluster: a cluster has only database 0
	Password         string `koanf:"password"`
	Prefix           string `koanf:"prefix"`
}

// Redis deployment kinds (Redis.Kind).
const (
	RedisSingle   = "single"
	RedisCluster  = "cluster"
	RedisSentinel = "sentinel"
)

func splitList(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// Addrs are the addresses of Addr.
func (r Redis) Addrs() []string { return splitList(r.Addr) }

// Kind says how Redis is deployed: sentinel when a master name is given, cluster when Addr
// lists more than one node (or Cluster is set), single otherwise.
func (r Redis) Kind() string {
	switch {
	case r.MasterName != "":
		return RedisSentinel
	case r.Cluster || len(r.Addrs()) > 1:
		return RedisCluster
	}
	return RedisSingle
}

// Describe names the Redis deployment for messages (no password).
func (r Redis) Describe() string {
	switch r.Kind() {
	case RedisSentinel:
		return fmt.Sprintf("Redis master %q through the sentinels at %s", r.MasterName, strings.Join(splitList(r.SentinelAddrs), ","))
	case RedisCluster:
		return "the Redis Cluster at " + strings.Join(r.Addrs(), ",")
	}
	return "Redis at " + r.Addr
}

// Client connects to Redis as configured: a *redis.Client for one node, a
// *redis.ClusterClient for a cluster, a failover client for Sentinel. Timeouts are the
// caller's (zero: go-redis's defaults).
func (r Redis) Client(dial, read, write time.Duration) redis.UniversalClient {
	switch r.Kind() {
	case RedisSentinel:
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: r.MasterName, SentinelAddrs: splitList(r.SentinelAddrs), SentinelPassword: r.SentinelPassword,
			DB: r.DB, Password: r.Password, DialTimeout: dial, ReadTimeout: read, WriteTimeout: write,
		})
	case RedisCluster:
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: r.Addrs(), Password: r.Password, DialTimeout: dial, ReadTimeout: read, WriteTimeout: write,
		})
	}
	return redis.NewClient(&redis.Options{
		Addr: r.Addr, DB: r.DB, Password: r.Password, DialTimeout: dial, ReadTimeout: read, WriteTimeout: write,
	})
}

// JWT configures access and refresh tokens.
type JWT struct {
	Secret      string        `koanf:"secret"`
	Issuer      string        `koanf:"issuer"`
	ResidentTTL time.Duration `koanf:"resident_ttl"`
	StaffTTL    time.Duration `koanf:"staff_ttl"`
	RefreshTTL  time.Duration `koanf:"refresh_ttl"`
}

// PII configures encryption of ID numbers and phones.
type PII struct {
	Key        string `koanf:"key"`
	KeyID      string `koanf:"key_id"`
	OldKeys    string `koanf:"old_keys"`
	IndexKeyID string `koanf:"index_key_id"`
}

// WeChat configures the mini-program's server-side API client.
type WeChat struct {
	APIBase string        `koanf:"api_base"`
	AppID   string        `koanf:"appid"`
	Secret  string        `koanf:"secret"`
	Timeout time.Duration `koanf:"timeout"`
	// TemplateIDs are the approved subscribe-message templates, comma-separated.
	TemplateIDs string `koanf:"template_ids"`
}

// Templates splits wechat.template_ids.
func (w WeChat) Templates() []string {
	var out []string
	for _, t := range strings.Split(w.TemplateIDs, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// SMS configures the SMS provider client.
type SMS struct {
	APIBase         string        `koanf:"api_base"`
	AccessKeyID     string        `koanf:"access_key_id"`
	AccessKeySecret string        `koanf:"access_key_secret"`
	Timeout         time.Duration `koanf:"timeout"`
}

// Auth configures staff login protection.
type Auth struct {
	LoginMaxFailures int           `koanf:"login_max_failures"`
	Lockout          time.Duration `koanf:"lockout"`
	LoginRatePerIP   int           `koanf:"login_rate_per_ip"`
}

// Idem tunes the background purge of expired Idempotency-Key records.
type Idem struct {
	PurgeInterval time.Duration `koanf:"purge_interval"`
	PurgeBatch    int           `koanf:"purge_batch"`
}

// Events configures concentrated publicity events (集中宣传).
type Events struct {
	// AttributionDays: a registration or enrollment this many days after a check-in counts for
	// the event (the latest check-in before it gets the credit).
	AttributionDays int `koanf:"attribution_days"`
	// Page is the mini-program page the event's code opens (scene in its query).
	Page string `koanf:"page"`
	// EnvVersion is the mini-program version the code opens: release, trial or develop.
	EnvVersion string `koanf:"env_version"`
}

// Campaigns tunes the outreach engine.
type Campaigns struct {
	Workers int `koanf:"workers"`
	// SMSRatePerMinute and WeChatRatePerMinute are the channels' send limits, per minute across
	// every instance (the provider's quota); log and visit_task are not throttled. A campaign
	// may ask for less (rate_per_minute), never more; one that asks for nothing sends as fast as
	// its channels allow.
	SMSRatePerMinute    int `koanf:"sms_rate_per_minute"`
	WeChatRatePerMinute int `koanf:"wechat_rate_per_minute"`
	// DefaultRatePerMinute is gone (a campaign without a rate is bounded by its channels); it is
	// read only to refuse a configuration that still sets it.
	DefaultRatePerMinute int    `koanf:"default_rate_per_minute"`
	RemindersForVisit    int    `koanf:"reminders_for_visit"`
	VisitedRecentlyDays  int    `koanf:"visited_recently_days"`
	AttributionDays      int    `koanf:"attribution_days"`
	SMSSignName          string `koanf:"sms_sign_name"`
	// Lease is how long a claimed delivery may stay in sending before it is retired as unknown.
	Lease time.Duration `koanf:"lease"`
	// RequeueAfter is how long a fed delivery may wait before the reconciler feeds it again.
	RequeueAfter time.Duration `koanf:"requeue_after"`
	// HealthFailAfter and HealthSilentAfter decide when /readyz reports an engine loop as failing
	// (its last rounds in a row, this many, returned an error) or silent (no round for this long).
	HealthFailAfter   int           `koanf:"health_fail_after"`
	HealthSilentAfter time.Duration `koanf:"health_silent_after"`
	// ScheduleLease is how long one instance holds the scheduler's tick; another takes it over
	// after this when the holder stops renewing it (it dies).
	ScheduleLease time.Duration `koanf:"schedule_lease"`
}

// ChannelRates are the throttled channels' send limits per minute, keyed by channel name
// ("sms", "wechat"); a channel not in the map (log, visit_task) is not throttled.
func (c Campaigns) ChannelRates() map[string]int {
	return map[string]int{"sms": c.SMSRatePerMinute, "wechat": c.WeChatRatePerMinute}
}

// Business holds domain settings.
type Business struct {
	Timezone             string `koanf:"timezone"`
	PrivacyNoticeVersion string `koanf:"privacy_notice_version"`
}

// Dev holds development-mode settings.
type Dev struct {
	SecretsFile string `koanf:"secrets_file"`
}

// Options says where to read configuration from; zero values mean the process's own.
type Options struct {
	File    string          // optional YAML file read on top of the defaults
	Environ func() []string // defaults to os.Environ
}

// Load reads the defaults, the file and the environment, fills dev secrets when in dev mode,
// and validates the result.
func Load(opt Options) (*Config, error) {
	k := koanf.New(".")
	if err := k.Load(rawbytes.Provider(configs.Default), yaml.Parser()); err != nil {
		return nil, fmt.Errorf("config: embedded defaults: %w", err)
	}
	environ := opt.Environ
	if environ == nil {
		environ = os.Environ
	}
	path := opt.File
	if path == "" {
		path = lookupEnv(environ, "CANBAO_CONFIG")
	}
	if path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("config: reading %s: %w", path, err)
		}
	}
	envProvider := env.Provider(".", env.Opt{
		Prefix:        "CANBAO_",
		TransformFunc: envKey,
		EnvironFunc:   environ,
	})
	if err := k.Load(envProvider, nil); err != nil {
		return nil, fmt.Errorf("config: environment: %w", err)
	}
	var c Config
	if err := k.UnmarshalWithConf("", &c, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if c.Mode == ModeDev {
		if err := c.fillDevSecrets(); err != nil {
			return nil, err
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// envKey maps CANBAO_HTTP_ADDR to http.addr and CANBAO_MODE to mode. CANBAO_CONFIG is the
// file's path, not a key.
func envKey(k, v string) (string, any) {
	k = strings.ToLower(strings.TrimPrefix(k, "CANBAO_"))
	if k == "config" {
		return "", nil
	}
	if section, key, ok := strings.Cut(k, "_"); ok {
		return section + "." + key, v
	}
	return k, v
}

func lookupEnv(environ func() []string, name string) string {
	for _, kv := range environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// Validate says, in one error, everything that is wrong or missing.
func (c *Config) Validate() error {
	var errs []error
	switch c.Mode {
	case ModeDev, ModeProduction:
	default:
		errs = append(errs, fmt.Errorf("mode must be %q or %q, not %q (CANBAO_MODE)", ModeDev, ModeProduction, c.Mode))
	}
	if c.JWT.Secret == "" {
		errs = append(errs, errors.New("missing required secret CANBAO_JWT_SECRET (jwt.secret)"))
	} else if len(c.JWT.Secret) < 32 {
		errs = append(errs, errors.New("CANBAO_JWT_SECRET (jwt.secret) must be at least 32 bytes"))
	}
	if c.PII.Key == "" {
		errs = append(errs, errors.New("missing required secret CANBAO_PII_KEY (pii.key): 32 random bytes, base64"))
	} else if b, err := base64.StdEncoding.DecodeString(c.PII.Key); err != nil || len(b) != 32 {
		errs = append(errs, errors.New("CANBAO_PII_KEY (pii.key) must be 32 bytes, base64-encoded"))
	}
	if c.PII.KeyID == "" {
		errs = append(errs, errors.New("pii.key_id (CANBAO_PII_KEY_ID) must not be empty"))
	}
	if c.HTTP.Addr == "" {
		errs = append(errs, errors.New("http.addr (CANBAO_HTTP_ADDR) must not be empty"))
	}
	if c.HTTP.RequestTimeout <= 0 || c.HTTP.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("http.request_timeout and http.shutdown_timeout must be positive"))
	}
	if c.HTTP.BodyTimeout <= 0 || c.HTTP.UploadBodyTimeout <= 0 {
		errs = append(errs, errors.New("http.body_timeout and http.upload_body_timeout must be positive"))
	}
	if c.HTTP.MaxBodyBytes <= 0 {
		errs = append(errs, errors.New("http.max_body_bytes must be positive"))
	}
	for _, p := range c.TrustedProxyList() {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err2 := netip.ParseAddr(p); err2 != nil {
				errs = append(errs, fmt.Errorf("http.trusted_proxies: %q is neither an IP nor a CIDR", p))
			}
		}
	}
	if c.MySQL.DSN == "" {
		errs = append(errs, errors.New("mysql.dsn (CANBAO_MYSQL_DSN) must not be empty"))
	}
	switch c.Redis.Kind() {
	case RedisSentinel:
		if len(splitList(c.Redis.SentinelAddrs)) == 0 {
			errs = append(errs, errors.New("redis.sentinel_addrs (CANBAO_REDIS_SENTINEL_ADDRS) must list the sentinels (host:port,…) when redis.master_name is set"))
		}
	case RedisCluster:
		if c.Redis.DB != 0 {
			errs = append(errs, fmt.Errorf("redis.db (CANBAO_REDIS_DB) is %d, but redis.addr names a Redis Cluster (%d nodes): a cluster has only database 0; "+
				"set redis.db to 0 and keep instances apart with redis.prefix", c.Redis.DB, len(c.Redis.Addrs())))
		}
	default:
		if len(c.Redis.Addrs()) == 0 {
			errs = append(errs, errors.New("redis.addr (CANBAO_REDIS_ADDR) must not be empty"))
		}
	}
	if c.Redis.DB < 0 {
		errs = append(errs, errors.New("redis.db (CANBAO_REDIS_DB) must not be negative"))
	}
	if strings.ContainsAny(c.Redis.Prefix, "{}") {
		errs = append(errs, fmt.Errorf("redis.prefix (CANBAO_REDIS_PREFIX) %q must not contain { or }: the keys put their Redis Cluster hash tags after it", c.Redis.Prefix))
	}
	if c.JWT.ResidentTTL <= 0 || c.JWT.ResidentTTL > 2*time.Hour {
		errs = append(errs, errors.New("jwt.resident_ttl must be between 0 and 2h"))
	}
	if c.JWT.StaffTTL <= 0 || c.JWT.StaffTTL > time.Hour {
		errs = append(errs, errors.New("jwt.staff_ttl must be between 0 and 1h"))
	}
	if c.JWT.RefreshTTL <= 0 {
		errs = append(errs, errors.New("jwt.refresh_ttl must be positive"))
	}
	if _, err := time.LoadLocation(c.Business.Timezone); err != nil {
		errs = append(errs, fmt.Errorf("business.timezone %q: %v", c.Business.Timezone, err))
	}
	if c.WeChat.Timeout <= 0 || c.WeChat.Timeout > 10*time.Second {
		errs = append(errs, errors.New("wechat.timeout must be between 0 and 10s"))
	}
	if c.Auth.LoginMaxFailures <= 0 || c.Auth.Lockout <= 0 {
		errs = append(errs, errors.New("auth.login_max_failures and auth.lockout must be positive"))
	}
	if c.Campaigns.Workers < 1 || c.Campaigns.Workers > 256 ||
		c.Campaigns.AttributionDays < 1 || c.Campaigns.VisitedRecentlyDays < 0 || c.Campaigns.RemindersForVisit < 0 ||
		c.Campaigns.Lease < time.Second || c.Campaigns.RequeueAfter < time.Second {
		errs = append(errs, errors.New("campaigns: workers 1-256; attribution_days positive; lease and requeue_after at least 1s"))
	}
	if c.Campaigns.HealthFailAfter < 1 || c.Campaigns.HealthFailAfter > 1000 || c.Campaigns.HealthSilentAfter < 10*time.Second ||
		c.Campaigns.ScheduleLease < 2*time.Second || c.Campaigns.ScheduleLease > 5*time.Minute {
		errs = append(errs, errors.New("campaigns: health_fail_after 1-1000, health_silent_after at least 10s, schedule_lease 2s-5m "+
			"(longer than the scheduler's 1 s tick, short enough that another instance takes over soon after one dies)"))
	}
	if c.Campaigns.SMSRatePerMinute < 1 || c.Campaigns.WeChatRatePerMinute < 1 {
		errs = append(errs, errors.New("campaigns.sms_rate_per_minute and campaigns.wechat_rate_per_minute (CANBAO_CAMPAIGNS_SMS_RATE_PER_MINUTE, CANBAO_CAMPAIGNS_WECHAT_RATE_PER_MINUTE) must be positive"))
	}
	if c.Campaigns.DefaultRatePerMinute != 0 {
		errs = append(errs, errors.New("campaigns.default_rate_per_minute is no longer read: the send limits belong to the channels (campaigns.sms_rate_per_minute, campaigns.wechat_rate_per_minute); remove it"))
	}
	if c.Events.AttributionDays < 1 || c.Events.AttributionDays > 366 || strings.HasPrefix(c.Events.Page, "/") ||
		(c.Events.EnvVersion != "release" && c.Events.EnvVersion != "trial" && c.Events.EnvVersion != "develop") {
		errs = append(errs, errors.New("events: attribution_days 1-366; page without a leading slash; env_version release, trial or develop"))
	}
	if c.Idem.PurgeInterval < time.Second || c.Idem.PurgeBatch < 1 || c.Idem.PurgeBatch > 10000 {
		errs = append(errs, errors.New("idempotency: purge_interval at least 1s, purge_batch 1-10000"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %w", errors.Join(errs...))
	}
	return nil
}

// TrustedProxyList splits http.trusted_proxies.
func (c *Config) TrustedProxyList() []string {
	var out []string
	for _, p := range strings.Split(c.HTTP.TrustedProxies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Location is the business time zone (Asia/Shanghai).
func (c *Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.Business.Timezone)
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}

// devSecrets is what dev mode keeps in dev.secrets_file.
type devSecrets struct {
	JWTSecret    string `koanf:"jwt_secret"`
	PIIKey       string `koanf:"pii_key"`
	DemoPassword string `koanf:"demo_password"`
}

// fillDevSecrets generates local secrets once and reuses them, so dev data stays readable
// across restarts. Secrets given in the environment win.
func (c *Config) fillDevSecrets() error {
	if c.JWT.Secret != "" && c.PII.Key != "" {
		return nil
	}
	s, err := LoadDevSecrets(c.Dev.SecretsFile)
	if err != nil {
		return err
	}
	if c.JWT.Secret == "" {
		c.JWT.Secret = s.JWTSecret
	}
	if c.PII.Key == "" {
		c.PII.Key = s.PIIKey
	}
	return nil
}

// DevSecrets are the generated secrets of a development machine.
type DevSecrets struct {
	JWTSecret, PIIKey, DemoPassword string
}

// LoadDevSecrets reads path, creating it (mode 0600) with fresh random secrets when missing.
func LoadDevSecrets(path string) (DevSecrets, error) {
	k := koanf.New(".")
	if _, err := os.Stat(path); err == nil {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return DevSecrets{}, fmt.Errorf("config: dev secrets %s: %w", path, err)
		}
		var s devSecrets
		if err := k.Unmarshal("", &s); err != nil {
			return DevSecrets{}, fmt.Errorf("config: dev secrets %s: %w", path, err)
		}
		if s.JWTSecret != "" && s.PIIKey != "" && s.DemoPassword != "" {
			return DevSecrets(s), nil
		}
	}
	s := DevSecrets{
		JWTSecret:    randomBase64(48),
		PIIKey:       randomBase64(32),
		DemoPassword: "Demo-" + strings.NewReplacer("+", "x", "/", "y", "=", "").Replace(randomBase64(9)),
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return DevSecrets{}, fmt.Errorf("config: dev secrets: %w", err)
	}
	body := fmt.Sprintf("# Generated by canbao in dev mode. Never use in production. Keep out of git.\njwt_secret: %q\npii_key: %q\ndemo_password: %q\n",
		s.JWTSecret, s.PIIKey, s.DemoPassword)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		return DevSecrets{}, fmt.Errorf("config: dev secrets: %w", err)
	}
	return s, nil
}

func randomBase64(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.StdEncoding.EncodeToString(b)
}
