// Package server assembles the HTTP API: middleware in order, every area's routes with their
// policies, health and metrics. It is the one place that knows every area.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/campaigns/counters"
	"github.com/canbao/canbao/internal/account"
	"github.com/canbao/canbao/internal/analysis"
	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/config"
	"github.com/canbao/canbao/internal/console"
	"github.com/canbao/canbao/internal/eligibility"
	"github.com/canbao/canbao/internal/employer"
	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/event"
	"github.com/canbao/canbao/internal/importer"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/pii/keycheck"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/idempotency"
	"github.com/canbao/canbao/internal/platform/ratelimit"
	"github.com/canbao/canbao/internal/platform/web"
	"github.com/canbao/canbao/internal/policy"
	"github.com/canbao/canbao/internal/progress"
	"github.com/canbao/canbao/internal/registration"
	"github.com/canbao/canbao/internal/roster"
	"github.com/canbao/canbao/internal/rules"
	"github.com/canbao/canbao/internal/village"
	"github.com/canbao/canbao/internal/visit"
	"github.com/canbao/canbao/internal/wechat"
	webui "github.com/canbao/canbao/web"
)

// Deps are what the API needs, built once in main.
type Deps struct {
	Config  *config.Config
	DB      *sqlx.DB
	Redis   redis.UniversalClient
	Keyring *pii.Keyring
	Rules   *rules.Book
	Log     *slog.Logger
}

// Server is the assembled API.
type Server struct {
	Engine   *gin.Engine
	Router   *auth.Router
	Tokens   *auth.Tokens
	Auth     *auth.Service
	Subjects *auth.Subjects
	Audit    *audit.Log
	Registry *prometheus.Registry
	Idem     *idempotency.Keys
	Importer *importer.Importer
	Counters *counters.Counters
	WeChat   *wechat.Client
	Events   *event.Service
	Log      *slog.Logger
	// engineCheck is the campaign engine's health, when this process runs one (WatchEngine).
	engineCheck atomic.Pointer[func() error]
}

// WatchEngine makes /readyz report the campaign engine this process runs: check answers nil
// while it runs, else what is wrong (engine.Engine.Check). Without it /readyz reports the
// engine as "off" (serve --no-engine).
func (s *Server) WatchEngine(check func() error) { s.engineCheck.Store(&check) }

func init() { gin.SetMode(gin.ReleaseMode) }

// UploadTimeout bounds the file upload routes, which stream up to http.max_upload_bytes.
const UploadTimeout = 5 * time.Minute

