package engine_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/campaigns/channels"
	"github.com/canbao/canbao/campaigns/engine"
	"github.com/canbao/canbao/internal/server/servertest"
)

func newEngine(env *servertest.Env, cfg engine.Config) *engine.Engine {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return engine.New(engine.Deps{DB: env.DB, Redis: env.Redis, Prefix: env.Prefix, Keyring: env.Keyring, Rules: env.Rules,
		Location: env.Config.Location(), Log: log, Counters: env.Server.Counters,
		Channels: map[string]channels.Channel{campaigns.ChannelLog: channels.Log{Log: log}}}, cfg)
}

// healthEvent is a loop's change of state, told by the health hook.
type healthEvent struct{ loop, state string }

// waitFor waits for loop to reach state.
func waitFor(t *testing.T, ch <-chan healthEvent, loop, state string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev := <-ch:
			if ev.loop == loop && ev.state == state {
				return
			}
		case <-timeout:
			t.Fatalf("loop %s never became %s", loop, state)
		}
	}
}

// TestEngineThatCannotCreateItsGroupReportsIt: a key of another type at the stream's name makes
// XGROUP CREATE fail. Start returns the error and Check keeps reporting it (it used to be
// discarded, and the instance looked healthy while no campaign ever started).
func TestEngineThatCannotCreateItsGroupReportsIt(t *testing.T) {
	env := servertest.New(t)
	ctx := context.Background()
	if err := env.Redis.Set(ctx, engine.StreamKeys(env.Prefix)[0], "not a stream", 0).Err(); err != nil {
		t.Fatal(err)
	}
	e := newEngine(env, fastConfig())
	if err := e.Check(); err == nil || !strings.Contains(err.Error(), "not started") {
		t.Fatalf("check before start: %v", err)
	}
	err := e.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("start: %v", err)
	}
	if err := e.Check(); err == nil || !strings.Contains(err.Error(), "failed to start") || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("check after a failed start: %v", err)
	}
}

// TestDeadWorkerIsReportedAndRestarted: a worker loop that panics is dead (Check names it and
// the panic) until the supervisor restarts it; then Check is nil again.
func TestDeadWorkerIsReportedAndRestarted(t *testing.T) {
	env := servertest.New(t)
	cfg := fastConfig()
	cfg.RestartBackoff = time.Millisecond
	e := newEngine(env, cfg)
	events := make(chan healthEvent, 1000)
	release := make(chan struct{})
	var panicked atomic.Bool
	engine.OnRound(e, func(loop string) {
		if loop == "worker-1" && panicked.CompareAndSwap(false, true) {
			panic("boom")
		}
	})
	engine.OnHealth(e, func(loop, state string, err error) {
		events <- healthEvent{loop, state}
		if loop == "worker-1" && state == engine.LoopDead {
			<-release // the loop stays dead until the test has looked
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); e.Wait() }()
	waitFor(t, events, "worker-1", engine.LoopDead)
	err := e.Check()
	if err == nil || !strings.Contains(err.Error(), "loop worker-1 dead") || !strings.Contains(err.Error(), "panic: boom") {
		t.Fatalf("check with a dead worker: %v", err)
	}
	if l := e.Loops()["worker-1"]; l.State != engine.LoopDead || l.Restarts != 1 {
		t.Fatalf("worker-1: %+v", l)
	}
	close(release)
	waitFor(t, events, "worker-1", engine.LoopRunning)
	if err := e.Check(); err != nil {
		t.Fatalf("check after the restart: %v", err)
	}
}

// TestFailingWorkerIsReportedAndRecovers: a worker whose reads fail (the stream replaced by a
// string) is failing after FailAfter rounds; once the stream is back it runs again.
func TestFailingWorkerIsReportedAndRecovers(t *testing.T) {
	env := servertest.New(t)
	cfg := fastConfig()
	cfg.Workers, cfg.FailAfter = 1, 2
	e := newEngine(env, cfg)
	events := make(chan healthEvent, 1000)
	engine.OnHealth(e, func(loop, state string, err error) { events <- healthEvent{loop, state} })
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); e.Wait() }()
	if err := e.Check(); err != nil {
		t.Fatalf("check at start: %v", err)
	}
	// Every shard of the stream: the worker reads them in turn.
	shards := engine.StreamKeys(env.Prefix)
	for _, stream := range shards {
		if err := env.Redis.Del(ctx, stream).Err(); err != nil {
			t.Fatal(err)
		}
		if err := env.Redis.Set(ctx, stream, "not a stream", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, events, "worker-0", engine.LoopFailing)
	if err := e.Check(); err == nil || !strings.Contains(err.Error(), "loop worker-0 failing") || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("check with a failing worker: %v", err)
	}
	for _, stream := range shards {
		if err := env.Redis.Del(ctx, stream).Err(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, events, "worker-0", engine.LoopRunning)
	if err := e.Check(); err != nil {
		t.Fatalf("check after recovery: %v", err)
	}
}

