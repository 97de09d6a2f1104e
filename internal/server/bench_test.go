package server_test

// In-process benchmarks of the two hot paths of the enrollment drive, each next to a baseline
// measured in the same run: the machine is shared and noisy, so only the ratio
// baseline ns/op ÷ canbao ns/op means anything (docs/PERFORMANCE.md).
//
//	go test -run '^$' -bench 'PolicyGet|RegistrationPost' -benchtime 3s -count 3 ./internal/server/
//
// Requests go straight to engine.ServeHTTP with an httptest recorder: no network, no HTTP
// parsing. The figures with a load generator over real sockets come from `make bench`.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/server/servertest"
)

// benchArticle is the published explainer both policy benchmarks answer with (about 0.9 KB of
// JSON).
var benchArticle = struct{ Slug, Title, Summary, Body, Category string }{
	Slug:     "resident-pension-bench",
	Title:    "城乡居民基本养老保险参保指南",
	Summary:  "谁可以参加、怎么缴费、每年补贴多少、什么时候可以领取养老金。",
	Body:     strings.Repeat("## 参保对象\n\n年满16周岁、不是在校学生、未参加职工基本养老保险的城乡居民，可在户籍所在村（居）参保。\n\n", 4),
	Category: "schemes",
}

// parallelism is the SetParallelism argument that gives about goroutines goroutines on this
// machine's GOMAXPROCS.
func parallelism(goroutines int) int {
	return max(1, goroutines/runtime.GOMAXPROCS(0))
}

// reportRate adds the throughput of the run as a custom metric.
func reportRate(b *testing.B, unit string) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, unit)
	}
}

// failed records the first bad answer of a parallel body; the body then stops and the
// benchmark fails once RunParallel returns (FailNow belongs to the benchmark's goroutine).
type failed struct{ done atomic.Bool }

func (f *failed) fail(b *testing.B, format string, args ...any) {
	if f.done.CompareAndSwap(false, true) {
		b.Errorf(format, args...)
	}
}

// logErrors shows the server's error log lines (they carry no personal data: servertest
// fails any test whose logs do).
func logErrors(b *testing.B, env *servertest.Env) {
	n := 0
	for l := range strings.SplitSeq(env.Logs.String(), "\n") {
		if strings.Contains(l, "ERROR") && n < 5 {
			b.Log(l)
			n++
		}
	}
}

func BenchmarkPolicyGet(b *testing.B) {
	b.Run("canbao", func(b *testing.B) {
		env := servertest.New(b)
		staff, _ := env.Staff(auth.RoleStaff, "")
		a := benchArticle
		if r := env.Do(servertest.Request{Method: http.MethodPost, Path: "/api/v1/admin/policies", Token: staff, Body: map[string]any{
			"slug": a.Slug, "title": a.Title, "summary": a.Summary, "body": a.Body, "category": a.Category, "status": "published",
		}}); r.Code != http.StatusCreated {
			b.Fatalf("create the article: %d %s", r.Code, r.Body)
		}
		path := "/api/v1/policies/" + a.Slug
		// The first read loads MySQL and fills the Redis cache; the loop measures the cached path.
		if r := env.Do(servertest.Request{Method: http.MethodGet, Path: path}); r.Code != http.StatusOK || r.Header.Get("ETag") == "" {
			b.Fatalf("warm the cache: %d %s", r.Code, r.Body)
		}
		engine := env.Server.Engine
		var bad failed
		b.SetParallelism(parallelism(16))
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req := httptest.NewRequest(http.MethodGet, path, nil)
				req.RemoteAddr = "192.0.2.1:1234"
				w := httptest.NewRecorder()
				engine.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					bad.fail(b, "GET %s: %d %s", path, w.Code, w.Body)
					return
				}
			}
		})
		b.StopTimer()
		if b.Failed() {
			b.FailNow()
		}
		reportRate(b, "req/s")
	})

	b.Run("bare-gin", func(b *testing.B) {
		a := benchArticle
		updated := time.Now().UTC()
		engine := gin.New()
		engine.GET("/api/v1/policies/:slug", func(c *gin.Context) {
			c.JSON(http.StatusOK, gin.H{"slug": c.Param("slug"), "title": a.Title, "summary": a.Summary, "body": a.Body,
				"category": a.Category, "updated_at": updated})
		})
		path := "/api/v1/policies/" + a.Slug
		var bad failed
		b.SetParallelism(parallelism(16))
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req := httptest.NewRequest(http.MethodGet, path, nil)
				req.RemoteAddr = "192.0.2.1:1234"
				w := httptest.NewRecorder()
				engine.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					bad.fail(b, "GET %s: %d %s", path, w.Code, w.Body)
					return
				}
			}
		})
		b.StopTimer()
		if b.Failed() {
			b.FailNow()
		}
		reportRate(b, "req/s")
	})
}

// nextPerson numbers the synthetic people of every run of the process, so no ID number is
// used twice even where runs share a database.
var nextPerson atomic.Int64

