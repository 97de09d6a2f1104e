package main

import (
	"context"
	"time"
)

// timedPath is one GET a read workload times.
type timedPath struct{ id, name, path string }

// timedGets is the loop shared by the read workloads (progress, employers): each path warmed
// once, then per repeat three runs of the baseline query and calls sequential GETs of each path
// (under perf), each repeat's figure the median. It answers one settled result per path with its
// ratio (canbao time ÷ baseline time) and met(ratio); the caller adds its notes.
func (b *bench) timedGets(ctx context.Context, paths []timedPath, calls int, describe func(timedPath) string, goal string,
	baselineWhat string, baseline func(context.Context) (time.Duration, error), met func(float64) bool) ([]result, error) {
	results := make([]result, len(paths))
	for i, p := range paths {
		results[i] = result{ID: p.id, Workload: describe(p), RatioDef: "canbao time ÷ baseline time", Goal: goal, Repeats: b.opt.repeats}
		results[i].Canbao = side{What: "canbao", Unit: "s"}
		results[i].Baseline = side{What: baselineWhat, Unit: "s"}
		if _, _, err := b.env.timedGet(ctx, p.path, b.token); err != nil { // warm
			return nil, err
		}
	}
	if _, err := baseline(ctx); err != nil { // warm
		return nil, err
	}
	for rep := range b.opt.repeats {
		l := load1()
		var base []float64
		for range 3 {
			d, err := baseline(ctx)
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
			for range calls {
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
			b.log.Info("timed GET", "path", p.path, "canbao_ms", median(xs)*1000, "baseline_ms", median(base)*1000)
		}
	}
	for i := range results {
		r := &results[i]
		r.Canbao.settle()
		r.Baseline.settle()
		r.Ratio = r.Canbao.Value / r.Baseline.Value
		r.Met = met(r.Ratio)
	}
	return results, nil
}
