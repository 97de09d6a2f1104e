package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/canbao/canbao/bench/loadgen"
)

const checkinConns = 32

// checkin: POST /api/v1/events/checkin at 32 connections, each request a resident's first
// check-in to one open event (a new account each, so every request writes its row and audit
// row), against the raw single-row INSERT of the registration workload.
func (b *bench) checkin(ctx context.Context) ([]result, error) {
	r := result{ID: "event_checkin", Workload: fmt.Sprintf("`POST /api/v1/events/checkin`, %d connections, each a resident's first check-in, %s per repeat", checkinConns, b.opt.duration),
		RatioDef: "canbao req/s ÷ baseline rows/s", Goal: "≥ 0.5", Repeats: b.opt.repeats}
	r.Canbao = side{What: "canbao", Unit: "req/s"}
	r.Baseline = side{What: fmt.Sprintf("prepared single-row INSERT, %d connections", rawInsertConns), Unit: "rows/s"}
	if _, err := b.env.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS bench_raw (id BIGINT AUTO_INCREMENT PRIMARY KEY,
		a VARBINARY(96), b VARBINARY(96), c VARCHAR(64), d INT, e DATETIME(6))`); err != nil {
		return nil, err
	}
	now := time.Now()
	var ev struct {
		ID    int64  `json:"id"`
		Scene string `json:"scene"`
	}
	body := map[string]any{"title": "全民参保集中宣传（压测）", "kind": "village", "place": "村民委员会广场",
		"starts_at": now.Add(-time.Hour).Format(time.RFC3339), "ends_at": now.Add(6 * time.Hour).Format(time.RFC3339),
		"village_codes": []string{b.st.villages[0]}}
	if err := b.env.call(ctx, http.MethodPost, "/api/v1/admin/events", b.token, body, http.StatusCreated, &ev); err != nil {
		return nil, fmt.Errorf("create the event: %w", err)
	}
	payload := []byte(`{"scene":"` + ev.Scene + `"}`)
	expect := 3000.0 // check-ins a second, until a repeat says better
	var p50c []float64
	total := 0
	for rep := range b.opt.repeats {
		r.Load1 = append(r.Load1, load1())
		tokens, err := b.residentTokens(ctx, int(expect*(b.opt.warmup+b.opt.duration).Seconds()*1.5)+500)
		if err != nil {
			return nil, err
		}
		base := func() error {
			rows, err := b.rawInsert(ctx)
			r.Baseline.add(rows)
			return err
		}
		if rep%2 == 1 {
			if err := base(); err != nil {
				return nil, err
			}
		}
		var next atomic.Int64
		stopPerf := b.perf(ctx, rep, "checkin", b.api.pid())
		c0 := b.counters(ctx)
		res, err := b.httpRun(ctx, &r, &r.Canbao, b.apiURL(), checkinConns, func(int, *rand.Rand) (loadgen.Request, bool) {
			i := next.Add(1) - 1
			if i >= int64(len(tokens)) {
				return loadgen.Request{}, false
			}
			return loadgen.Request{Name: "checkin", Method: http.MethodPost, Path: "/api/v1/events/checkin", Body: payload,
				Token: tokens[i], Expect: http.StatusOK}, true
		})
		b.recordCounters(&r.Canbao, rep, c0, float64(res.Sent), "request")
		stopPerf()
		if err != nil {
			return nil, err
		}
		if res.Exhausted {
			r.note("repeat %d ran out of prepared accounts after %.1f s of measurement", rep+1, res.Elapsed.Seconds())
		}
		total += int(next.Load())
		expect = max(res.RPS, 100)
		p50c = append(p50c, ms(res.P50))
		if rep%2 == 0 {
			if err := base(); err != nil {
				return nil, err
			}
		}
	}
	settleHTTP(&r.Canbao, p50c)
	r.Baseline.settle()
	r.Ratio = r.Canbao.Value / r.Baseline.Value
	r.Met = r.Ratio >= 0.5
	var stored int
	if err := b.env.db.GetContext(ctx, &stored, `SELECT COUNT(*) FROM event_checkins WHERE event_id = ?`, ev.ID); err != nil {
		return nil, err
	}
	r.note("one event, %d check-ins sent, %d stored (one a distinct account); p50 canbao %.2f ms, p99 %.2f ms", total, stored, r.Canbao.P50Ms, r.Canbao.P99Ms)
	return []result{r}, nil
}