// personID returns a valid synthetic ID number of person i, aged between 45 and 55 today:
// 1000 people per birth date (seq 0-499 × two genders), 3600 birth dates.
func personID(i int64) string {
	if i >= 3_600_000 {
		panic("personID: out of synthetic people")
	}
	day, r := i/1000, i%1000
	g := idcard.Male
	if r >= 500 {
		g = idcard.Female
	}
	y, m, d := time.Now().In(shanghai).Date()
	birth := time.Date(y-45, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -10-int(day))
	return idcard.Generate("350583", birth, int(r%500), g)
}

var shanghai = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return l
}()

// residentTokens creates n resident accounts with multi-row INSERTs and issues a token for
// each: one account per registration keeps every call under the per-account limits.
func residentTokens(b *testing.B, env *servertest.Env, n int) []string {
	b.Helper()
	run := fmt.Sprintf("bench-%d-", time.Now().UnixNano())
	now := database.Now()
	const batch = 1000
	for start := 0; start < n; start += batch {
		end := min(n, start+batch)
		var q strings.Builder
		q.WriteString("INSERT INTO resident_accounts (openid, created_at, last_login_at) VALUES ")
		args := make([]any, 0, 3*(end-start))
		for i := start; i < end; i++ {
			if i > start {
				q.WriteByte(',')
			}
			q.WriteString("(?,?,?)")
			args = append(args, fmt.Sprintf("%s%d", run, i), now, now)
		}
		env.Exec(q.String(), args...)
	}
	var ids []int64
	if err := env.DB.Select(&ids, "SELECT id FROM resident_accounts WHERE openid LIKE ? ORDER BY id", run+"%"); err != nil {
		b.Fatal(err)
	}
	if len(ids) != n {
		b.Fatalf("created %d accounts, want %d", len(ids), n)
	}
	tokens := make([]string, n)
	for i, id := range ids {
		tok, _, err := env.Server.Tokens.Issue(auth.Principal{Kind: auth.KindResident, ID: id, Role: auth.RoleResident, Version: 1})
		if err != nil {
			b.Fatal(err)
		}
		tokens[i] = tok
	}
	return tokens
}

func BenchmarkRegistrationPost(b *testing.B) {
	// One database for every sub-benchmark and run of this count: setup stays a second or two.
	env := servertest.New(b)

	b.Run("canbao", func(b *testing.B) {
		tokens := residentTokens(b, env, b.N)
		bodies := make([][]byte, b.N)
		for i := range bodies {
			p := nextPerson.Add(1) - 1
			body, err := json.Marshal(map[string]any{
				"name": "陈美玲", "id_number": personID(p), "phone": fmt.Sprintf("138%08d", p%1e8), "village_code": "zhenxing",
				"employed": false, "land_expropriated": false, "scheme": "resident_pension", "tier": 300,
			})
			if err != nil {
				b.Fatal(err)
			}
			bodies[i] = body
		}
		engine := env.Server.Engine
		var next atomic.Int64
		var bad failed
		b.SetParallelism(parallelism(16))
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := next.Add(1) - 1
				req := httptest.NewRequest(http.MethodPost, "/api/v1/registrations", strings.NewReader(string(bodies[i])))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tokens[i])
				req.RemoteAddr = "192.0.2.1:1234"
				w := httptest.NewRecorder()
				engine.ServeHTTP(w, req)
				if w.Code != http.StatusCreated {
					bad.fail(b, "POST /api/v1/registrations: %d %s", w.Code, w.Body)
					return
				}
			}
		})
		b.StopTimer()
		if b.Failed() {
			logErrors(b, env)
			b.FailNow()
		}
		reportRate(b, "req/s")
	})

	b.Run("raw-insert", func(b *testing.B) {
		env.Exec(`CREATE TABLE IF NOT EXISTS bench_raw (id BIGINT AUTO_INCREMENT PRIMARY KEY, a VARBINARY(96),
			b VARBINARY(96), c VARCHAR(64), d INT, e DATETIME(6))`)
		stmt, err := env.DB.Preparex(`INSERT INTO bench_raw (a, b, c, d, e) VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = stmt.Close() })
		// As wide as a registration's encrypted ID number and phone (nonce + ciphertext + tag).
		encID, encPhone := make([]byte, 46), make([]byte, 39)
		for i := range encID {
			encID[i] = byte(i * 7)
		}
		var bad failed
		b.SetParallelism(parallelism(8))
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				res, err := stmt.Exec(encID, encPhone, "陈美玲", 300, database.Now())
				if err != nil {
					bad.fail(b, "insert: %v", err)
					return
				}
				if n, _ := res.RowsAffected(); n != 1 {
					bad.fail(b, "insert: %d rows", n)
					return
				}
			}
		})
		b.StopTimer()
		if b.Failed() {
			b.FailNow()
		}
		reportRate(b, "rows/s")
	})
}
