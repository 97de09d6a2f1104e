package visit

import (
	"context"
	"embed"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
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
