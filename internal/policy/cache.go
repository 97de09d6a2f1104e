package policy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
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
	rdb    *redis.Client
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
func (c *cache) bump(ctx context.Context) error {
	return c.rdb.Incr(ctx, c.genKey()).Err()
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
