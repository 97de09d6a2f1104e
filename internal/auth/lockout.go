package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/internal/platform/errs"
)

// Staff login lockout.
//
// A lock that any source can put on an account lets an attacker lock staff out: five wrong
// passwords for a predictable name (`admin`, `<village>-admin`) used to lock it for everyone.
// Failures are therefore counted per (username, source IP), and only that pair is locked:
//
//   - Pair lock: after MaxFailures failures in a row from one IP for one username, that IP may
//     not try that username for 1 minute; each further lock of the same pair doubles (1, 2, 4,
//     8 minutes...) up to the configured lockout (15 minutes). The pair's record is kept for
//     24 hours after its last failure; a successful login from the pair clears it.
//   - Account under wide attack: once a username has had accountMaxFactor x MaxFailures (50)
//     failures from any sources within one lockout window (15 minutes), every further failure
//     from a source that has not logged in as that user in the last 30 days locks that source
//     at once (growing as above). Sources that have logged in as the user before keep their
//     normal allowance, and a right password is accepted from any source that is not locked,
//     so the real user is slowed at worst, never locked out.
//   - Per IP across all usernames: the route's GCRA limit (auth.login_rate_per_ip a minute).
//
// Everything is keyed by the username as typed, whether or not it exists, and answered from
// the same code path, so a real and an unknown name are indistinguishable: same status, code,
// message and Retry-After, counting down from the same lock start. The state lives in Redis
// (like the rate limits); if Redis is down, login answers 503 rather than run unprotected.
const (
	lockBase         = time.Minute
	accountMaxFactor = 10
	pairMemory       = 24 * time.Hour
	trustMemory      = 30 * 24 * time.Hour
)

type loginGuard struct {
	rdb         redis.UniversalClient
	prefix      string
	maxFailures int
	base, cap   time.Duration
	window      time.Duration
	accountMax  int
}

func newLoginGuard(rdb redis.UniversalClient, prefix string, l LoginLimits) *loginGuard {
	return &loginGuard{rdb: rdb, prefix: prefix + "login:", maxFailures: l.MaxFailures,
		base: min(lockBase, l.Lockout), cap: l.Lockout, window: l.Lockout, accountMax: accountMaxFactor * l.MaxFailures}
}

func keyHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

// A username's keys share a Redis Cluster hash tag, the hash of the username: the failure
// script and the success transaction use the pair, account and trust keys together.
func (g *loginGuard) tag(username string) string { return "{" + keyHash(username) + "}" }

func (g *loginGuard) pairKey(username, ip string) string {
	return g.prefix + "pair:" + g.tag(username) + ":" + keyHash(username, ip)
}
func (g *loginGuard) trustKey(username, ip string) string {
	return g.prefix + "trust:" + g.tag(username) + ":" + keyHash(username, ip)
}
func (g *loginGuard) accountKey(username string) string {
	return g.prefix + "acct:" + g.tag(username)
}

func unavailable(err error) error {
	e := errs.Wrap(errs.Unavailable, err, "服务暂时不可用，请稍后再试")
	e.RetryAfter = 5 * time.Second
	return e
}

// locked answers how long the pair is still locked (0 if it is not).
func (g *loginGuard) locked(ctx context.Context, username, ip string, now time.Time) (time.Duration, error) {
	v, err := g.rdb.HGet(ctx, g.pairKey(username, ip), "u").Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, unavailable(err)
	}
	until, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, nil
	}
	if left := time.UnixMilli(until).Sub(now); left > 0 {
		return left, nil
	}
	return 0, nil
}

// failScript counts a failure for the account and the pair and locks the pair when its
// threshold is reached; it answers the lock length in milliseconds (0: not locked).
// KEYS: pair, account, trust. ARGV: now ms, max failures, base ms, cap ms, window ms,
// account max, pair memory ms.
var failScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[5])
local start = tonumber(redis.call('HGET', KEYS[2], 's')) or 0
local n
if start == 0 or now - start >= window then
  redis.call('HSET', KEYS[2], 's', now, 'n', 1)
  n = 1
else
  n = redis.call('HINCRBY', KEYS[2], 'n', 1)
end
redis.call('PEXPIRE', KEYS[2], window * 2)
local limit = tonumber(ARGV[2])
if n - 1 >= tonumber(ARGV[6]) and redis.call('EXISTS', KEYS[3]) == 0 then
  limit = 1
end
local fails = redis.call('HINCRBY', KEYS[1], 'f', 1)
local lock = 0
if fails >= limit then
  local strikes = redis.call('HINCRBY', KEYS[1], 'k', 1)
  local cap = tonumber(ARGV[4])
  lock = cap
  if strikes <= 30 then
    lock = math.min(cap, tonumber(ARGV[3]) * 2 ^ (strikes - 1))
  end
  redis.call('HSET', KEYS[1], 'f', 0, 'u', now + lock)
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[7]))
return lock
`)

// fail records a failed attempt and answers the lock it imposed on the pair (0 if none).
func (g *loginGuard) fail(ctx context.Context, username, ip string, now time.Time) (time.Duration, error) {
	ms, err := failScript.Run(ctx, g.rdb,
		[]string{g.pairKey(username, ip), g.accountKey(username), g.trustKey(username, ip)},
		now.UnixMilli(), g.maxFailures, g.base.Milliseconds(), g.cap.Milliseconds(), g.window.Milliseconds(),
		g.accountMax, pairMemory.Milliseconds()).Int64()
	if err != nil {
		return 0, unavailable(err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// succeed clears the pair and remembers the source as one the user logs in from.
func (g *loginGuard) succeed(ctx context.Context, username, ip string) error {
	_, err := g.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, g.pairKey(username, ip))
		p.Set(ctx, g.trustKey(username, ip), 1, trustMemory)
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}