// TestSilentLoopIsReported: a loop stuck in a round (held by the hook) past StaleAfter, on the
// engine's clock, is reported silent.
func TestSilentLoopIsReported(t *testing.T) {
	env := servertest.New(t)
	cfg := fastConfig()
	cfg.StaleAfter = time.Minute
	e := newEngine(env, cfg)
	var mu sync.Mutex
	now := time.Now()
	engine.SetClock(e, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	stuck, release := make(chan struct{}), make(chan struct{})
	var rounds atomic.Int32
	engine.OnRound(e, func(loop string) {
		if loop == "snapshot" && rounds.Add(1) == 2 {
			close(stuck)
			<-release
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); e.Wait() }()
	<-stuck
	if err := e.Check(); err != nil {
		t.Fatalf("check before the clock moves: %v", err)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if err := e.Check(); err == nil || !strings.Contains(err.Error(), "loop snapshot silent") {
		t.Fatalf("check with a stuck snapshot loop: %v", err)
	}
	close(release)
}

// TestOneSchedulerTickAcrossInstances: two engines on one database tick at the same (fake)
// moments; only the lease holder runs each tick. When it stops ticking (dead), the other takes
// the lease once it has run out, not before.
func TestOneSchedulerTickAcrossInstances(t *testing.T) {
	env := servertest.New(t)
	cfg := fastConfig()
	cfg.ScheduleLease = 5 * time.Second
	a, b := newEngine(env, cfg), newEngine(env, cfg)
	var mu sync.Mutex
	clock := time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	engine.SetLeaseClock(a, now)
	engine.SetLeaseClock(b, now)
	ctx := context.Background()
	tickBoth := func() (ranA, ranB bool) {
		var wg sync.WaitGroup
		var ea, eb error
		wg.Add(2)
		go func() { defer wg.Done(); ranA, ea = engine.ScheduleTick(ctx, a) }()
		go func() { defer wg.Done(); ranB, eb = engine.ScheduleTick(ctx, b) }()
		wg.Wait()
		if ea != nil || eb != nil {
			t.Fatalf("ticks: %v %v", ea, eb)
		}
		return
	}
	var first *engine.Engine
	for i := 0; i < 30; i++ {
		ranA, ranB := tickBoth()
		if ranA == ranB {
			t.Fatalf("tick %d: a ran %v, b ran %v; want exactly one", i, ranA, ranB)
		}
		cur := a
		if ranB {
			cur = b
		}
		if first == nil {
			first = cur
		} else if cur != first {
			t.Fatalf("tick %d: the lease moved from a live holder", i)
		}
		advance(time.Second)
	}
	other := b
	if first == b {
		other = a
	}
	// The holder dies: the other does not run a tick until the lease has run out.
	for i := 0; i < 4; i++ {
		if ran, err := engine.ScheduleTick(ctx, other); err != nil || ran {
			t.Fatalf("%ds after the holder's last tick: ran %v, %v", i, ran, err)
		}
		advance(time.Second)
	}
	advance(time.Second + time.Millisecond) // 5.001 s after the last renewal
	if ran, err := engine.ScheduleTick(ctx, other); err != nil || !ran {
		t.Fatalf("after the lease ran out: ran %v, %v", ran, err)
	}
	// The old holder, back, finds the lease taken.
	if ran, err := engine.ScheduleTick(ctx, first); err != nil || ran {
		t.Fatalf("old holder after the take-over: ran %v, %v", ran, err)
	}
	if n := env.Count(`SELECT term FROM engine_leases WHERE name = 'schedule'`); n != 31 {
		t.Fatalf("lease term %d, want 31 (30 ticks and one take-over)", n)
	}
}

// TestRunningSchedulerHoldsTheLeaseAndGivesItUp: a started engine's schedule loop ticks
// through the lease (it becomes the holder), and a clean stop gives the lease up at once.
func TestRunningSchedulerHoldsTheLeaseAndGivesItUp(t *testing.T) {
	env := servertest.New(t)
	e := newEngine(env, fastConfig())
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	holder := func() string {
		var h *string
		if err := env.DB.Get(&h, `SELECT holder FROM engine_leases WHERE name = 'schedule'`); err != nil {
			t.Fatal(err)
		}
		if h == nil {
			return ""
		}
		return *h
	}
	// Wait on the state: the lease's holder.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(20 * time.Second); holder() != e.ID(); <-tick.C {
		if time.Now().After(deadline) {
			t.Fatalf("the running engine never took the lease (holder %q)", holder())
		}
	}
	cancel()
	e.Wait()
	if h := holder(); h != "" {
		t.Fatalf("holder %q after a clean stop", h)
	}
	if err := e.Check(); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("check after the stop: %v", err)
	}
}
