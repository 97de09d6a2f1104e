package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/canbao/canbao/internal/creditcode"
	"github.com/canbao/canbao/internal/targetage"
)

const (
	employersCalls = 5 // timed calls per repeat; their median is the repeat's figure
	// residentsPerEmployer sets how many synthetic employers the roster gets (5,000 at 1,000,000).
	residentsPerEmployer = 200
	// employersBaselineW is the bare aggregate the list needs, the same query canbao runs, sent
	// straight to MariaDB (rows read and discarded).
	employersBaselineW = "the list's `GROUP BY employer_credit_code` over ix_residents_employer, sent straight to MariaDB"
	employersGroupBy   = `SELECT r.employer_credit_code, COUNT(*),
    GROUP_CONCAT(DISTINCT r.village_code ORDER BY r.village_code SEPARATOR ',')
FROM residents r
WHERE r.status = 'unenrolled' AND r.employed = 1 AND r.birth_date BETWEEN ? AND ?
GROUP BY r.employer_credit_code`
)

// employers: GET /api/v1/admin/employers as staff (every village) and for one village, one at a
// time, against the bare GROUP BY the list is built on. The first run fills the employer fields
// of the synthetic roster: 80% of the employed get one of residents/200 employers (valid computed
// codes), skewed so that a few employers are large and most are small, the rest stay unknown.
func (b *bench) employers(ctx context.Context) ([]result, error) {
	t := time.Now()
	filled, err := b.fillEmployers(ctx)
	if err != nil {
		return nil, err
	}
	b.log.Info("employers: roster filled", "people", filled, "s", since(t))
	village := b.st.villages[0]
	paths := []timedPath{
		{"employers", "`GET /api/v1/admin/employers`", "/api/v1/admin/employers?page_size=100"},
		{"employers_village", "`GET /api/v1/admin/employers?village=…`", "/api/v1/admin/employers?page_size=100&village=" + village},
	}
	var first struct {
		Items []struct {
			CreditCode *string `json:"credit_code"`
		} `json:"items"`
		Total int `json:"total"`
	}
	if err := b.env.call(ctx, http.MethodGet, paths[0].path, b.token, nil, http.StatusOK, &first); err != nil {
		return nil, err
	}
	if first.Total < 2 || len(first.Items) == 0 {
		return nil, fmt.Errorf("the employer list has %d employers", first.Total)
	}
	results, err := b.timedGets(ctx, paths, employersCalls, func(p timedPath) string {
		return fmt.Sprintf("%s as staff, %d residents, %d employers listed (one request at a time)", p.name, b.st.residents, first.Total)
	}, "≤ 2× its time", employersBaselineW, b.employersGroupBy, func(r float64) bool { return r <= 2 })
	if err != nil {
		return nil, err
	}
	for i := range results {
		r := &results[i]
		r.note("%d employed people on the roster were given an employer; each repeat's figure is the median of %d sequential requests (the baseline: of 3 queries, every village); the response is %v bytes",
			filled, employersCalls, r.Canbao.Extra["response_bytes"])
	}
	return results, nil
}

// fillEmployers gives employed people employers (once: a roster that has them is left alone)
// and answers how many people have one.
func (b *bench) fillEmployers(ctx context.Context) (int, error) {
	db := b.env.db
	// The demo seed's people have employers already; the bench's own (source 'import') not
	// until this has run.
	var have int
	if err := db.GetContext(ctx, &have, `SELECT COUNT(*) FROM residents WHERE source = 'import' AND employer_credit_code IS NOT NULL`); err != nil {
		return 0, err
	}
	if have > 0 {
		return have, nil
	}
	n := max(10, b.st.residents/residentsPerEmployer)
	if _, err := db.ExecContext(ctx, `DROP TABLE IF EXISTS bench_employers`); err != nil {
		return 0, err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE bench_employers (k INT NOT NULL PRIMARY KEY, name VARCHAR(128) NOT NULL, code CHAR(18) NOT NULL)`); err != nil {
		return 0, err
	}
	const batch = 1000
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		var sb strings.Builder
		sb.WriteString(`INSERT INTO bench_employers (k, name, code) VALUES `)
		args := make([]any, 0, 3*(end-start))
		for k := start; k < end; k++ {
			if k > start {
				sb.WriteString(",")
			}
			sb.WriteString("(?, ?, ?)")
			args = append(args, k, fmt.Sprintf("罗东第%d号有限公司", k+1), creditcode.Generate("91", "350583", fmt.Sprintf("MA%06d", k)))
		}
		if _, err := db.ExecContext(ctx, sb.String(), args...); err != nil {
			return 0, err
		}
	}
	// A multiplicative hash of the id picks the employer; cubing its [0,1) value skews the sizes
	// (employer k gets about (k+1)^(1/3) - k^(1/3) of the people: a few large firms, many small).
	// Ids whose hash falls in the last fifth keep an unknown employer.
	res, err := db.ExecContext(ctx, `UPDATE residents r JOIN bench_employers e
		ON e.k = FLOOR(POW((r.id * 2654435761 % 1000003) / 1000003, 3) * ?)
		SET r.employer_name = e.name, r.employer_credit_code = e.code
		WHERE r.source = 'import' AND r.employed = 1 AND (r.id * 40503 % 100) < 80`, n)
	if err != nil {
		return 0, err
	}
	filled, _ := res.RowsAffected()
	if _, err := db.ExecContext(ctx, `DROP TABLE bench_employers`); err != nil {
		return 0, err
	}
	if _, err := db.ExecContext(ctx, `ANALYZE TABLE residents`); err != nil {
		return 0, err
	}
	return int(filled), nil
}

// employersGroupBy times the baseline query, reading every row.
func (b *bench) employersGroupBy(ctx context.Context) (time.Duration, error) {
	lo, hi := targetage.Range(b.st.today)
	return timeQuery(ctx, b.env.db, employersGroupBy, lo, hi)
}
