// Package idempotency makes creating POSTs safe to retry: a request with an Idempotency-Key
// header is executed once per (caller, route, key); a retry with the same body gets the first
// answer again, byte for byte, and a retry with another body is refused.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/web"
)

//go:embed queries.sql
var queryFS embed.FS

// Queries are the package's named SQL, checked against the server at start-up.
var Queries = database.RegisterQueries("idempotency", queryFS, "queries.sql")

// Header is the request header that carries the key.
const Header = "Idempotency-Key"

// Settings of the key store.
const (
	// Retention is how long a key is remembered.
	Retention = 24 * time.Hour
	// lease is how long an unfinished request holds its key before a retry may take it over:
	// just over http.request_timeout (15 s), so that a request cut off by a database outage
	// does not block its client's retries for long (the fault drill measured a minute at 60 s).
	lease = 20 * time.Second
	// wait is how long a concurrent duplicate waits for the first request to finish.
	wait = 10 * time.Second
)

// Keys stores idempotency records in MySQL.
type Keys struct {
	db  *sqlx.DB
	log *slog.Logger
	// caller names the authenticated caller ("staff:3", "resident:9").
	caller func(*gin.Context) string
}

// New wires the store; caller identifies who is calling.
func New(db *sqlx.DB, log *slog.Logger, caller func(*gin.Context) string) *Keys {
	return &Keys{db: db, log: log, caller: caller}
}

type record struct {
	ID        int64         `db:"id"`
	Request   []byte        `db:"request_hash"`
	State     string        `db:"state"`
	Status    sql.NullInt64 `db:"response_status"`
	Body      []byte        `db:"response_body"`
	CreatedAt time.Time     `db:"created_at"`
	ExpiresAt time.Time     `db:"expires_at"`
}

// Middleware applies to one route; requests without the header pass straight through.
func (k *Keys) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		key := c.GetHeader(Header)
		if key == "" {
			c.Next()
			return
		}
		if !validKey(key) {
			web.Fail(c, errs.Field(errs.IdempotencyKeyBad, Header, "Idempotency-Key 须为 1 到 128 个可见 ASCII 字符"))
			return
		}
		body, err := io.ReadAll(c.Request.Body)
		if err != nil {
			var maxErr *http.MaxBytesError
			if errors.As(err, &maxErr) {
				web.Fail(c, errs.New(errs.BodyTooLarge, "请求内容过大"))
				return
			}
			web.Fail(c, errs.New(errs.MalformedJSON, "无法读取请求内容"))
			return
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		scope := sha256.Sum256([]byte(k.caller(c) + "\x00" + c.Request.Method + " " + c.FullPath() + "\x00" + key))
		reqHash := sha256.Sum256(append([]byte(c.Request.URL.Path+"\x00"), body...))
		ctx := c.Request.Context()

		id, replay, err := k.claim(ctx, scope[:], reqHash[:])
		if err != nil {
			web.Fail(c, err)
			return
		}
		if replay != nil {
			c.Header("Idempotent-Replayed", "true")
			c.Data(int(replay.Status.Int64), "application/json; charset=utf-8", replay.Body)
			c.Abort()
			return
		}
		rec := &recorder{ResponseWriter: c.Writer}
		c.Writer = rec
		c.Next()
		if len(c.Errors) > 0 && !rec.Written() {
			// Render the handler's error here, not in the outer middleware, so it is recorded.
			web.Render(c, k.log, c.Errors.Last().Err)
		}
		k.finish(context.WithoutCancel(ctx), id, rec)
	}
}

