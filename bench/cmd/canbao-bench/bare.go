package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/internal/platform/database"
)

// bareMain is `canbao-bench bare`: the baseline servers, each a bare Gin engine (no
// middleware) in its own process, as canbao is.
//
//	-kind policy  GET /api/v1/policies/:slug answers c.JSON with the fields of -json FILE
//	-kind select  GET /village/:code answers one point SELECT on villages, as JSON
//	-kind lookup  POST /registration: a registration's round trips without its write (the
//	              registration workload's ceiling): decode the JSON body, one Redis GET (the
//	              token's subject), one Redis script (the rate limit), one point SELECT of a
//	              person by blind index (the roster lookup); answers 201 with a small JSON
func bareMain(args []string) error {
	fs := flag.NewFlagSet("bare", flag.ContinueOnError)
	kind := fs.String("kind", "", "policy | select")
	addr := fs.String("addr", "", "127.0.0.1:port")
	jsonFile := fs.String("json", "", "policy: the JSON object to answer with")
	dsn := fs.String("dsn", "", "select: the database")
	conns := fs.Int("conns", 32, "select, lookup: the pool size (canbao's mysql.max_open_conns)")
	redisAddr := fs.String("redis", "", "lookup: the Redis server")
	prefix := fs.String("prefix", "", "lookup: the prefix of every Redis key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkLoopback("-addr", *addr); err != nil {
		return err
	}
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	switch *kind {
	case "policy":
		b, err := os.ReadFile(*jsonFile)
		if err != nil {
			return err
		}
		var fields map[string]any
		if err := json.Unmarshal(b, &fields); err != nil {
			return err
		}
		engine.GET("/api/v1/policies/:slug", func(c *gin.Context) {
			h := gin.H{}
			for k, v := range fields {
				h[k] = v
			}
			h["slug"] = c.Param("slug")
			c.JSON(http.StatusOK, h)
		})
	case "select":
		if _, err := parseDSNBase(dsnServer(*dsn)); err != nil {
			return err
		}
		db, err := database.Open(context.Background(), *dsn, database.Options{MaxOpenConns: *conns, MaxIdleConns: *conns, ConnMaxLifetime: time.Hour})
		if err != nil {
			return err
		}
		defer db.Close()
		engine.GET("/village/:code", func(c *gin.Context) {
			var v struct {
				Code string `db:"code" json:"code"`
				Name string `db:"name" json:"name"`
			}
			err := db.GetContext(c.Request.Context(), &v, `SELECT code, name FROM villages WHERE code = ?`, c.Param("code"))
			switch {
			case errors.Is(err, sql.ErrNoRows):
				c.JSON(http.StatusNotFound, gin.H{"error": "not found"})
			case err != nil:
				c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
			default:
				c.JSON(http.StatusOK, v)
			}
		})
	case "lookup":
		closeAll, err := lookupRoute(engine, *dsn, *conns, *redisAddr, *prefix)
		if err != nil {
			return err
		}
		defer closeAll()
	default:
		return fmt.Errorf("bare: unknown -kind %q", *kind)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: engine, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Println("bare server ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case err := <-errc:
		return err
	case <-sig:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

// lookupRoute adds the lookup kind's handler; the ID numbers it looks up are blind indexes of
// people on the roster, read once at start.
func lookupRoute(engine *gin.Engine, dsn string, conns int, redisAddr, prefix string) (func(), error) {
	if _, err := parseDSNBase(dsnServer(dsn)); err != nil {
		return nil, err
	}
	if err := checkLoopback("-redis", redisAddr); err != nil {
		return nil, err
	}
	if prefix == "" {
		return nil, errors.New("bare: -prefix is required (the bench deletes its keys by prefix)")
	}
	db, err := database.Open(context.Background(), dsn, database.Options{MaxOpenConns: conns, MaxIdleConns: conns, ConnMaxLifetime: time.Hour})
	if err != nil {
		return nil, err
	}
	var bidx [][]byte
	if err := db.Select(&bidx, `SELECT id_number_bidx FROM residents ORDER BY id LIMIT 100000`); err != nil || len(bidx) == 0 {
		db.Close()
		return nil, fmt.Errorf("bare: blind indexes of the roster: %d read, %v", len(bidx), err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	limit := redis.NewScript(`local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('EXPIRE', KEYS[1], 3600) end return n`)
	var seq atomic.Int64
	engine.POST("/registration", func(c *gin.Context) {
		var req struct {
			Name             *string `json:"name"`
			IDNumber         *string `json:"id_number"`
			Phone            *string `json:"phone"`
			VillageCode      *string `json:"village_code"`
			Scheme           *string `json:"scheme"`
			Tier             *int    `json:"tier"`
			Employed         *bool   `json:"employed"`
			LandExpropriated *bool   `json:"land_expropriated"`
		}
		if err := c.ShouldBindJSON(&req); err != nil || req.IDNumber == nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": "bad body"})
			return
		}
		ctx := c.Request.Context()
		n := seq.Add(1)
		if err := rdb.Get(ctx, fmt.Sprintf("%sceiling:subj:%d", prefix, n%4096)).Err(); err != nil && !errors.Is(err, redis.Nil) {
			c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
			return
		}
		if err := limit.Run(ctx, rdb, []string{fmt.Sprintf("%sceiling:rate:%d", prefix, n)}).Err(); err != nil {
			c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
			return
		}
		var p struct {
			ID      int64  `db:"id"`
			Village string `db:"village_code"`
			Status  string `db:"status"`
			Name    string `db:"name"`
		}
		if err := db.GetContext(ctx, &p, `SELECT id, village_code, status, name FROM residents WHERE id_number_bidx = ?`, bidx[n%int64(len(bidx))]); err != nil {
			c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusCreated, gin.H{"id": p.ID, "status": "submitted"})
	})
	return func() { rdb.Close(); db.Close() }, nil
}

// dsnServer strips the database name from a DSN (for the loopback check).
func dsnServer(dsn string) string {
	for i := len(dsn) - 1; i >= 0; i-- {
		if dsn[i] == '/' {
			return dsn[:i+1]
		}
	}
	return dsn
}
