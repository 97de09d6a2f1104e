package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/internal/platform/errs"
)

// allowDistinct is redis_rate's GCRA script (the same key and arithmetic as Allow, so both
// spend one bucket) followed, when the bucket allowed the request, by a limit on the distinct
// members of a set: add, count, expire, and take out again a new member that pushed the set
// over its limit. One round trip instead of two.
var allowDistinct = redis.NewScript(`
redis.replicate_commands()
local rate_limit_key = KEYS[1]
local set_key = KEYS[2]
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local member = ARGV[4]
local max_members = tonumber(ARGV[5])
local set_ttl = tonumber(ARGV[6])

local emission_interval = period / rate
local increment = emission_interval
local burst_offset = emission_interval * burst
local jan_1_2017 = 1483228800
local now = redis.call("TIME")
now = (now[1] - jan_1_2017) + (now[2] / 1000000)
local tat = redis.call("GET", rate_limit_key)
if not tat then
  tat = now
else
  tat = tonumber(tat)
end
tat = math.max(tat, now)
local new_tat = tat + increment
local allow_at = new_tat - burst_offset
local diff = now - allow_at
if diff / emission_interval < 0 then
  return {0, tostring(diff * -1)}
end
local reset_after = new_tat - now
if reset_after > 0 then
  redis.call("SET", rate_limit_key, new_tat, "EX", math.ceil(reset_after))
end

local added = redis.call("SADD", set_key, member)
local card = redis.call("SCARD", set_key)
redis.call("EXPIRE", set_key, set_ttl)
if added == 1 and card > max_members then
  redis.call("SREM", set_key, member)
  return {2, "0"}
end
return {1, "0"}
`)

// Distinct is a limit on the distinct members of a set kept under Key for KeyLifetime.
type Distinct struct {
	Key         string // full Redis key of the set; it carries Tag(name, key) (the script uses both keys)
	Member      string
	Max         int
	KeyLifetime time.Duration
	Refusal     *errs.Error // answered when a new member would exceed Max
}

// AllowDistinct is Allow(name, key, limit) and then, if it allows, the distinct-member limit d,
// in one Redis round trip. A request refused by the rate limit adds no member; a member refused
// by d is not kept, though the request spent its unit of the rate limit (as two calls would).
func (l *Limiter) AllowDistinct(ctx context.Context, name, key string, limit redis_rate.Limit, d Distinct) error {
	bucket := "rate:" + l.bucket(name, key)
	if hashTag(d.Key) != hashTag(bucket) {
		return fmt.Errorf("ratelimit: the set %q must carry the bucket's hash tag %s (ratelimit.Tag) to share its Redis Cluster slot", d.Key, Tag(name, key))
	}
	v, err := allowDistinct.Run(ctx, l.rdb, []string{bucket, d.Key},
		limit.Burst, limit.Rate, limit.Period.Seconds(), d.Member, d.Max, int64(d.KeyLifetime/time.Second)).Slice()
	if err == nil && len(v) != 2 {
		err = fmt.Errorf("ratelimit: unexpected answer %v", v)
	}
	if err != nil {
		e := errs.Wrap(errs.Unavailable, err, "服务暂时不可用，请稍后再试")
		e.RetryAfter = 5 * time.Second
		return e
	}
	code, _ := v[0].(int64)
	switch code {
	case 1:
		return nil
	case 2:
		return d.Refusal
	}
	s, _ := v[1].(string)
	retry, _ := strconv.ParseFloat(s, 64)
	e := errs.New(errs.RateLimited, "操作过于频繁，请稍后再试")
	e.RetryAfter = max(time.Duration(retry*float64(time.Second)), time.Second)
	return e
}
