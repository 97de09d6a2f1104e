package server_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/campaigns/channels"
	"github.com/canbao/canbao/campaigns/engine"
	"github.com/canbao/canbao/internal/server/servertest"
)

func readyEngine(t *testing.T, env *servertest.Env) (code int, check string) {
	t.Helper()
	w := env.Do(servertest.Request{Method: "GET", Path: "/readyz"})
	var body struct {
		Status string
		Checks map[string]string
	}
	w.JSON(t, &body)
	if (w.Code == 200) != (body.Status == "ready") || (w.Code == 503 && w.Header.Get("Retry-After") == "") {
		t.Fatalf("readyz: %d %s", w.Code, w.Body)
	}
	return w.Code, body.Checks["engine"]
}

func buildEngine(env *servertest.Env, cfg engine.Config) *engine.Engine {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return engine.New(engine.Deps{DB: env.DB, Redis: env.Redis, Prefix: env.Prefix, Keyring: env.Keyring, Rules: env.Rules,
		Location: env.Config.Location(), Log: log, Counters: env.Server.Counters,
		Channels: map[string]channels.Channel{campaigns.ChannelLog: channels.Log{Log: log}}}, cfg)
}

// TestReadyzReportsAnEngineThatCannotStart: a key of another type at the delivery stream's
// name makes the engine's XGROUP CREATE fail; /readyz, green before, answers 503 naming it.
func TestReadyzReportsAnEngineThatCannotStart(t *testing.T) {
	env := servertest.New(t)
	if code, check := readyEngine(t, env); code != 200 || check != "off" {
		t.Fatalf("readyz without an engine: %d %q", code, check)
	}
	ctx := context.Background()
	if err := env.Redis.Set(ctx, engine.StreamKeys(env.Prefix)[0], "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	e := buildEngine(env, engine.DefaultConfig())
	env.Server.WatchEngine(e.Check)
	if err := e.Start(ctx); err == nil {
		t.Fatal("the engine started on a string at its stream's name")
	}
	if code, check := readyEngine(t, env); code != 503 || !strings.Contains(check, "failed to start") || !strings.Contains(check, "WRONGTYPE") {
		t.Fatalf("readyz with an engine that did not start: %d %q", code, check)
	}
}

// TestReadyzFollowsADeadWorker: /readyz is 200 while the engine runs, 503 naming the loop while
// a worker is dead after a panic, and 200 again once the supervisor has restarted it.
func TestReadyzFollowsADeadWorker(t *testing.T) {
	env := servertest.New(t)
	cfg := engine.DefaultConfig()
	cfg.Workers, cfg.RestartBackoff = 2, time.Millisecond
	e := buildEngine(env, cfg)
	env.Server.WatchEngine(e.Check)
	kill, dead, release, back := make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})
	var killed atomic.Bool
	engine.OnRound(e, func(loop string) {
		if loop != "worker-0" {
			return
		}
		select {
		case <-kill:
			if killed.CompareAndSwap(false, true) {
				panic("boom")
			}
		default:
		}
	})
	var restarted atomic.Bool
	engine.OnHealth(e, func(loop, state string, err error) {
		if loop != "worker-0" || !killed.Load() {
			return
		}
		switch state {
		case engine.LoopDead:
			close(dead)
			<-release
		case engine.LoopRunning:
			if restarted.CompareAndSwap(false, true) {
				close(back)
			}
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); e.Wait() }()
	if code, check := readyEngine(t, env); code != 200 || check != "ok" {
		t.Fatalf("readyz with a running engine: %d %q", code, check)
	}
	close(kill)
	waitClosed(t, dead, "worker-0 never died")
	code, check := readyEngine(t, env)
	if code != 503 || !strings.Contains(check, "loop worker-0 dead") || !strings.Contains(check, "panic: boom") {
		t.Fatalf("readyz with a dead worker: %d %q", code, check)
	}
	close(release)
	waitClosed(t, back, "worker-0 was never restarted")
	if code, check := readyEngine(t, env); code != 200 || check != "ok" {
		t.Fatalf("readyz after the restart: %d %q", code, check)
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}, msg string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatal(msg)
	}
}
