package progress

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"sort"
	"time"

	"github.com/canbao/canbao/internal/platform/database"
)

// MonthlyRow is one village's line of the bulletin.
type MonthlyRow struct {
	Code            string   `json:"code"`
	Name            string   `json:"name"`
	NewMonth        int      `json:"new_enrolled_month"`
	NewToDate       int      `json:"new_enrolled_to_date"`
	ExpansionTarget int      `json:"expansion_target"`
	Task            int      `json:"task"`
	TargetRate      *float64 `json:"target_rate"`
	TaskRate        *float64 `json:"task_rate"`
	Rank            int      `json:"rank"`
	// WeeklyPace is new enrollments a week over the four weeks to as_of.
	WeeklyPace float64 `json:"weekly_pace"`
	// ProjectedYearEnd is where the village ends the year at that pace.
	ProjectedYearEnd int `json:"projected_year_end"`
	// ReachTaskOn is the day the task is reached at that pace (null: already reached, or no pace).
	ReachTaskOn *string `json:"reach_task_on"`
	BehindPace  bool    `json:"behind_pace"`
}

// MonthlyTotal is the bulletin's total row.
type MonthlyTotal struct {
	NewMonth        int      `json:"new_enrolled_month"`
	NewToDate       int      `json:"new_enrolled_to_date"`
	ExpansionTarget int      `json:"expansion_target"`
	Task            int      `json:"task"`
	TargetRate      *float64 `json:"target_rate"`
	TaskRate        *float64 `json:"task_rate"`
}

// Monthly is the month's bulletin (按月通报).
type Monthly struct {
	Title       string       `json:"title"`
	Month       string       `json:"month"`
	AsOf        string       `json:"as_of"`
	Frozen      bool         `json:"frozen"`
	GeneratedAt time.Time    `json:"generated_at"`
	Villages    []MonthlyRow `json:"villages"`
	Total       MonthlyTotal `json:"total"`
	BehindPace  []string     `json:"behind_pace"`
	// Reasons is the section 未参保原因分析 (reasons.go); never nil in an answer.
	Reasons *MonthlyReasons `json:"reasons,omitempty"`
}

// paceWindow is how far back the weekly pace looks.
const paceWindow = 28 * 24 * time.Hour

// ComputeMonthly builds the bulletin of month (its first day) with figures up to asOf.
func (s *Store) ComputeMonthly(ctx context.Context, month, asOf time.Time, now time.Time) (Monthly, error) {
	p, err := s.CurrentPlan(ctx)
	if err != nil {
		return Monthly{}, err
	}
	base, err := s.Baselines(ctx, p.ID)
	if err != nil {
		return Monthly{}, err
	}
	tasks, taskTotal, err := s.Tasks(ctx, p, month.Year())
	if err != nil {
		return Monthly{}, err
	}
	toDate, err := s.Enrolled(ctx, time.Time{}, asOf)
	if err != nil {
		return Monthly{}, err
	}
	inMonth, err := s.Enrolled(ctx, month, asOf)
	if err != nil {
		return Monthly{}, err
	}
	paceFrom := asOf.Add(-paceWindow).AddDate(0, 0, 1)
	recent, err := s.Enrolled(ctx, paceFrom, asOf)
	if err != nil {
		return Monthly{}, err
	}
	yearEnd := time.Date(month.Year(), 12, 31, 0, 0, 0, 0, time.UTC)
	weeksLeft := yearEnd.Sub(asOf).Hours() / 24 / 7
	m := Monthly{
		Title:       p.Title + " · " + month.Format("2006年1月") + "扩面进度通报",
		Month:       month.Format("2006-01"),
		AsOf:        asOf.Format(time.DateOnly),
		GeneratedAt: now.UTC().Truncate(time.Second),
		Villages:    make([]MonthlyRow, len(base)),
		BehindPace:  []string{},
	}
	for i, b := range base {
		r := MonthlyRow{Code: b.Code, Name: b.Name, NewMonth: inMonth[b.Code], NewToDate: toDate[b.Code],
			ExpansionTarget: b.ExpansionTarget, Task: tasks[b.Code]}
		r.TargetRate, r.TaskRate = rate(r.NewToDate, r.ExpansionTarget), rate(r.NewToDate, r.Task)
		r.WeeklyPace = math.Round(float64(recent[b.Code])/4*100) / 100
		r.ProjectedYearEnd = r.NewToDate + int(math.Floor(r.WeeklyPace*math.Max(weeksLeft, 0)))
		if r.NewToDate < r.Task && r.WeeklyPace > 0 {
			days := int(math.Ceil(float64(r.Task-r.NewToDate) / r.WeeklyPace * 7))
			d := asOf.AddDate(0, 0, days).Format(time.DateOnly)
			r.ReachTaskOn = &d
		}
		r.BehindPace = r.NewToDate < r.Task && r.ProjectedYearEnd < r.Task
		m.Villages[i] = r
		m.Total.NewMonth += r.NewMonth
		m.Total.NewToDate += r.NewToDate
	}
	m.Total.ExpansionTarget, m.Total.Task = p.Quota, taskTotal
	m.Total.TargetRate, m.Total.TaskRate = rate(m.Total.NewToDate, m.Total.ExpansionTarget), rate(m.Total.NewToDate, m.Total.Task)
	sort.SliceStable(m.Villages, func(i, j int) bool {
		a, b := m.Villages[i], m.Villages[j]
		ra, rb := val(a.TaskRate), val(b.TaskRate)
		if ra != rb {
			return ra > rb
		}
		return a.NewToDate > b.NewToDate
	})
	for i := range m.Villages {
		m.Villages[i].Rank = i + 1
		if i > 0 && val(m.Villages[i].TaskRate) == val(m.Villages[i-1].TaskRate) && m.Villages[i].NewToDate == m.Villages[i-1].NewToDate {
			m.Villages[i].Rank = m.Villages[i-1].Rank // ties share a rank
		}
		if m.Villages[i].BehindPace {
			m.BehindPace = append(m.BehindPace, m.Villages[i].Code)
		}
	}
	if m.Reasons, err = s.MonthlyReasons(ctx, month, asOf, time.Time{}); err != nil {
		return Monthly{}, err
	}
	return m, nil
}