func validKey(s string) bool {
	if len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// claim inserts the key as in flight, or finds the earlier request's record: its answer when
// done, a conflict when the body differs, a wait when it is still running.
func (k *Keys) claim(ctx context.Context, scope, reqHash []byte) (int64, *record, error) {
	deadline := time.Now().Add(wait)
	for {
		now := database.Now()
		res, err := k.db.ExecContext(ctx, Queries.Get("key-claim"), scope, reqHash, now, now.Add(Retention))
		if err == nil {
			id, _ := res.LastInsertId()
			return id, nil, nil
		}
		if !database.IsDuplicate(err) {
			return 0, nil, database.Map(err)
		}
		var r record
		err = k.db.GetContext(ctx, &r, Queries.Get("key-by-scope"), scope)
		if errors.Is(err, sql.ErrNoRows) {
			continue // deleted between our insert and select: try again
		}
		if err != nil {
			return 0, nil, database.Map(err)
		}
		stale := r.State == "in_flight" && now.Sub(r.CreatedAt) > lease
		if now.After(r.ExpiresAt) || stale {
			if _, err := k.db.ExecContext(ctx, Queries.Get("key-drop-stale"), r.ID, r.State); err != nil {
				return 0, nil, database.Map(err)
			}
			continue
		}
		if !bytes.Equal(r.Request, reqHash) {
			return 0, nil, errs.Field(errs.IdempotencyKeyReused, Header, "该 Idempotency-Key 已用于另一个请求")
		}
		if r.State == "done" {
			return 0, &r, nil
		}
		if time.Now().After(deadline) {
			e := errs.New(errs.IdempotencyInFlight, "相同的请求正在处理中，请稍后再试")
			e.RetryAfter = time.Second
			return 0, nil, e
		}
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// finish stores a final answer for replay, or frees the key when the answer was transient
// (rate limited, unavailable, a server error) so that a retry runs again.
func (k *Keys) finish(ctx context.Context, id int64, rec *recorder) {
	status := rec.Status()
	transient := status >= 500 || status == http.StatusTooManyRequests || status == http.StatusConflict && rec.transientConflict()
	var err error
	if transient {
		_, err = k.db.ExecContext(ctx, Queries.Get("key-free"), id)
	} else {
		_, err = k.db.ExecContext(ctx, Queries.Get("key-done"),
			status, rec.body.Bytes(), id)
	}
	if err != nil {
		// The answer was sent; the key stays in flight until its lease ends, then a retry runs
		// again (creating endpoints also have natural keys, so nothing is made twice).
		k.log.ErrorContext(ctx, "idempotency: cannot store the answer", "err", err)
	}
}

// Defaults of the background purge (idempotency.purge_interval, idempotency.purge_batch).
const (
	DefaultPurgeInterval = 10 * time.Minute
	DefaultPurgeBatch    = 1000
)

// PurgeResult is what one purge pass did.
type PurgeResult struct {
	Deleted int64 // keys deleted
	Batches int   // DELETE statements run
}

// PurgeExpired deletes the keys expired at now, batch rows per statement (through the
// expires_at index, so each statement locks a bounded range), until a statement deletes fewer
// than batch rows. Keys live for Retention; a key expired in the meantime is also deleted by
// claim when it is reused, so a pass that stops early loses nothing.
func (k *Keys) PurgeExpired(ctx context.Context, now time.Time, batch int) (PurgeResult, error) {
	if batch <= 0 {
		batch = DefaultPurgeBatch
	}
	var r PurgeResult
	for {
		res, err := k.db.ExecContext(ctx, Queries.Get("keys-purge"), now, batch)
		if err != nil {
			return r, database.Map(err)
		}
		r.Batches++
		n, err := res.RowsAffected()
		if err != nil {
			return r, err
		}
		r.Deleted += n
		if n < int64(batch) {
			return r, nil
		}
		if err := ctx.Err(); err != nil {
			return r, err
		}
	}
}

// RunPurge purges expired keys once at start and then every interval, until ctx ends. pass,
// when not nil, sees each pass's result (tests); failures are logged and retried next time.
func (k *Keys) RunPurge(ctx context.Context, interval time.Duration, batch int, pass func(PurgeResult, error)) {
	if interval <= 0 {
		interval = DefaultPurgeInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		r, err := k.PurgeExpired(ctx, database.Now(), batch)
		switch {
		case err != nil && ctx.Err() == nil:
			k.log.ErrorContext(ctx, "idempotency: purge of expired keys failed", "err", err, "deleted", r.Deleted)
		case r.Deleted > 0:
			k.log.InfoContext(ctx, "idempotency: expired keys purged", "deleted", r.Deleted, "batches", r.Batches)
		}
		if pass != nil {
			pass(r, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// recorder keeps a copy of the answer.
type recorder struct {
	gin.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) WriteString(s string) (int, error) {
	r.body.WriteString(s)
	return r.ResponseWriter.WriteString(s)
}

func (r *recorder) transientConflict() bool {
	return bytes.Contains(r.body.Bytes(), []byte(errs.IdempotencyInFlight))
}
