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
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canbao/canbao/internal/platform/database"
)

// bareMain is `canbao-bench bare`: the baseline servers, each a bare Gin engine (no
// middleware) in its own process, as canbao is.
//
//	-kind policy  GET /api/v1/policies/:slug answers c.JSON with the fields of -json FILE
//	-kind select  GET /village/:code answers one point SELECT on villages, as JSON
func bareMain(args []string) error {
	fs := flag.NewFlagSet("bare", flag.ContinueOnError)
	kind := fs.String("kind", "", "policy | select")
	addr := fs.String("addr", "", "127.0.0.1:port")
	jsonFile := fs.String("json", "", "policy: the JSON object to answer with")
	dsn := fs.String("dsn", "", "select: the database")
	conns := fs.Int("conns", 32, "select: the pool size (canbao's mysql.max_open_conns)")
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

// dsnServer strips the database name from a DSN (for the loopback check).
func dsnServer(dsn string) string {
	for i := len(dsn) - 1; i >= 0; i-- {
		if dsn[i] == '/' {
			return dsn[:i+1]
		}
	}
	return dsn
}