func val(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

// Monthly returns the bulletin of month as known on today. A closed month is frozen: the
// first time it is asked for after its end it is stored, and from then on it is answered as
// stored, whatever corrections arrive later.
//
// Writes dated in a closed month do happen: a visit logged late is dated the day it was made,
// an import that runs past midnight keeps its start day, and a refusal from the city revokes an
// enrollment on its original day. They never reach a stored bulletin (it is the record that was
// sent: TestClosedMonthIsFrozen), and they reach every live figure at once: the sums read
// enrollment_daily and enrollment_totals, which internal/enrollment changes in the transaction
// of the enrollment itself, so there is no cached sum to invalidate
// (TestBackdatedEnrollmentReachesTheLiveFigures).
func (s *Store) Monthly(ctx context.Context, month, today time.Time, now time.Time) (Monthly, error) {
	monthEnd := month.AddDate(0, 1, -1)
	if today.After(monthEnd) {
		p, err := s.CurrentPlan(ctx)
		if err != nil {
			return Monthly{}, err
		}
		if m, ok, err := s.frozen(ctx, p.ID, month); err != nil || ok {
			return m, err
		}
		m, err := s.ComputeMonthly(ctx, month, monthEnd, now)
		if err != nil {
			return Monthly{}, err
		}
		m.Frozen = true
		body, err := json.Marshal(m)
		if err != nil {
			return Monthly{}, err
		}
		_, err = s.db.ExecContext(ctx, Queries.Get("monthly-freeze"),
			p.ID, m.Month, body, database.Now())
		if database.IsDuplicate(err) { // another instance froze it first: theirs is the record
			m, _, err := s.frozen(ctx, p.ID, month)
			return m, err
		}
		return m, database.Map(err)
	}
	return s.ComputeMonthly(ctx, month, today, now)
}

func (s *Store) frozen(ctx context.Context, planID int64, month time.Time) (Monthly, bool, error) {
	var body []byte
	err := s.db.GetContext(ctx, &body, Queries.Get("monthly-frozen"), planID, month.Format("2006-01"))
	if errors.Is(err, sql.ErrNoRows) {
		return Monthly{}, false, nil
	}
	if err != nil {
		return Monthly{}, false, database.Map(err)
	}
	var m Monthly
	if err := json.Unmarshal(body, &m); err != nil {
		return Monthly{}, false, err
	}
	if m.Reasons == nil { // stored before the section existed (reasons.go)
		if m.Reasons, err = s.storedReasons(ctx, planID, month); err != nil {
			return Monthly{}, false, err
		}
	}
	return m, true, nil
}

// AssessmentRow is one village's year-end assessment (绩效考核).
type AssessmentRow struct {
	Code        string   `json:"code"`
	Name        string   `json:"name"`
	Task        int      `json:"task"`
	NewEnrolled int      `json:"new_enrolled"`
	TaskRate    *float64 `json:"task_rate"`
	Met         bool     `json:"met"`
}

// Assessment is the year-end assessment: each village's task of the year met or not.
type Assessment struct {
	Year     int             `json:"year"`
	AsOf     string          `json:"as_of"`
	Final    bool            `json:"final"`
	Villages []AssessmentRow `json:"villages"`
	Met      int             `json:"met"`
	NotMet   int             `json:"not_met"`
}

// Assess counts enrollments up to 31 December of year (or today, before the year ends).
func (s *Store) Assess(ctx context.Context, year int, today time.Time) (Assessment, error) {
	end := time.Date(year, 12, 31, 0, 0, 0, 0, time.UTC)
	asOf := end
	if today.Before(end) {
		asOf = today
	}
	r, err := s.Progress(ctx, asOf)
	if err != nil {
		return Assessment{}, err
	}
	// Progress takes the task of as_of's year, which is the assessed year here.
	a := Assessment{Year: year, AsOf: asOf.Format(time.DateOnly), Final: !today.Before(end), Villages: make([]AssessmentRow, len(r.Villages))}
	for i, v := range r.Villages {
		met := v.Task > 0 && v.NewEnrolled >= v.Task
		a.Villages[i] = AssessmentRow{Code: v.Code, Name: v.Name, Task: v.Task, NewEnrolled: v.NewEnrolled, TaskRate: v.TaskRate, Met: met}
		if met {
			a.Met++
		} else {
			a.NotMet++
		}
	}
	return a, nil
}
