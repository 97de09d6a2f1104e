package main

import (
	"context"
	"math"
	"strconv"
	"strings"
)

// serverCounters are MariaDB's and Redis's global counters at one moment. Their difference over
// a canbao run, divided by the operations it did, says how many statements, commits, fsyncs,
// buffer-pool misses and Redis commands one operation costs. They are server-wide: other
// clients of the shared servers add to them, so they are an upper bound.
type serverCounters map[string]float64

var mariadbCounters = []string{"Questions", "Com_select", "Com_insert", "Com_update", "Com_commit", "Innodb_data_fsyncs",
	"Innodb_buffer_pool_reads", "Innodb_buffer_pool_read_requests", "Handler_read_next", "Handler_read_key", "Innodb_rows_inserted",
	"Innodb_row_lock_waits", "Innodb_deadlocks", "Created_tmp_tables"}

func (b *bench) counters(ctx context.Context) serverCounters {
	out := serverCounters{}
	q := `SHOW GLOBAL STATUS WHERE Variable_name IN ('` + strings.Join(mariadbCounters, "','") + `')`
	rows, err := b.env.db.QueryContext(ctx, q)
	if err == nil {
		for rows.Next() {
			var k, v string
			if rows.Scan(&k, &v) == nil {
				x, _ := strconv.ParseFloat(v, 64)
				out["mariadb."+k] = x
			}
		}
		rows.Close()
	}
	if info, err := b.env.rdb.Info(ctx, "commandstats").Result(); err == nil {
		for _, l := range strings.Split(info, "\n") {
			name, rest, ok := strings.Cut(strings.TrimSpace(l), ":")
			if !ok || !strings.HasPrefix(name, "cmdstat_") {
				continue
			}
			calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
			x, _ := strconv.ParseFloat(calls, 64)
			out["redis."+strings.TrimPrefix(name, "cmdstat_")] = x
		}
	}
	return out
}

// perOp is (after − before) ÷ ops for every counter that moved, rounded to 2 places.
func perOp(before, after serverCounters, ops float64) map[string]float64 {
	out := map[string]float64{}
	if ops <= 0 {
		return out
	}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			x := math.Round(d/ops*100) / 100
			if x > 0 {
				out[k] = x
			}
		}
	}
	return out
}