// New builds the engine and registers every route; it fails if a route lacks a policy.
func New(d Deps) (*Server, error) {
	cfg := d.Config
	engine := gin.New()
	engine.ContextWithFallback = true
	engine.HandleMethodNotAllowed = true
	// A path with a slash too many or too few is an unknown path, answered with the API's JSON
	// 404, not gin's redirect with an HTML body (the console redirects /console itself).
	engine.RedirectTrailingSlash = false
	if err := engine.SetTrustedProxies(cfg.TrustedProxyList()); err != nil {
		return nil, err
	}
	if len(cfg.TrustedProxyList()) == 0 {
		engine.ForwardedByClientIP = false
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	httpMetrics := newHTTPMetrics(reg)

	tokens, err := auth.NewTokens(cfg.JWT.Secret, cfg.JWT.Issuer, cfg.JWT.ResidentTTL, cfg.JWT.StaffTTL)
	if err != nil {
		return nil, err
	}
	prefix := cfg.Redis.Prefix
	subjects := auth.NewSubjects(d.DB, d.Redis, prefix, d.Log, account.BumpTokenVersion)
	auditLog := audit.New(d.DB)
	limiter := ratelimit.New(d.Redis, prefix)
	authSvc := auth.NewService(d.DB, d.Redis, prefix, tokens, subjects, auditLog,
		auth.LoginLimits{MaxFailures: cfg.Auth.LoginMaxFailures, Lockout: cfg.Auth.Lockout}, cfg.JWT.RefreshTTL, d.Log)

	engine.Use(
		web.SecurityHeaders(),
		web.RequestIDs(),
		httpMetrics.middleware(),
		web.AccessLog(d.Log, auth.SubjectString),
		web.Errors(d.Log),
		web.Recover(d.Log),
		web.Timeout(cfg.HTTP.RequestTimeout, map[string]time.Duration{
			importer.UploadRoute: UploadTimeout, registration.CityAnswersRoute: UploadTimeout}),
		web.BodyDeadline(cfg.HTTP.BodyTimeout, map[string]time.Duration{
			importer.UploadRoute: cfg.HTTP.UploadBodyTimeout, registration.CityAnswersRoute: cfg.HTTP.UploadBodyTimeout}),
		web.BodyLimit(cfg.HTTP.MaxBodyBytes, map[string]int64{
			importer.UploadRoute: cfg.HTTP.MaxUploadBytes, registration.CityAnswersRoute: cfg.HTTP.MaxUploadBytes}),
	)
	engine.NoRoute(func(c *gin.Context) { web.Fail(c, errs.New(errs.NotFound, "请求的接口不存在")) })
	engine.NoMethod(func(c *gin.Context) {
		web.Fail(c, &errs.Error{Code: errs.NotFound, Message: "请求的接口不存在"})
	})

	idem := idempotency.New(d.DB, d.Log, auth.SubjectString)
	r := auth.NewRouter(engine, auth.NewMiddleware(tokens, subjects), idem.Middleware())
	r.Handle(http.MethodGet, "/healthz", auth.Public(), func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	srv := &Server{}
	r.Handle(http.MethodGet, "/readyz", auth.Public(), readyz(d.DB, d.Redis, d.Keyring, &srv.engineCheck))
	r.Handle(http.MethodGet, "/metrics", auth.Public(), gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))

	wx := WeChatClient(cfg, d.Redis, d.Log)
	enrollments := enrollment.New(cfg.Location(), cfg.Campaigns.AttributionDays)
	villages := village.NewCachedStore(d.DB, d.Redis, prefix)
	registrations := registration.NewService(registration.Deps{DB: d.DB, Redis: d.Redis, Prefix: prefix, Keyring: d.Keyring, Villages: villages,
		Rules: d.Rules, Location: cfg.Location(), Limiter: limiter, Audit: auditLog, Enrollment: enrollments,
		PrivacyNoticeVersion: cfg.Business.PrivacyNoticeVersion})
	residents := account.NewService(account.Deps{DB: d.DB, Keyring: d.Keyring, WeChat: wx, Auth: authSvc, Registry: registrations,
		Limiter: limiter, Audit: auditLog, TemplateIDs: cfg.WeChat.Templates(), LoginPerIPPM: cfg.Auth.LoginRatePerIP * 3})
	authHandlers := auth.NewHandlers(authSvc, limiter, cfg.Auth.LoginRatePerIP, residents)
	authHandlers.SecureCookies = cfg.Mode == config.ModeProduction
	imports := importer.New(d.DB, d.Keyring, cfg.Location(), enrollments, d.Log)
	stats := counters.New(d.DB, d.Redis, prefix, cfg.Location())
	events := event.NewService(event.Deps{DB: d.DB, Villages: villages, WeChat: wx, Audit: auditLog, Location: cfg.Location(),
		AttributionDays: cfg.Events.AttributionDays, Page: cfg.Events.Page, EnvVersion: cfg.Events.EnvVersion})

	// Every area registers its routes the same way, each route with its access policy.
	areas := []interface{ Routes(*auth.Router) }{
		authHandlers,
		auth.NewUserAdmin(d.DB, subjects, auditLog, villages),
		villages,
		rules.NewTiers(d.Rules, cfg.Location()),
		eligibility.NewHandler(d.Rules, cfg.Location()),
		policy.NewService(d.DB, d.Redis, prefix, auditLog, d.Log),
		registrations,
		residents,
		imports,
		roster.NewService(d.DB, d.Keyring, cfg.Location(), limiter, auditLog),
		visit.NewService(d.DB, auditLog, cfg.Location(), enrollments, d.Keyring),
		employer.New(d.DB, d.Keyring, cfg.Location(), auditLog),
		progress.NewHandlers(d.DB, auditLog, cfg.Location()).WithEvents(events),
		analysis.NewService(d.DB, cfg.Location()), // why people stay out (GET /api/v1/admin/analysis/reasons)
		campaigns.NewAPI(d.DB, stats, auditLog, campaigns.Limits{ChannelRates: cfg.Campaigns.ChannelRates(),
			TemplateIDs: cfg.WeChat.Templates(), MaxDuration: 366 * 24 * time.Hour}, cfg.Location()),
		events,                    // concentrated publicity events (集中宣传): codes, posters, check-ins, stats
		console.New(webui.DistFS), // the staff web console (web/), public static files at /console/
	}
	for _, a := range areas {
		a.Routes(r)
	}

	if err := r.Verify(); err != nil {
		return nil, err
	}
	srv.Engine, srv.Router, srv.Tokens, srv.Auth, srv.Subjects, srv.Audit, srv.Registry, srv.Idem, srv.Importer =
		engine, r, tokens, authSvc, subjects, auditLog, reg, idem, imports
	srv.Counters, srv.WeChat, srv.Events, srv.Log = stats, wx, events, d.Log
	return srv, nil
}

// WeChatClient builds the WeChat client from the configuration: the API's resident login uses
// it, and the campaign engine sends with it (serve --engine-only builds it without the API).
func WeChatClient(cfg *config.Config, rdb redis.UniversalClient, log *slog.Logger) *wechat.Client {
	return wechat.NewClient(wechat.Config{APIBase: cfg.WeChat.APIBase, AppID: cfg.WeChat.AppID, Secret: cfg.WeChat.Secret,
		Timeout: cfg.WeChat.Timeout}, rdb, cfg.Redis.Prefix, log)
}

// readyz answers 200 only when MySQL and Redis both answer within a second, the PII keys
// still match the key check values stored in the database (one small query), and the campaign
// engine of this process, if it runs one, is running with every loop alive (checks.engine:
// "ok", "off" without an engine, else what is wrong with it).
func readyz(db *sqlx.DB, rdb redis.UniversalClient, kr *pii.Keyring, engineCheck *atomic.Pointer[func() error]) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), time.Second)
		defer cancel()
		checks := gin.H{"mysql": "ok", "redis": "ok", "pii_key": "ok", "engine": "off"}
		ready := true
		if check := engineCheck.Load(); check != nil {
			if err := (*check)(); err != nil {
				checks["engine"], ready = err.Error(), false
			} else {
				checks["engine"] = "ok"
			}
		}
		if err := db.PingContext(ctx); err != nil {
			checks["mysql"], checks["pii_key"], ready = "unavailable", "unknown", false
		} else if err := keycheck.Verify(ctx, db, kr); err != nil {
			var me *keycheck.MismatchError
			if errors.As(err, &me) {
				checks["pii_key"] = me.Setting() + " does not match the key check value of key id " + strconv.Quote(me.KeyID) + " in the database"
			} else {
				checks["pii_key"] = "unknown"
			}
			ready = false
		}
		if problem := redisProblem(ctx, rdb); problem != "" {
			checks["redis"], ready = problem, false
		}
		if !ready {
			c.Header("Retry-After", "5")
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "checks": checks})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready", "checks": checks})
	}
}

