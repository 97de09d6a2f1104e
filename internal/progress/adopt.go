package progress

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
)

// AdoptedPlan is a plan as adopted on paper: its quota, milestones and the annex's village rows.
type AdoptedPlan struct {
	Code, Title, Document string
	BaseYear, Quota       int
	Milestones            []Milestone // in year order
	Villages              []VillageTarget
}

// Milestone is the share of the quota due by the end of a year.
type Milestone struct {
	Year  int
	Ratio float64
}

// VillageTarget is a village's row of the annex: its baselines, its target, and its tasks of
// the base year and the years after it, in order.
type VillageTarget struct {
	Code                             string
	Population, Enrolled, Unenrolled int
	ExpansionTarget                  int
	Tasks                            []int
}

// InsertAdoptedPlan writes a plan, its milestones, village targets and tasks where missing
// (the demo seed's plan and annex; a row already there is left as it is), in the caller's
// transaction.
func InsertAdoptedPlan(ctx context.Context, ext sqlx.ExtContext, p AdoptedPlan, now time.Time) error {
	if _, err := ext.ExecContext(ctx, Queries.Get("plan-insert-adopted"), p.Code, p.Title, p.Document, p.BaseYear, p.Quota, now); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	var planID int64
	if err := sqlx.GetContext(ctx, ext, &planID, Queries.Get("plan-id-of-code"), p.Code); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	for _, m := range p.Milestones {
		if _, err := ext.ExecContext(ctx, Queries.Get("milestone-insert-adopted"), planID, m.Year, m.Ratio); err != nil {
			return fmt.Errorf("plan milestone %d: %w", m.Year, err)
		}
	}
	for _, v := range p.Villages {
		if _, err := ext.ExecContext(ctx, Queries.Get("target-insert-adopted"),
			planID, v.Code, v.Population, v.Enrolled, v.Unenrolled, v.ExpansionTarget); err != nil {
			return fmt.Errorf("plan target %s: %w", v.Code, err)
		}
		if len(v.Tasks) == 0 {
			continue
		}
		args := make([]any, 0, len(v.Tasks)*4)
		for i, task := range v.Tasks {
			args = append(args, planID, v.Code, p.BaseYear+i, task)
		}
		if _, err := ext.ExecContext(ctx, database.MultiRow(Queries.Get("tasks-insert-adopted"), len(v.Tasks)), args...); err != nil {
			return fmt.Errorf("plan tasks %s: %w", v.Code, err)
		}
	}
	return nil
}
