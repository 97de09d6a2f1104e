// Package ratelimit applies GCRA limits kept in Redis (go-redis/redis_rate), shared by every
// instance: login per IP and per account, registrations per openid, reveals per staff member.
package ratelimit

import (
	"context"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/web"
)

// Limiter checks named limits.
type Limiter struct {
	l      *redis_rate.Limiter
	rdb    redis.UniversalClient
	prefix string
}

// New wires a limiter; keys live under prefix + "rl:", each with its own Redis Cluster hash
// tag (Tag).
func New(rdb redis.UniversalClient, prefix string) *Limiter {
	return &Limiter{l: redis_rate.NewLimiter(rdb), rdb: rdb, prefix: prefix + "rl:"}
}

// Tag is the Redis Cluster hash tag of the named bucket of key: a key used with the bucket in
// one script (AllowDistinct's set) must carry it, after a prefix without braces.
func Tag(name, key string) string {
	return "{" + strings.NewReplacer("{", "(", "}", ")").Replace(name+":"+key) + "}"
}

// bucket is the key of the named bucket of key (redis_rate puts "rate:" before it).
func (l *Limiter) bucket(name, key string) string { return l.prefix + Tag(name, key) }

// hashTag is what Redis Cluster hashes of key: the text between the first { and the first }
// after it, when not empty; else the whole key.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

// PerMinute is n requests a minute with a burst of n.
func PerMinute(n int) redis_rate.Limit { return redis_rate.PerMinute(n) }

// PerDay is n events a day with a burst of n.
func PerDay(n int) redis_rate.Limit {
	return redis_rate.Limit{Rate: n, Burst: n, Period: 24 * time.Hour}
}

// Allow spends one unit of the named bucket or answers RATE_LIMITED with Retry-After. When
// Redis is down the request is refused with 503 rather than let through unlimited.
func (l *Limiter) Allow(ctx context.Context, name, key string, limit redis_rate.Limit) error {
	res, err := l.l.Allow(ctx, l.bucket(name, key), limit)
	if err != nil {
		e := errs.Wrap(errs.Unavailable, err, "服务暂时不可用，请稍后再试")
		e.RetryAfter = 5 * time.Second
		return e
	}
	if res.Allowed == 0 {
		e := errs.New(errs.RateLimited, "操作过于频繁，请稍后再试")
		e.RetryAfter = max(res.RetryAfter, time.Second)
		return e
	}
	return nil
}

// PerIP limits a route by client IP (gin's ClientIP, which trusts only configured proxies).
func (l *Limiter) PerIP(name string, limit redis_rate.Limit) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := l.Allow(c.Request.Context(), name, c.ClientIP(), limit); err != nil {
			web.Fail(c, err)
			return
		}
		c.Next()
	}
}
