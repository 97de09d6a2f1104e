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
	"strconv"
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
	RestartBackoff    time.Duration  // wait before restarting a dead loop; doubles each time, up to 30s
	FailAfter         int            // rounds in a row with an error before a loop counts as failing
	StaleAfter        time.Duration  // a loop with no round for this long counts as stuck
	ScheduleLease     time.Duration  // how long the scheduler's tick lease lasts without renewal
}

// DefaultConfig is a sensible configuration.
func DefaultConfig() Config {
	return Config{Workers: 16, SnapshotBatch: 50000, FeedBatch: 5000, Lease: 2 * time.Minute, Tick: time.Second,
		ReconcileEvery: 5 * time.Second, RequeueAfter: 30 * time.Second, MaxAttempts: 3, RetryBackoff: 30 * time.Second, RemindersForVisit: 3,
		VisitedRecently: 7 * 24 * time.Hour, SMSWindow: [2]int{8 * 60, 20 * 60},
		RestartBackoff: time.Second, FailAfter: 3, StaleAfter: 5 * time.Minute, ScheduleLease: 5 * time.Second}
}

// Deps are the engine's collaborators.
type Deps struct {
	DB       *sqlx.DB
	Redis    redis.UniversalClient
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
	streams  []string // the delivery stream's shards (StreamKeys)
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
	// health is what Check reports; healthHook (tests only) hears each loop's state changes and
	// roundHook (tests only) is called at the top of each round of each loop.
	health     health
	healthHook func(loop, state string, err error)
	roundHook  func(loop string)
	// leaseNow is the clock of the scheduler's tick lease (tests: a fake one).
	leaseNow func() time.Time
	wg       sync.WaitGroup
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
		streams: StreamKeys(d.Prefix), group: "senders", now: time.Now, cache: map[int64]cachedCampaign{}, pace: map[int64]*feedPace{},
		health: health{phase: "new", loops: map[string]*loopHealth{}}, leaseNow: database.Now}
}

// ID names this instance (leases carry it).
func (e *Engine) ID() string { return e.id }

// Run works until ctx ends, then stops taking work and lets in-flight sends finish (each is
// bounded by its provider timeout) before returning. It returns early only with a start-up
// error (Start's).
func (e *Engine) Run(ctx context.Context) error {
	if err := e.Start(ctx); err != nil {
		return err
	}
	e.Wait()
	return nil
}

// Start prepares the engine (the stream's consumer group, the villages, the counters) and
// starts its loops under supervision; it returns once they run, or with the start-up error,
// which Check then reports. The loops stop when ctx ends; Wait waits for them.
func (e *Engine) Start(ctx context.Context) error {
	fail := func(err error) error {
		e.setPhase("failed", err)
		return err
	}
	if e.cfg.FailAfter <= 0 {
		e.cfg.FailAfter = 3
	}
	if e.cfg.StaleAfter <= 0 {
		e.cfg.StaleAfter = 5 * time.Minute
	}
	if e.cfg.RestartBackoff <= 0 {
		e.cfg.RestartBackoff = time.Second
	}
	if e.cfg.ScheduleLease <= 0 {
		e.cfg.ScheduleLease = 5 * e.cfg.Tick
	}
	if err := e.ensureGroup(context.WithoutCancel(ctx)); err != nil {
		return fail(err)
	}
	if err := e.loadVillages(ctx); err != nil {
		return fail(fmt.Errorf("engine: read villages: %w", err))
	}
	if _, err := e.Counters.RebuildAll(ctx, true); err != nil {
		e.Log.Warn("engine: counters not rebuilt at start", "err", err)
	}
	loop := func(name string, every time.Duration, fn func(context.Context) error) {
		e.supervise(ctx, &e.wg, name, func(ctx context.Context) error {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				e.round(name)
				err := fn(ctx)
				if ctx.Err() != nil {
					return nil
				}
				if err != nil {
					e.Log.Warn("engine: "+name, "err", err)
				}
				e.beat(name, err)
				select {
				case <-ctx.Done():
					return nil
				case <-t.C:
				}
			}
		})
	}
	e.setPhase("started", nil)
	loop("schedule", e.cfg.Tick, e.scheduleTick)
	loop("snapshot", e.cfg.Tick, e.snapshot)
	loop("feed", e.cfg.Tick, e.feed)
	if !e.reconcileOnDemand {
		loop("reconcile", e.cfg.ReconcileEvery, e.reconcile)
	}
	for i := 0; i < e.cfg.Workers; i++ {
		name := fmt.Sprintf("worker-%d", i)
		consumer := fmt.Sprintf("%s-%d", e.id, i)
		e.supervise(ctx, &e.wg, name, func(ctx context.Context) error {
			e.work(ctx, name, consumer, i)
			return nil
		})
	}
	return nil
}

// Wait waits for the loops of a started engine to stop (after Start's ctx ends).
func (e *Engine) Wait() {
	e.wg.Wait()
	e.releaseLease(scheduleLease)
	e.setPhase("stopped", nil)
	e.Log.Info("engine stopped", "instance", e.id)
}

// StreamShards is how many streams carry delivery ids. Each has its own Redis Cluster hash
// tag ({dq0} … {dq15}), so in a cluster the queue spreads over the masters; a delivery goes to
// shard id mod StreamShards. Every instance must use the same number (it is not configurable).
const StreamShards = 16

// StreamKeys are the delivery stream's shards under prefix.
func StreamKeys(prefix string) []string {
	keys := make([]string, StreamShards)
	for i := range keys {
		keys[i] = prefix + "engine:deliveries:{dq" + strconv.Itoa(i) + "}"
	}
	return keys
}

// streamOf is the shard a delivery is fed to.
func (e *Engine) streamOf(id int64) string { return e.streams[id%int64(len(e.streams))] }

// ensureGroup creates the consumer group on every shard (and the shard with it).
func (e *Engine) ensureGroup(ctx context.Context) error {
	for _, s := range e.streams {
		err := e.Redis.XGroupCreateMkStream(ctx, s, e.group, "0").Err()
		if err != nil && !isBusyGroup(err) {
			return fmt.Errorf("engine: create stream group on %s: %w", s, err)
		}
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