// redisProblem says what is wrong with Redis, "" when nothing is. A single node or a
// Sentinel-managed master must answer PING. A cluster must answer on every master: one PING
// reaches one node, which answers even while another master is down and the keys of its slots
// fail, so each master known to the client is asked, and one node's view of cluster_state must
// be ok (with full coverage required, a cluster missing a master serves no key at all). The
// answer is public, so it counts nodes and does not name them.
func redisProblem(ctx context.Context, rdb redis.UniversalClient) string {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		if rdb.Ping(ctx).Err() != nil {
			return "unavailable"
		}
		return ""
	}
	var masters, down atomic.Int32
	_ = cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		masters.Add(1)
		if node.Ping(ctx).Err() != nil {
			down.Add(1)
		}
		return nil
	})
	switch {
	case masters.Load() == 0:
		return "unavailable"
	case down.Load() > 0:
		return fmt.Sprintf("unavailable: %d of %d cluster masters do not answer", down.Load(), masters.Load())
	}
	info, err := cc.ClusterInfo(ctx).Result()
	if err != nil {
		return "unavailable"
	}
	if !strings.Contains(info, "cluster_state:ok") {
		return "unavailable: cluster_state is not ok"
	}
	return ""
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "canbao_http_requests_total", Help: "HTTP requests by route template (or unmatched), method (or other) and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "canbao_http_request_duration_seconds", Help: "HTTP request latency by route template.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

func (m *httpMetrics) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		method := methodLabel(c.Request.Method)
		m.requests.WithLabelValues(route, method, strconv.Itoa(c.Writer.Status())).Inc()
		m.duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
	}
}

// knownMethods are the methods that get their own label; any other is "other", so made-up
// methods cannot grow /metrics (routes are templates or "unmatched", statuses the server's own).
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true,
	http.MethodDelete: true, http.MethodConnect: true, http.MethodOptions: true, http.MethodTrace: true,
}

func methodLabel(m string) string {
	if knownMethods[m] {
		return m
	}
	return "other"
}
