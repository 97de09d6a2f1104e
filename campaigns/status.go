package campaigns

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
)

// CodeIllegalTransition answers a change of status the state machine does not allow, or one
// whose campaign has meanwhile moved on.
var CodeIllegalTransition = errs.Register("ILLEGAL_TRANSITION", 409)

// moves is the state machine of a campaign: every change of status, by staff (schedule, pause,
// resume, cancel, retry the failed) or by the engine (a run starts, the last run ends).
var moves = map[string]map[string]bool{
	StatusDraft:     {StatusScheduled: true, StatusCancelled: true},
	StatusScheduled: {StatusRunning: true, StatusPaused: true, StatusCancelled: true},
	StatusRunning:   {StatusPaused: true, StatusCancelled: true, StatusCompleted: true, StatusScheduled: true},
	StatusPaused:    {StatusScheduled: true, StatusRunning: true, StatusCancelled: true, StatusCompleted: true},
	StatusCompleted: {StatusRunning: true}, // its failed deliveries are retried
}

// CanMove reports whether a campaign may go from one status to another.
func CanMove(from, to string) bool { return moves[from][to] }

var statusNames = map[string]string{StatusDraft: "草稿", StatusScheduled: "待发送", StatusRunning: "发送中",
	StatusPaused: "已暂停", StatusCompleted: "已完成", StatusCancelled: "已取消"}

// NextRun says what a move does to next_run_at.
type NextRun struct {
	set bool
	at  *time.Time
}

// KeepNextRun leaves next_run_at as it is.
var KeepNextRun = NextRun{}

// SetNextRun sets next_run_at (nil: no next run).
func SetNextRun(at *time.Time) NextRun {
	if at != nil {
		u := at.UTC()
		at = &u
	}
	return NextRun{set: true, at: at}
}

// Move is the one write of campaigns.status: the campaign goes from one status to another if
// the state machine allows it and the campaign is still in from (a conditional UPDATE, so two
// writers racing on a campaign cannot both move it). Anything else is 409 ILLEGAL_TRANSITION
// and changes nothing.
func Move(ctx context.Context, ext sqlx.ExecerContext, id int64, from, to string, next NextRun) error {
	if !CanMove(from, to) {
		return errs.New(CodeIllegalTransition, "活动当前为“"+statusNames[from]+"”，不能变为“"+statusNames[to]+"”")
	}
	var at any
	if next.at != nil {
		at = *next.at
	}
	res, err := ext.ExecContext(ctx, Queries.Get("campaign-move"), to, next.set, at, database.Now(), id, from)
	if err != nil {
		return database.Map(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return database.Map(err)
	} else if n != 1 {
		return errs.New(CodeIllegalTransition, "活动状态已发生变化，请刷新后重试")
	}
	return nil
}
