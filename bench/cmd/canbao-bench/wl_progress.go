package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"time"

	"github.com/jmoiron/sqlx"
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
	paths := []timedPath{
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
	results, err := b.timedGets(ctx, paths, progressCalls, func(p timedPath) string {
		return fmt.Sprintf("%s as staff, %d residents, %d villages (one request at a time)", p.name, b.st.residents, len(b.st.villages))
	}, "≤ 0.1× its time", progressBaselineW, b.groupBy, func(r float64) bool { return r <= 0.1 })
	if err != nil {
		return nil, err
	}
	for i := range results {
		r := &results[i]
		r.note("each repeat's figure is the median of %d sequential requests (the baseline: of 3 queries); the response is %v bytes",
			progressCalls, r.Canbao.Extra["response_bytes"])
	}
	return results, nil
}

// groupBy times the baseline query, reading every row.
func (b *bench) groupBy(ctx context.Context) (time.Duration, error) {
	return timeQuery(ctx, b.env.db, groupByQuery)
}

// timeQuery times a baseline query: sent, and every row of its answer read (scanned as raw
// bytes, as a client of the result would read it). An empty answer is an error: the baseline
// would have measured nothing.
func timeQuery(ctx context.Context, db *sqlx.DB, q string, args ...any) (time.Duration, error) {
	t := time.Now()
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	vals, dest := make([]sql.RawBytes, len(cols)), make([]any, len(cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return 0, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, fmt.Errorf("the baseline query returned nothing")
	}
	return time.Since(t), nil
}
