// Package village serves the villages (村/居) of the town.
package village

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/web"
)

//go:embed queries.sql
var queryFS embed.FS

// Queries are the package's named SQL, checked against the server at start-up.
var Queries = database.RegisterQueries("village", queryFS, "queries.sql")

// Village is one village or community of the town.
type Village struct {
	Code string `db:"code" json:"code"`
	Name string `db:"name" json:"name"`
}

// Store reads villages. A store built with NewCachedStore keeps them in process (see Changed).
type Store struct {
	db    *sqlx.DB
	cache *cache // nil: every read goes to MySQL
}

// NewStore wires a store that reads MySQL on every call.
func NewStore(db *sqlx.DB) *Store { return &Store{db: db} }

// NewCachedStore wires a store that keeps the villages, and the rendered GET /villages answer,
// in process. Every instance re-reads a generation number under keyPrefix+"village:gen" at most
// every LocalGenerationTTL and reloads when it moved (Changed moves it), and reloads anyway
// when its copy is older than MaxAge (villages written without Changed, e.g. by the seed).
// MySQL stays the truth: a code missing from the copy is looked up there, and when Redis is
// down the store reads MySQL.
func NewCachedStore(db *sqlx.DB, rdb redis.UniversalClient, keyPrefix string) *Store {
	return &Store{db: db, cache: &cache{rdb: rdb, key: keyPrefix + "village:gen", gen: -1}}
}

// LocalGenerationTTL bounds how long an instance trusts its copy of the generation: the
// longest another instance's change takes to show here. MaxAge bounds a copy's age.
var (
	LocalGenerationTTL = 500 * time.Millisecond
	MaxAge             = 30 * time.Second
)

// Changed tells every instance's cached store that the villages changed; whoever writes the
// villages table calls it after the commit.
func Changed(ctx context.Context, rdb redis.UniversalClient, keyPrefix string) error {
	return rdb.Incr(ctx, keyPrefix+"village:gen").Err()
}

// snapshot is one load of the villages.
type snapshot struct {
	list   []Village
	codes  map[string]struct{}
	body   []byte // the JSON of GET /villages
	loaded time.Time
}

type cache struct {
	rdb     redis.UniversalClient
	key     string
	mu      sync.Mutex
	gen     int64 // generation of snap; -1 before the first load
	checked time.Time
	snap    *snapshot
	loading sync.Mutex // one reload at a time
}

// fresh: the copy may be served without asking Redis (c.mu held).
func (c *cache) fresh() bool {
	return c.snap != nil && time.Since(c.checked) < LocalGenerationTTL && time.Since(c.snap.loaded) < MaxAge
}

// current returns a fresh enough snapshot, loading it when the generation moved or it is too
// old; an error means the caller should read MySQL.
func (s *Store) current(ctx context.Context) (*snapshot, error) {
	c := s.cache
	c.mu.Lock()
	snap, gen, fresh := c.snap, c.gen, c.fresh()
	c.mu.Unlock()
	if fresh {
		return snap, nil
	}
	c.loading.Lock()
	defer c.loading.Unlock()
	c.mu.Lock()
	if c.snap != snap || c.gen != gen { // another request reloaded meanwhile
		snap, gen = c.snap, c.gen
		if c.fresh() {
			c.mu.Unlock()
			return snap, nil
		}
	}
	c.mu.Unlock()
	// The generation is read before MySQL: a load that raced a change is stored under the old
	// generation, and the next check reloads.
	g, err := c.rdb.Get(ctx, c.key).Int64()
	if errors.Is(err, redis.Nil) {
		g, err = 0, nil
	}
	if err != nil {
		return nil, err
	}
	if snap != nil && g == gen && time.Since(snap.loaded) < MaxAge {
		c.mu.Lock()
		c.checked = time.Now()
		c.mu.Unlock()
		return snap, nil
	}
	list, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(web.NewList(list, len(list)))
	if err != nil {
		return nil, err
	}
	next := &snapshot{list: list, codes: make(map[string]struct{}, len(list)), body: body, loaded: time.Now()}
	for _, v := range list {
		next.codes[v.Code] = struct{}{}
	}
	c.mu.Lock()
	c.snap, c.gen, c.checked = next, g, time.Now()
	c.mu.Unlock()
	return next, nil
}

func (s *Store) load(ctx context.Context) ([]Village, error) {
	var vs []Village
	err := s.db.SelectContext(ctx, &vs, Queries.Get("villages-list"))
	return vs, database.Map(err)
}

// List returns every village in the annex's order.
func (s *Store) List(ctx context.Context) ([]Village, error) {
	if s.cache != nil {
		if snap, err := s.current(ctx); err == nil {
			return append([]Village(nil), snap.list...), nil
		}
	}
	return s.load(ctx)
}

// Exists reports whether a village code is known. A cached store answers a known code from
// memory and asks MySQL about any other (a village added since the copy was made).
func (s *Store) Exists(ctx context.Context, code string) (bool, error) {
	if s.cache != nil {
		if snap, err := s.current(ctx); err == nil {
			if _, ok := snap.codes[code]; ok {
				return true, nil
			}
		}
	}
	var n int
	err := s.db.GetContext(ctx, &n, Queries.Get("village-exists"), code)
	return n > 0, database.Map(err)
}

// Routes registers GET /api/v1/villages (public: the registration form needs it).
func (s *Store) Routes(r *auth.Router) {
	r.Handle(http.MethodGet, "/api/v1/villages", auth.PublicCacheable(), web.H(func(c *gin.Context) error {
		if s.cache != nil {
			if snap, err := s.current(c.Request.Context()); err == nil {
				c.Header("Cache-Control", "public, max-age=300")
				c.Data(http.StatusOK, "application/json; charset=utf-8", snap.body)
				return nil
			}
		}
		vs, err := s.load(c.Request.Context())
		if err != nil {
			return err
		}
		c.Header("Cache-Control", "public, max-age=300")
		c.JSON(http.StatusOK, web.NewList(vs, len(vs)))
		return nil
	}))
}
