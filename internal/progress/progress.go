package progress

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
)

//go:embed queries.sql
var queryFS embed.FS

// Queries are the package's named SQL, checked against the server at start-up.
var Queries = database.RegisterQueries("progress", queryFS, "queries.sql")

// Plan is the current enrollment plan.
type Plan struct {
	ID       int64  `db:"id"`
	Code     string `db:"code"`
	Title    string `db:"title"`
	Document string `db:"document"`
	BaseYear int    `db:"base_year"`
	Quota    int    `db:"quota"`
}

// Baseline is one village's row of the plan.
type Baseline struct {
	Code            string `db:"village_code"`
	Name            string `db:"name"`
	Population      int    `db:"population_16_59"`
	Enrolled        int    `db:"enrolled_baseline"`
	Unenrolled      int    `db:"unenrolled_baseline"`
	ExpansionTarget int    `db:"expansion_target"`
}

// Store reads plans and the daily enrollment counts.
type Store struct {
	db  *sqlx.DB
	loc *time.Location // the business time zone (WithLocation), for the reasons section's days
}

// NewStore wires the store.
func NewStore(db *sqlx.DB) *Store { return &Store{db: db} }

var errNoPlan = errs.New(errs.NotFound, "尚未制定扩面计划，请先导入或分配任务")

// CurrentPlan is the newest plan.
func (s *Store) CurrentPlan(ctx context.Context) (Plan, error) {
	var p Plan
	err := s.db.GetContext(ctx, &p, Queries.Get("plan-current"))
	if errors.Is(err, sql.ErrNoRows) {
		return p, errNoPlan
	}
	return p, database.Map(err)
}

// Baselines are the plan's village rows in the annex's order.
func (s *Store) Baselines(ctx context.Context, planID int64) ([]Baseline, error) {
	var rows []Baseline
	err := s.db.SelectContext(ctx, &rows, Queries.Get("plan-baselines"), planID)
	return rows, database.Map(err)
}

// Tasks are each village's task for year: that year's own, or the latest earlier year's (a
// plan's last milestone stays in force), with the total-row task.
func (s *Store) Tasks(ctx context.Context, p Plan, year int) (map[string]int, int, error) {
	var y sql.NullInt64
	if err := s.db.GetContext(ctx, &y, Queries.Get("task-year-latest"), p.ID, year); err != nil {
		return nil, 0, database.Map(err)
	}
	if !y.Valid { // before the plan's first year: the first year's task
		if err := s.db.GetContext(ctx, &y, Queries.Get("task-year-first"), p.ID); err != nil || !y.Valid {
			return map[string]int{}, 0, database.Map(err)
		}
	}
	var rows []struct {
		Code string `db:"village_code"`
		Task int    `db:"task"`
	}
	if err := s.db.SelectContext(ctx, &rows, Queries.Get("tasks-of-year"), p.ID, y.Int64); err != nil {
		return nil, 0, database.Map(err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.Code] = r.Task
	}
	var ratio sql.NullFloat64
	if err := s.db.GetContext(ctx, &ratio, Queries.Get("milestone-of-year"), p.ID, y.Int64); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, 0, database.Map(err)
	}
	total := 0
	if ratio.Valid {
		total = roundHalfUp(float64(p.Quota) * ratio.Float64)
	} else {
		for _, t := range out {
			total += t
		}
	}
	return out, total, nil
}

// Enrolled sums new enrollments per village on days in [from, to] (either may be zero). With no
// lower bound it starts from internal/enrollment's running totals (one row a village) and takes
// off the days after to, so "to date" does not read every village-day since the plan; a bounded
// range reads only its days (ix_enrollment_daily_day). Both aggregates change in the
// transaction of each enrollment, so a late or backdated enrollment is in the next answer.
func (s *Store) Enrolled(ctx context.Context, from, to time.Time) (map[string]int, error) {
	var q string
	var args []any
	switch {
	case from.IsZero() && to.IsZero():
		q = Queries.Get("enrolled-all")
	case to.IsZero():
		q, args = Queries.Get("enrolled-since"), []any{from}
	case from.IsZero():
		q, args = Queries.Get("enrolled-until"), []any{to}
	default:
		q, args = Queries.Get("enrolled-between"), []any{from, to}
	}
	var rows []struct {
		Code string `db:"village_code"`
		N    int    `db:"n"`
	}
	if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, database.Map(err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.Code] = r.N
	}
	return out, nil
}

