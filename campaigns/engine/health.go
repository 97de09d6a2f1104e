package engine

import (
	"context"
	"fmt"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"
)

// Health: what /readyz is told about this instance's engine.
//
// Every loop of the engine (schedule, snapshot, feed, reconcile and each worker) runs under a
// supervisor. A loop beats after every round. The engine is healthy when it has started and
// no loop is
//   - dead: it panicked or returned while the engine was still meant to run; the supervisor
//     restarts it after a backoff (Config.RestartBackoff, doubling up to 30 s) and the loop
//     counts as running again once restarted;
//   - failing: its last Config.FailAfter rounds in a row returned an error (Redis or MySQL
//     refusing it); one good round clears it;
//   - silent: no beat for Config.StaleAfter (a loop stuck in a call that never returns).
//
// A start-up error (the stream group cannot be created, the villages cannot be read) leaves the
// engine not started: Start returns the error and Check keeps answering it.

// Loop states.
const (
	LoopRunning = "running"
	LoopFailing = "failing"
	LoopDead    = "dead"
	LoopStopped = "stopped"
)

type loopHealth struct {
	state    string
	lastErr  string
	failures int
	beat     time.Time
	restarts int
}

type health struct {
	mu       sync.Mutex
	phase    string // "new", "started", "failed", "stopped"
	startErr error
	loops    map[string]*loopHealth
}

// LoopStatus is one loop's health.
type LoopStatus struct {
	State    string    `json:"state"`
	LastErr  string    `json:"last_error,omitempty"`
	Failures int       `json:"failures,omitempty"`
	Beat     time.Time `json:"beat"`
	Restarts int       `json:"restarts,omitempty"`
}

// Check returns nil when the engine runs and every loop is healthy, else an error naming the
// first part that is not (start-up, or a loop by name).
func (e *Engine) Check() error {
	h := &e.health
	h.mu.Lock()
	defer h.mu.Unlock()
	switch h.phase {
	case "new":
		return fmt.Errorf("engine not started")
	case "failed":
		return fmt.Errorf("engine failed to start: %v", h.startErr)
	case "stopped":
		return fmt.Errorf("engine stopped")
	}
	now := e.now()
	names := make([]string, 0, len(h.loops))
	for n := range h.loops {
		names = append(names, n)
	}
	sort.Strings(names)
	var bad []string
	for _, n := range names {
		l := h.loops[n]
		switch {
		case l.state == LoopDead:
			bad = append(bad, fmt.Sprintf("loop %s dead (restarts %d): %s", n, l.restarts, l.lastErr))
		case l.state == LoopFailing:
			bad = append(bad, fmt.Sprintf("loop %s failing (%d rounds in a row): %s", n, l.failures, l.lastErr))
		case l.state == LoopRunning && now.Sub(l.beat) > e.cfg.StaleAfter:
			bad = append(bad, fmt.Sprintf("loop %s silent since %s", n, l.beat.UTC().Format(time.RFC3339)))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

// Loops returns each loop's health, by name.
func (e *Engine) Loops() map[string]LoopStatus {
	h := &e.health
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]LoopStatus, len(h.loops))
	for n, l := range h.loops {
		out[n] = LoopStatus{State: l.state, LastErr: l.lastErr, Failures: l.failures, Beat: l.beat, Restarts: l.restarts}
	}
	return out
}

func (e *Engine) setPhase(phase string, err error) {
	e.health.mu.Lock()
	e.health.phase, e.health.startErr = phase, err
	e.health.mu.Unlock()
}

// setLoop moves a loop to state and tells the test hook.
func (e *Engine) setLoop(name, state string, err error) {
	h := &e.health
	h.mu.Lock()
	l := h.loops[name]
	if l == nil {
		l = &loopHealth{}
		h.loops[name] = l
	}
	l.state = state
	if err != nil {
		l.lastErr = err.Error()
	}
	switch state {
	case LoopRunning:
		l.beat, l.failures = e.now(), 0
	case LoopDead:
		l.restarts++
	}
	hook := e.healthHook
	h.mu.Unlock()
	if hook != nil {
		hook(name, state, err)
	}
}

// beat records the end of one round of a loop: err is the round's error (nil: a good round).
func (e *Engine) beat(name string, err error) {
	h := &e.health
	h.mu.Lock()
	l := h.loops[name]
	if l == nil || l.state == LoopDead || l.state == LoopStopped {
		h.mu.Unlock()
		return
	}
	l.beat = e.now()
	prev := l.state
	if err == nil {
		l.failures, l.state = 0, LoopRunning
	} else {
		l.failures++
		l.lastErr = err.Error()
		if l.failures >= e.cfg.FailAfter {
			l.state = LoopFailing
		}
	}
	state, hook := l.state, e.healthHook
	h.mu.Unlock()
	if hook != nil && state != prev {
		hook(name, state, err)
	}
}

// round is called at the top of every round of every loop (a test seam: a hook may panic to
// kill the loop).
func (e *Engine) round(name string) {
	if e.roundHook != nil {
		e.roundHook(name)
	}
}

// supervise runs body as the loop name until ctx ends: a panic or a return while ctx is live
// marks the loop dead, and the loop is started again after a backoff.
func (e *Engine) supervise(ctx context.Context, wg *sync.WaitGroup, name string, body func(context.Context) error) {
	wg.Add(1)
	e.setLoop(name, LoopRunning, nil)
	go func() {
		defer wg.Done()
		backoff := e.cfg.RestartBackoff
		for {
			err := e.runGuarded(ctx, name, body)
			if ctx.Err() != nil {
				e.setLoop(name, LoopStopped, nil)
				return
			}
			if err == nil {
				err = fmt.Errorf("returned")
			}
			e.Log.Error("engine: loop died, restarting", "loop", name, "err", err, "after", backoff.String())
			e.setLoop(name, LoopDead, err)
			select {
			case <-ctx.Done():
				e.setLoop(name, LoopStopped, nil)
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
			e.setLoop(name, LoopRunning, nil)
		}
	}()
}

func (e *Engine) runGuarded(ctx context.Context, name string, body func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
			e.Log.Error("engine: loop panicked", "loop", name, "panic", fmt.Sprint(r), "stack", firstFrames(debug.Stack()))
		}
	}()
	return body(ctx)
}

// firstFrames keeps a stack short enough for a log line.
func firstFrames(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	if len(lines) > 16 {
		lines = lines[:16]
	}
	return strings.Join(lines, "\n")
}

// OnHealth makes e call hook on every change of a loop's state, from the goroutine that changes
// it (a hook that blocks holds that loop). A seam for tests, here and in the packages that
// report the engine's health; set it before Start.
func OnHealth(e *Engine, hook func(loop, state string, err error)) { e.healthHook = hook }

// OnRound makes e call hook at the top of every round of every loop; a hook that panics kills
// the loop, as a bug would. A seam for tests; set it before Start.
func OnRound(e *Engine, hook func(loop string)) { e.roundHook = hook }
