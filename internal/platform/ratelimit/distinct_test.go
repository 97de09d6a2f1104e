package ratelimit_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/canbao/canbao/internal/platform/dbtest"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/ratelimit"
	"github.com/go-redis/redis_rate/v10"
)

func code(err error) string {
	var e *errs.Error
	if errors.As(err, &e) {
		return string(e.Code)
	}
	return ""
}

// AllowDistinct spends the same bucket as Allow and limits distinct members in one round trip.
func TestAllowDistinct(t *testing.T) {
	rdb, prefix := dbtest.Redis(t)
	l := ratelimit.New(rdb, prefix)
	ctx := context.Background()
	limit := redis_rate.Limit{Rate: 4, Burst: 4, Period: time.Hour}
	refusal := errs.New(errs.RateLimited, "too many distinct")
	set := prefix + "set" + ratelimit.Tag("reg", "7")
	d := func(m string) ratelimit.Distinct {
		return ratelimit.Distinct{Key: set, Member: m, Max: 2, KeyLifetime: time.Hour, Refusal: refusal}
	}
	for _, m := range []string{"a", "b", "a"} {
		if err := l.AllowDistinct(ctx, "reg", "7", limit, d(m)); err != nil {
			t.Fatalf("member %s: %v", m, err)
		}
	}
	// A third distinct member is refused and not kept; it spent the fourth unit.
	if err := l.AllowDistinct(ctx, "reg", "7", limit, d("c")); err != refusal {
		t.Fatalf("third member: %v", err)
	}
	if ms, _ := rdb.SMembers(ctx, set).Result(); len(ms) != 2 {
		t.Fatalf("set holds %v", ms)
	}
	if ttl := rdb.TTL(ctx, set).Val(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("set lifetime %v", ttl)
	}
	// The bucket is Allow's: it is spent, so Allow refuses too, and so does AllowDistinct,
	// with a Retry-After, adding no member.
	if err := l.Allow(ctx, "reg", "7", limit); code(err) != string(errs.RateLimited) {
		t.Fatalf("Allow after four units: %v", err)
	}
	err := l.AllowDistinct(ctx, "reg", "7", limit, ratelimit.Distinct{Key: prefix + "set2" + ratelimit.Tag("reg", "7"), Member: "x", Max: 2, KeyLifetime: time.Hour, Refusal: refusal})
	var e *errs.Error
	if !errors.As(err, &e) || e == refusal || e.Code != errs.RateLimited || e.RetryAfter < time.Second {
		t.Fatalf("over the rate: %v", err)
	}
	if n := rdb.Exists(ctx, prefix+"set2"+ratelimit.Tag("reg", "7")).Val(); n != 0 {
		t.Fatal("a request refused by the rate limit added a member")
	}
	// Another key has its own bucket.
	if err := l.AllowDistinct(ctx, "reg", "8", limit, ratelimit.Distinct{Key: prefix + "set8" + ratelimit.Tag("reg", "8"), Member: "x", Max: 2, KeyLifetime: time.Hour, Refusal: refusal}); err != nil {
		t.Fatal(err)
	}
	// A set without the bucket's hash tag would be CROSSSLOT in a Redis Cluster: refused on
	// any Redis, before the script runs (the bucket is not spent, the set not written).
	err = l.AllowDistinct(ctx, "reg", "9", limit, ratelimit.Distinct{Key: prefix + "set9", Member: "x", Max: 2, KeyLifetime: time.Hour, Refusal: refusal})
	if err == nil || !strings.Contains(err.Error(), "hash tag") {
		t.Fatalf("a set without the tag: %v", err)
	}
	if n := rdb.Exists(ctx, prefix+"set9").Val(); n != 0 {
		t.Fatal("the untagged set was written")
	}
	if err := l.Allow(ctx, "reg", "9", redis_rate.Limit{Rate: 1, Burst: 1, Period: time.Hour}); err != nil {
		t.Fatalf("the refused call spent the bucket: %v", err)
	}
}
