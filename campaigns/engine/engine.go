// Package engine runs campaigns: a scheduler starts due runs, a snapshot freezes each run's
// audience into the delivery outbox (in id-range batches past a checkpoint, so a restart
// resumes), a feeder puts delivery ids on a Redis stream, a bounded pool of rate-limited
// workers claims each delivery in MySQL before sending, and a reconciler re-feeds what MySQL
// says is still pending, retires stuck sends as unknown, and completes runs. Any number of
// instances may run: the claim (`UPDATE … WHERE status = 'queued'`, one row or nothing) is what
// makes every delivery go out at most once.
package engine

import (
	"context"
	"embed"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/campaigns/channels"
	"github.com/canbao/canbao/campaigns/counters"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/rules"
)

//go:embed queries.sql
var queryFS embed.FS

// Queries are the package's named SQL, checked against the server at start-up.
var Queries = database.RegisterQueries("engine", queryFS, "queries.sql")

// Config tunes the engine.
type Config struct {
	Workers           int           // concurrent senders per instance
	SnapshotBatch     int           // residents per snapshot statement (the next n by id)
	FeedBatch         int           // ids per feeder round
	Lease             time.Duration // how long a claimed delivery may stay in sending
	Tick              time.Duration // scheduler and feeder period
	ReconcileEvery    time.Duration
	RequeueAfter      time.Duration  // queued rows not picked up for this long are fed again
	MaxAttempts       int            // transient failures before a delivery fails
	RetryBackoff      time.Duration  // wait before the first retry after a transient failure; doubles each attempt (0: 30s)
	RemindersForVisit int            // K: after K unanswered reminders a person becomes a visit task
	VisitedRecently   time.Duration  // a person visited this recently is not messaged
	SMSWindow         [2]int         // minutes after midnight, Asia/Shanghai: 08:00-20:00
	ChannelRates      map[string]int // per-channel send limit per minute, across instances; absent or 0: not throttled (log, visit_task)
}

// DefaultConfig is a sensible configuration.
func DefaultConfig() Config {
	return Config{Workers: 16, SnapshotBatch: 50000, FeedBatch: 5000, Lease: 2 * time.Minute, Tick: time.Second,
		ReconcileEvery: 5 * time.Second, RequeueAfter: 30 * time.Second, MaxAttempts: 3, RetryBackoff: 30 * time.Second, RemindersForVisit: 3,
		VisitedRecently: 7 * 24 * time.Hour, SMSWindow: [2]int{8 * 60, 20 * 60}}
}

// Deps are the engine's collaborators.
type Deps struct {
	DB       *sqlx.DB
	Redis    *redis.Client
	Prefix   string
	Keyring  *pii.Keyring
	Rules    *rules.Book
	Location *time.Location
	Log      *slog.Logger
	Counters *counters.Counters
	Channels map[string]channels.Channel
}

// Engine is one engine instance.
type Engine struct {
	Deps
	cfg      Config
	id       string
	store    *campaigns.Store
	limiter  *redis_rate.Limiter
	stream   string
	group    string
	now      func() time.Time
	cacheMu  sync.Mutex
	cache    map[int64]cachedCampaign
	villages map[string]string
	// pace holds each fed run's feeding credit (the feed loop's own: one goroutine uses it).
	pace map[int64]*feedPace
	// reconcileOnDemand (tests only, export_test.go): Run starts no reconciler loop; the test
	// runs the reconciler when it chooses.
	reconcileOnDemand bool
	// countHook (tests only, export_test.go) is called instead of applying a counter change;
	// apply applies it.
	countHook func(ch counters.Change, apply func())
	// claimHook (tests only) is called before each claim of a batch.
	claimHook func()
	// stepHook (tests only) is called inside a step's transaction, after its outcomes, skips
	// and waits are recorded and before its claims.
	stepHook func()
}

type cachedCampaign struct {
	c  campaigns.Campaign
	at time.Time
}

// New builds an engine instance.
func New(d Deps, cfg Config) *Engine {
	return &Engine{Deps: d, cfg: cfg, id: uuid.NewString(), store: campaigns.NewStore(d.DB), limiter: redis_rate.NewLimiter(d.Redis),
		stream: d.Prefix + "engine:deliveries", group: "senders", now: time.Now, cache: map[int64]cachedCampaign{}, pace: map[int64]*feedPace{}}
}

// ID names this instance (leases carry it).
func (e *Engine) ID() string { return e.id }

// Run works until ctx ends, then stops taking work and lets in-flight sends finish (each is
// bounded by its provider timeout) before returning.
func (e *Engine) Run(ctx context.Context) error {
	if err := e.ensureGroup(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	if err := e.loadVillages(ctx); err != nil {
		return err
	}
	if _, err := e.Counters.RebuildAll(ctx, true); err != nil {
		e.Log.Warn("engine: counters not rebuilt at start", "err", err)
	}
	var wg sync.WaitGroup
	loop := func(name string, every time.Duration, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				if err := fn(ctx); err != nil && ctx.Err() == nil {
					e.Log.Warn("engine: "+name, "err", err)
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	loop("schedule", e.cfg.Tick, e.schedule)
	loop("snapshot", e.cfg.Tick, e.snapshot)
	loop("feed", e.cfg.Tick, e.feed)
	if !e.reconcileOnDemand {
		loop("reconcile", e.cfg.ReconcileEvery, e.reconcile)
	}
	for i := 0; i < e.cfg.Workers; i++ {
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			e.work(ctx, fmt.Sprintf("%s-%d", e.id, n))
		}(i)
	}
	wg.Wait()
	e.Log.Info("engine stopped", "instance", e.id)
	return nil
}

func (e *Engine) ensureGroup(ctx context.Context) error {
	err := e.Redis.XGroupCreateMkStream(ctx, e.stream, e.group, "0").Err()
	if err != nil && !isBusyGroup(err) {
		return fmt.Errorf("engine: create stream group: %w", err)
	}
	return nil
}

func isBusyGroup(err error) bool {
	return err != nil && err.Error() == "BUSYGROUP Consumer Group name already exists"
}

func (e *Engine) loadVillages(ctx context.Context) error {
	var rows []struct {
		Code string `db:"code"`
		Name string `db:"name"`
	}
	if err := e.DB.SelectContext(ctx, &rows, Queries.Get("villages")); err != nil {
		return err
	}
	e.villages = make(map[string]string, len(rows))
	for _, r := range rows {
		e.villages[r.Code] = r.Name
	}
	return nil
}

// campaign reads a campaign through a short cache (pause and cancel take effect within it).
func (e *Engine) campaign(ctx context.Context, id int64) (campaigns.Campaign, error) {
	e.cacheMu.Lock()
	cc, ok := e.cache[id]
	e.cacheMu.Unlock()
	if ok && e.now().Sub(cc.at) < time.Second {
		return cc.c, nil
	}
	c, err := e.store.Get(ctx, e.DB, id, false)
	if err != nil {
		return c, err
	}
	e.cacheMu.Lock()
	e.cache[id] = cachedCampaign{c: c, at: e.now()}
	e.cacheMu.Unlock()
	return c, nil
}

// unthrottled stands for "no rate of its own" (a campaign without rate_per_minute).
const unthrottled = 1 << 30

func redisRateLimit(perMinute int) redis_rate.Limit {
	if perMinute <= 0 {
		perMinute = unthrottled
	}
	return redis_rate.Limit{Rate: perMinute, Burst: max(1, perMinute/60), Period: time.Minute}
}
