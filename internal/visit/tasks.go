package visit

import (
	"context"
	"database/sql"
	"embed"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/web"
)

//go:embed queries.sql
var queryFS embed.FS

// Queries are the package's named SQL, checked against the server at start-up.
var Queries = database.RegisterQueries("visit", queryFS, "queries.sql")

// CampaignTask is the visit task a campaign asks for: who, why (the rendered reminder) and by when.
type CampaignTask struct {
	ResidentID int64
	Village    string
	CampaignID int64
	Note       string
	DueOn      time.Time
}

// OpenCampaignTask puts a person on their village volunteers' task list and returns the task's
// ID; a person who already has an open task keeps it, and its ID is returned. The visit package
// owns visit_tasks (docs/ARCHITECTURE.md, "Who writes which table").
func OpenCampaignTask(ctx context.Context, db sqlx.ExtContext, t CampaignTask, now time.Time) (int64, error) {
	res, err := db.ExecContext(ctx, Queries.Get("task-open-campaign"), t.ResidentID, t.Village, t.CampaignID, t.Note, t.DueOn, t.ResidentID, now)
	if database.IsDuplicate(err) {
		var id int64
		if err := sqlx.GetContext(ctx, db, &id, Queries.Get("task-open-of"), t.ResidentID); err != nil {
			return 0, database.Map(err)
		}
		return id, nil
	}
	if err != nil {
		return 0, database.Map(err)
	}
	id, _ := res.LastInsertId()
	return id, nil
}

// OpenedTask is a campaign task opened at a given time.
type OpenedTask struct {
	CampaignTask
	At time.Time
}

// OpenCampaignTasks opens many campaign tasks in one multi-row INSERT, in the caller's
// transaction: the demo seed's campaign, whose people have no open task yet (a person who has
// one is a duplicate-key error, for the caller). It returns the driver's error as it is.
func OpenCampaignTasks(ctx context.Context, ext sqlx.ExecerContext, tasks []OpenedTask) error {
	if len(tasks) == 0 {
		return nil
	}
	args := make([]any, 0, len(tasks)*7)
	for _, t := range tasks {
		args = append(args, t.ResidentID, t.Village, t.CampaignID, t.Note, t.DueOn, t.ResidentID, t.At)
	}
	_, err := ext.ExecContext(ctx, database.MultiRow(Queries.Get("task-open-campaign"), len(tasks)), args...)
	return err
}

// taskCounts counts the people worth a visit: All of them, Target those 16-59 today.
type taskCounts struct {
	All    int `db:"all_"`
	Target int `db:"target"`
}

// taskRow is one person of a task list, with the priority that ranks them.
type taskRow struct {
	ID        int64          `db:"id"`
	Name      string         `db:"name"`
	Gender    string         `db:"gender"`
	Birth     time.Time      `db:"birth_date"`
	PhoneEnc  []byte         `db:"phone_enc"`
	KeyID     string         `db:"pii_key_id"`
	FollowUp  sql.NullTime   `db:"follow_up_on"`
	LastVisit sql.NullTime   `db:"last_visited_at"`
	TaskDue   sql.NullTime   `db:"due_on"`
	TaskNote  sql.NullString `db:"note"`
	Priority  int            `db:"priority"`
}

// taskRows reads a village's task list as of today: the counts, and one page of the people
// born between earliest and latest.
func (s *Service) taskRows(ctx context.Context, village string, today, earliest, latest time.Time, page web.Page) (taskCounts, []taskRow, error) {
	var counts taskCounts
	if err := s.db.GetContext(ctx, &counts, Queries.Get("task-list-counts"), earliest, latest, village, today); err != nil {
		return taskCounts{}, nil, database.Map(err)
	}
	var rows []taskRow
	if err := s.db.SelectContext(ctx, &rows, Queries.Get("task-list-page"),
		today, village, today, earliest, latest, page.Size, page.Offset()); err != nil {
		return taskCounts{}, nil, database.Map(err)
	}
	return counts, rows, nil
}
