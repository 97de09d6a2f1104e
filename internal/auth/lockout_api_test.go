package auth_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/config"
	"github.com/canbao/canbao/internal/server/servertest"
)

// fakeClock is the login service's clock in these tests: lockouts are stepped through by
// moving it, never by sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var clockStart = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// lockoutEnv is an API whose login clock is fake and whose per-IP limiter is out of the way.
func lockoutEnv(t *testing.T) (*servertest.Env, *fakeClock) {
	t.Helper()
	env := servertest.New(t, func(c *config.Config) { c.Auth.LoginRatePerIP = 10000 })
	clk := &fakeClock{t: clockStart}
	auth.SetClock(env.Server.Auth, clk.Now)
	return env, clk
}

func loginFrom(env *servertest.Env, remote, username, password string) *servertest.Response {
	return env.Do(servertest.Request{Method: "POST", Path: "/api/v1/auth/staff", Remote: remote,
		Body: map[string]string{"username": username, "password": password}})
}

// answer is what a client can see of a failed login.
type answer struct {
	Status     int
	Code       string
	RetryAfter string
	Body       string
}

func (a answer) String() string {
	return fmt.Sprintf("%d %s Retry-After=%q", a.Status, a.Code, a.RetryAfter)
}

func answerOf(w *servertest.Response) answer {
	return answer{Status: w.Code, Code: w.ErrorCode(), RetryAfter: w.Header.Get("Retry-After"), Body: string(w.Body)}
}

// TestLockoutAnswersSameForRealAndUnknownUsers drives a real and an unknown username into
// lockout along the same clock and compares everything a client sees, attempt by attempt.
func TestLockoutAnswersSameForRealAndUnknownUsers(t *testing.T) {
	env, clk := lockoutEnv(t)
	createUser(t, env, "zhenxing-admin", auth.RoleVillageAdmin, "zhenxing")
	run := func(username string) []answer {
		clk.Set(clockStart)
		var out []answer
		for i := 0; i < 9; i++ {
			out = append(out, answerOf(loginFrom(env, "198.51.100.66:4000", username, "Wrong-Password-1")))
			clk.Advance(time.Second)
		}
		return out
	}
	real := run("zhenxing-admin")
	unknown := run("zhenxing-nobody")
	t.Logf("real: %v", real)
	for i := range real {
		if real[i] != unknown[i] {
			t.Errorf("attempt %d: real %v, unknown %v", i+1, real[i], unknown[i])
		}
	}
	if real[4].Status != 429 || real[4].Code != "ACCOUNT_LOCKED" || real[4].RetryAfter == "" {
		t.Fatalf("5th failure: %v", real[4])
	}
	if real[5].RetryAfter == real[4].RetryAfter {
		t.Errorf("Retry-After does not count down: %v then %v", real[4], real[5])
	}
}

// TestLockoutIsPerSourceAndGrows: an attacker guessing `admin` locks only itself out, for
// longer each time; the real admin logs in from elsewhere at once.
func TestLockoutIsPerSourceAndGrows(t *testing.T) {
	env, clk := lockoutEnv(t)
	createUser(t, env, "admin", auth.RoleAdmin, "")
	const attacker = "198.51.100.66:4000"
	const office = "192.0.2.10:5000"
	lockRound := func(username string) answer {
		t.Helper()
		for i := 0; i < 4; i++ {
			if w := loginFrom(env, attacker, username, "Wrong-Password-1"); w.Code != 401 {
				t.Fatalf("%s failure %d: %d %s", username, i+1, w.Code, w.Body)
			}
		}
		return answerOf(loginFrom(env, attacker, username, "Wrong-Password-1"))
	}

	var locks []string
	for round := 0; round < 3; round++ {
		a := lockRound("admin")
		if a.Status != 429 || a.Code != "ACCOUNT_LOCKED" {
			t.Fatalf("round %d: %v", round+1, a)
		}
		locks = append(locks, a.RetryAfter)
		if w := loginFrom(env, attacker, "admin", goodPassword); w.Code != 429 {
			t.Fatalf("round %d: the right password from the locked source: %d", round+1, w.Code)
		}
		if w := loginFrom(env, office, "admin", goodPassword); w.Code != 200 {
			t.Fatalf("round %d: the real admin from the office: %d %s", round+1, w.Code, w.Body)
		}
		clk.Advance(31 * time.Minute) // past any lock
	}
	if want := []string{"60", "120", "240"}; fmt.Sprint(locks) != fmt.Sprint(want) {
		t.Fatalf("lock lengths %v, want %v", locks, want)
	}

	// An unknown name goes through exactly the same rounds.
	clk.Set(clockStart.Add(24 * time.Hour))
	var ghost []string
	for round := 0; round < 3; round++ {
		a := lockRound("admin-ghost")
		if a.Status != 429 || a.Code != "ACCOUNT_LOCKED" {
			t.Fatalf("unknown round %d: %v", round+1, a)
		}
		ghost = append(ghost, a.RetryAfter)
		clk.Advance(31 * time.Minute)
	}
	if fmt.Sprint(ghost) != fmt.Sprint(locks) {
		t.Fatalf("unknown name's locks %v, real account's %v", ghost, locks)
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'auth.lockout'`); n != 6 {
		t.Fatalf("lockout audit rows: %d, want 6", n)
	}
}

// TestAccountUnderWideAttack: failures for one name from many sources make every source that
// has not logged in as that user before lock after a single failure, while a source that has
// keeps its normal allowance and a right password from a new source still gets in.
func TestAccountUnderWideAttack(t *testing.T) {
	env, _ := lockoutEnv(t)
	env.SkipContract = false
	createUser(t, env, "admin", auth.RoleAdmin, "")
	const office = "192.0.2.10:5000"
	if w := loginFrom(env, office, "admin", goodPassword); w.Code != 200 {
		t.Fatalf("office login: %d", w.Code)
	}
	for _, name := range []string{"admin", "admin-ghost"} {
		for i := 0; i < 50; i++ {
			if w := loginFrom(env, fmt.Sprintf("203.0.113.%d:4000", i+1), name, "Wrong-Password-1"); w.Code != 401 {
				t.Fatalf("%s botnet attempt %d: %d %s", name, i+1, w.Code, w.Body)
			}
		}
	}
	// A fresh source gets one failure, for a real and an unknown name alike.
	for _, name := range []string{"admin", "admin-ghost"} {
		a := answerOf(loginFrom(env, "198.51.100.7:4000", name, "Wrong-Password-1"))
		if a.Status != 429 || a.Code != "ACCOUNT_LOCKED" || a.RetryAfter != "60" {
			t.Fatalf("%s from a fresh source under attack: %v", name, a)
		}
	}
	// The office, which logged in as admin before, keeps its allowance.
	if w := loginFrom(env, office, "admin", "Wrong-Password-1"); w.Code != 401 {
		t.Fatalf("office typo under attack: %d %s", w.Code, w.Body)
	}
	if w := loginFrom(env, office, "admin", goodPassword); w.Code != 200 {
		t.Fatalf("office login under attack: %d %s", w.Code, w.Body)
	}
	// The real admin on a new network with the right password gets in at the first try.
	if w := loginFrom(env, "198.51.100.8:4000", "admin", goodPassword); w.Code != 200 {
		t.Fatalf("admin from a new source under attack: %d %s", w.Code, w.Body)
	}
}
