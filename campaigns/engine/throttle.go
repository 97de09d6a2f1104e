package engine

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/campaigns"
)

// Sends are throttled twice, both in Redis (GCRA, shared by every instance): per channel, at
// the configured limit (ChannelRates; none for a channel not listed), and per campaign, at its
// rate_per_minute when it has one (a campaign may ask for less than its channel allows, never
// more). A batch takes its tokens at once, as many as the limits allow (AllowAtMost); what gets
// none within throttleWait stays queued, unclaimed, and is fed again.

func (e *Engine) campaignKey(id int64) string {
	return e.Prefix + "engine:rate:" + strconv.FormatInt(id, 10)
}
func (e *Engine) channelKey(ch string) string { return e.Prefix + "engine:chrate:" + ch }

// throttleBatch returns the items that got tokens: per campaign and first channel, in order.
func (e *Engine) throttleBatch(stop context.Context, items []*item) []*item {
	type key struct {
		campaign int64
		channel  string
	}
	groups := map[key][]*item{}
	var order []key
	for _, it := range items {
		k := key{it.d.Campaign, it.plan.channels[0]}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], it)
	}
	allowed := make(map[*item]bool, len(items))
	deadline := time.Now().Add(throttleWait)
	for _, k := range order {
		g := groups[k]
		n := e.tokens(stop, &g[0].c, k.channel, len(g), deadline)
		for _, it := range g[:n] {
			allowed[it] = true
		}
	}
	out := items[:0:0]
	for _, it := range items {
		if allowed[it] {
			out = append(out, it)
		}
	}
	return out
}

// tokens takes up to n tokens for sends of campaign c through ch, waiting for them until
// deadline (or until stop ends), and returns how many it got.
func (e *Engine) tokens(stop context.Context, c *campaigns.Campaign, ch string, n int, deadline time.Time) int {
	got := 0
	for got < n {
		a, wait, err := e.take(stop, c, ch, n-got)
		if err != nil {
			if stop.Err() == nil {
				e.Log.Warn("engine: rate", "campaign", c.ID, "channel", ch, "err", err)
			}
			return got
		}
		got += a
		if got == n || a > 0 {
			continue
		}
		if wait <= 0 || stop.Err() != nil || time.Now().Add(wait).After(deadline) {
			return got
		}
		sleep(stop, wait)
	}
	return got
}

// take takes up to n tokens from the campaign's limit, then as many of those from the
// channel's, giving the campaign back what the channel refused. It returns how many it got,
// or, with none, how long until one may come.
func (e *Engine) take(ctx context.Context, c *campaigns.Campaign, ch string, n int) (int, time.Duration, error) {
	a := n
	rate := c.Spec.RatePerMinute
	if rate > 0 {
		res, err := e.limiter.AllowAtMost(ctx, e.campaignKey(c.ID), redisRateLimit(rate), a)
		if err != nil {
			return 0, 0, err
		}
		if res.Allowed == 0 {
			return 0, res.RetryAfter, nil
		}
		a = res.Allowed
	}
	lim := e.cfg.ChannelRates[ch]
	if lim <= 0 {
		return a, 0, nil
	}
	res, err := e.limiter.AllowAtMost(ctx, e.channelKey(ch), redisRateLimit(lim), a)
	if err != nil {
		return 0, 0, err
	}
	if rate > 0 && res.Allowed < a {
		e.giveBack(ctx, c, rate, a-res.Allowed)
	}
	if res.Allowed == 0 {
		return 0, res.RetryAfter, nil
	}
	return res.Allowed, 0, nil
}

// giveBack returns n unused tokens to a campaign's limit: it moves the GCRA's theoretical
// arrival time back by n emission intervals, and deletes the key when the bucket is full again.
// (redis_rate's AllowN with a negative cost does not write a bucket that would end full, so the
// last give-back before a pause was lost.)
func (e *Engine) giveBack(ctx context.Context, c *campaigns.Campaign, rate, n int) {
	lim := redisRateLimit(rate)
	interval := lim.Period.Seconds() / float64(lim.Rate)
	err := giveBackScript.Run(ctx, e.Redis, []string{rateKeyPrefix + e.campaignKey(c.ID)}, interval*float64(n)).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		e.Log.Warn("engine: rate", "campaign", c.ID, "err", err)
	}
}

// rateKeyPrefix is the prefix redis_rate puts before every key it is given.
const rateKeyPrefix = "rate:"

// giveBackScript: KEYS[1] a redis_rate GCRA key, ARGV[1] seconds to move its arrival time back.
// The time base is redis_rate's (seconds since 2017-01-01, from Redis TIME).
var giveBackScript = redis.NewScript(`
local tat = redis.call("GET", KEYS[1])
if not tat then return 0 end
local t = redis.call("TIME")
local now = (t[1] - 1483228800) + (t[2] / 1000000)
local new_tat = tonumber(tat) - tonumber(ARGV[1])
if new_tat <= now then
  redis.call("DEL", KEYS[1])
else
  redis.call("SET", KEYS[1], new_tat, "EX", math.ceil(new_tat - now))
end
return 1
`)

// fallbackToken takes a token of a channel further down a delivery's chain (the batch took
// tokens for the first one), waiting up to throttleWait; false when none came.
func (e *Engine) fallbackToken(ctx context.Context, c *campaigns.Campaign, ch string) bool {
	lim := e.cfg.ChannelRates[ch]
	if lim <= 0 {
		return true
	}
	deadline := time.Now().Add(throttleWait)
	for {
		res, err := e.limiter.Allow(ctx, e.channelKey(ch), redisRateLimit(lim))
		if err != nil {
			e.Log.Warn("engine: rate", "channel", ch, "err", err)
			return false
		}
		if res.Allowed > 0 {
			return true
		}
		if time.Now().Add(res.RetryAfter).After(deadline) {
			return false
		}
		sleep(ctx, res.RetryAfter)
	}
}
