package main

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

const (
	progressCalls     = 5 // timed calls per repeat; their median is the repeat's figure
	groupByQuery      = `SELECT village_code, status, COUNT(*) FROM residents GROUP BY village_code, status`
	progressBaselineW = "indexed `SELECT village_code, status, COUNT(*) FROM residents GROUP BY village_code, status`"
)

// progress: GET /api/v1/admin/progress and /api/v1/admin/reports/monthly as staff, one at a
// time, against the GROUP BY over the roster they would need without the daily aggregate.
func (b *bench) progress(ctx context.Context) ([]result, error) {
	month := b.st.today.Format("2006-01")
	paths := []struct{ id, name, path string }{
		{"progress", "`GET /api/v1/admin/progress`", "/api/v1/admin/progress"},
		{"monthly", "`GET /api/v1/admin/reports/monthly?month=" + month + "`", "/api/v1/admin/reports/monthly?month=" + month},
	}
	var rep struct {
		Villages []struct{ Code string } `json:"villages"`
	}
	if err := b.env.call(ctx, http.MethodGet, paths[0].path, b.token, nil, http.StatusOK, &rep); err != nil {
		return nil, err
	}
	if len(rep.Villages) != len(b.st.villages) {
		return nil, fmt.Errorf("progress lists %d villages, the roster has %d", len(rep.Villages), len(b.st.villages))
	}
	results := make([]result, len(paths))
	for i, p := range paths {
		results[i] = result{ID: p.id, Workload: fmt.Sprintf("%s as staff, %d residents, %d villages (one request at a time)", p.name, b.st.residents, len(b.st.villages)),
			RatioDef: "canbao time ÷ baseline time", Goal: "≤ 0.1× its time", Repeats: b.opt.repeats}
		results[i].Canbao = side{What: "canbao", Unit: "s"}
		results[i].Baseline = side{What: progressBaselineW, Unit: "s"}
		if _, _, err := b.env.timedGet(ctx, p.path, b.token); err != nil { // warm
			return nil, err
		}
	}
	if _, err := b.groupBy(ctx); err != nil { // warm
		return nil, err
	}
	for rep := range b.opt.repeats {
		l := load1()
		var base []float64
		for range 3 {
			d, err := b.groupBy(ctx)
			if err != nil {
				return nil, err
			}
			base = append(base, d.Seconds())
		}
		for i, p := range paths {
			results[i].Load1 = append(results[i].Load1, l)
			stopPerf := b.perf(ctx, rep, p.id, b.api.pid())
			var xs []float64
			size := 0
			for range progressCalls {
				d, n, err := b.env.timedGet(ctx, p.path, b.token)
				if err != nil {
					stopPerf()
					return nil, err
				}
				xs = append(xs, d.Seconds())
				size = n
			}
			stopPerf()
			results[i].Canbao.add(median(xs))
			results[i].Baseline.add(median(base))
			if rep == 0 {
				results[i].Canbao.extra("response_bytes", size)
			}
			b.log.Info("progress", "path", p.path, "canbao_ms", median(xs)*1000, "group_by_ms", median(base)*1000)
		}
	}
	for i := range results {
		r := &results[i]
		r.Canbao.settle()
		r.Baseline.settle()
		r.Ratio = r.Canbao.Value / r.Baseline.Value
		r.Met = r.Ratio <= 0.1
		r.note("each repeat's figure is the median of %d sequential requests (the baseline: of 3 queries); the response is %v bytes",
			progressCalls, r.Canbao.Extra["response_bytes"])
	}
	return results, nil
}

// groupBy times the baseline query, reading every row.
func (b *bench) groupBy(ctx context.Context) (time.Duration, error) {
	t := time.Now()
	rows, err := b.env.db.QueryContext(ctx, groupByQuery)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var v, s string
		var c int
		if err := rows.Scan(&v, &s, &c); err != nil {
			return 0, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, fmt.Errorf("the GROUP BY returned nothing")
	}
	return time.Since(t), nil
}
