package policy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// CacheTTL is how long a rendered answer stays in Redis; edits invalidate it sooner.
const CacheTTL = 10 * time.Minute

// Rendered is a public answer ready to send: its JSON body and its strong ETag.
type Rendered struct {
	Body []byte
	ETag string
}

func render(body []byte) Rendered {
	sum := sha256.Sum256(body)
	return Rendered{Body: body, ETag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// cache keeps rendered answers in Redis under keys that carry the current generation.
type cache struct {
	rdb    redis.UniversalClient
	prefix string
}

func (c *cache) genKey() string { return c.prefix + "policy:gen" }

// generation reads the current generation (0 before the first edit).
func (c *cache) generation(ctx context.Context) (int64, error) {
	g, err := c.rdb.Get(ctx, c.genKey()).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return g, err
}

// bump moves to a new generation, which orphans every cached answer of every instance.
func (c *cache) bump(ctx context.Context) (int64, error) {
	return c.rdb.Incr(ctx, c.genKey()).Result()
}

// LocalGenerationTTL bounds how long an instance trusts its copy of the generation: the
// longest another instance's edit takes to show here.
var LocalGenerationTTL = 500 * time.Millisecond

// maxLocal bounds the in-process answers kept for one generation.
const maxLocal = 2048

// localCache keeps rendered answers of the current generation in process, so a hot article
// costs no Redis round trip at all.
type localCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	gen     int64
	checked time.Time
	answers map[string]Rendered
}

func newLocalCache(ttl time.Duration) *localCache {
	return &localCache{ttl: ttl, gen: -1, answers: map[string]Rendered{}}
}

// generation returns the current generation, reading it from Redis when the local copy is
// older than the TTL.
func (l *localCache) generation(ctx context.Context, read func(context.Context) (int64, error)) (int64, error) {
	l.mu.Lock()
	if l.gen >= 0 && time.Since(l.checked) < l.ttl {
		g := l.gen
		l.mu.Unlock()
		return g, nil
	}
	l.mu.Unlock()
	g, err := read(ctx)
	if err != nil {
		return 0, err
	}
	l.advance(g)
	return g, nil
}

// advance records generation g as current, dropping answers of older generations.
func (l *localCache) advance(g int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if g != l.gen {
		l.gen, l.answers = g, map[string]Rendered{}
	}
	l.checked = time.Now()
}

func (l *localCache) get(gen int64, key string) (Rendered, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if gen != l.gen {
		return Rendered{}, false
	}
	r, ok := l.answers[key]
	return r, ok
}

func (l *localCache) put(gen int64, key string, r Rendered) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if gen != l.gen {
		return
	}
	if len(l.answers) >= maxLocal {
		l.answers = map[string]Rendered{}
	}
	l.answers[key] = r
}

// articleKey names the cached answer of one slug in generation gen.
func (c *cache) articleKey(gen int64, slug string) string {
	return c.prefix + "policy:" + strconv.FormatInt(gen, 10) + ":article:" + slug
}

// listKey names the cached answer of one list query in generation gen. The query is hashed:
// the words residents search for stay out of Redis keys.
func (c *cache) listKey(gen int64, category, q string, page, size int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%d\x00%d", category, q, page, size))
	return c.prefix + "policy:" + strconv.FormatInt(gen, 10) + ":list:" + hex.EncodeToString(sum[:16])
}

// get returns a cached answer; ok is false on a miss.
func (c *cache) get(ctx context.Context, key string) (r Rendered, ok bool, err error) {
	v, err := c.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return r, false, nil
	}
	if err != nil {
		return r, false, err
	}
	etag, body, found := bytes.Cut(v, []byte("\n"))
	if !found {
		return r, false, nil // not ours: treat as a miss and overwrite it
	}
	return Rendered{ETag: string(etag), Body: body}, true, nil
}

// set stores an answer as "ETag\nbody".
func (c *cache) set(ctx context.Context, key string, r Rendered) error {
	v := make([]byte, 0, len(r.ETag)+1+len(r.Body))
	v = append(append(append(v, r.ETag...), '\n'), r.Body...)
	return c.rdb.Set(ctx, key, v, CacheTTL).Err()
}