// Row is one village's progress.
type Row struct {
	Code            string   `json:"code,omitempty"`
	Name            string   `json:"name,omitempty"`
	Population      int      `json:"population_16_59"`
	Enrolled        int      `json:"enrolled_baseline"`
	Unenrolled      int      `json:"unenrolled_baseline"`
	ExpansionTarget int      `json:"expansion_target"`
	Task            int      `json:"task"`
	NewEnrolled     int      `json:"new_enrolled"`
	TargetRate      *float64 `json:"target_rate"`
	TaskRate        *float64 `json:"task_rate"`
}

// Report is progress on a date.
type Report struct {
	AsOf     string `json:"as_of"`
	Villages []Row  `json:"villages"`
	Total    Row    `json:"total"`
}

// rate is n/d to four places, nil when d is 0.
func rate(n, d int) *float64 {
	if d == 0 {
		return nil
	}
	r := math.Round(float64(n)/float64(d)*1e4) / 1e4
	return &r
}

// Progress computes every village's progress on asOf, and the total row: the plan's quota and
// the year's printed task total (so the seeded demo reproduces the annex, rounding and all).
func (s *Store) Progress(ctx context.Context, asOf time.Time) (Report, error) {
	p, err := s.CurrentPlan(ctx)
	if err != nil {
		return Report{}, err
	}
	base, err := s.Baselines(ctx, p.ID)
	if err != nil {
		return Report{}, err
	}
	tasks, taskTotal, err := s.Tasks(ctx, p, asOf.Year())
	if err != nil {
		return Report{}, err
	}
	enrolled, err := s.Enrolled(ctx, time.Time{}, asOf)
	if err != nil {
		return Report{}, err
	}
	r := Report{AsOf: asOf.Format(time.DateOnly), Villages: make([]Row, len(base))}
	t := &r.Total
	for i, b := range base {
		row := Row{Code: b.Code, Name: b.Name, Population: b.Population, Enrolled: b.Enrolled, Unenrolled: b.Unenrolled,
			ExpansionTarget: b.ExpansionTarget, Task: tasks[b.Code], NewEnrolled: enrolled[b.Code]}
		row.TargetRate, row.TaskRate = rate(row.NewEnrolled, row.ExpansionTarget), rate(row.NewEnrolled, row.Task)
		r.Villages[i] = row
		t.Population += b.Population
		t.Enrolled += b.Enrolled
		t.Unenrolled += b.Unenrolled
		t.NewEnrolled += row.NewEnrolled
	}
	t.ExpansionTarget, t.Task = p.Quota, taskTotal
	t.TargetRate, t.TaskRate = rate(t.NewEnrolled, t.ExpansionTarget), rate(t.NewEnrolled, t.Task)
	return r, nil
}

// OnlyVillage narrows a report to one village; its total is that row.
func (r Report) OnlyVillage(code string) Report {
	out := Report{AsOf: r.AsOf, Villages: []Row{}}
	for _, v := range r.Villages {
		if v.Code == code {
			out.Villages = append(out.Villages, v)
			out.Total = v
			out.Total.Code, out.Total.Name = "", ""
		}
	}
	return out
}

// Adopt stores an allocation as the current plan's targets and tasks.
func (s *Store) Adopt(ctx context.Context, tx *sqlx.Tx, p Plan, a Allocation, milestones map[string]float64) error {
	for _, v := range a.Villages {
		if _, err := tx.ExecContext(ctx, Queries.Get("target-set"),
			v.ExpansionTarget, p.ID, v.Code); err != nil {
			return database.Map(err)
		}
		for y, task := range v.Tasks {
			year, _ := strconv.Atoi(y)
			if _, err := tx.ExecContext(ctx, Queries.Get("task-set"), p.ID, v.Code, year, task, task); err != nil {
				return database.Map(err)
			}
		}
	}
	years := make([]string, 0, len(milestones))
	for y := range milestones {
		years = append(years, y)
	}
	sort.Strings(years)
	for _, y := range years {
		year, _ := strconv.Atoi(y)
		ratio := milestones[y]
		if _, err := tx.ExecContext(ctx, Queries.Get("milestone-set"), p.ID, year, ratio, ratio); err != nil {
			return database.Map(err)
		}
	}
	_, err := tx.ExecContext(ctx, Queries.Get("plan-set-quota"), a.Quota, p.ID)
	return database.Map(err)
}
