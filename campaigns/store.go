package campaigns

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
)

//go:embed queries.sql
var queryFS embed.FS

// Queries are the package's named SQL, checked against the server at start-up.
var Queries = database.RegisterQueries("campaigns", queryFS, "queries.sql")

// Campaign is a stored campaign.
type Campaign struct {
	ID        int64
	Status    string
	Spec      Spec
	NextRunAt *time.Time
	CreatedBy *int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

type campaignRow struct {
	ID        int64         `db:"id"`
	Status    string        `db:"status"`
	Spec      []byte        `db:"spec"`
	NextRunAt sql.NullTime  `db:"next_run_at"`
	CreatedBy sql.NullInt64 `db:"created_by"`
	CreatedAt time.Time     `db:"created_at"`
	UpdatedAt time.Time     `db:"updated_at"`
}

func (r campaignRow) campaign() (Campaign, error) {
	c := Campaign{ID: r.ID, Status: r.Status, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if err := json.Unmarshal(r.Spec, &c.Spec); err != nil {
		return c, errs.Internalf("campaign %d: bad spec: %w", r.ID, err)
	}
	if r.NextRunAt.Valid {
		t := r.NextRunAt.Time
		c.NextRunAt = &t
	}
	if r.CreatedBy.Valid {
		id := r.CreatedBy.Int64
		c.CreatedBy = &id
	}
	return c, nil
}

// Store keeps campaigns in MySQL.
type Store struct{ db *sqlx.DB }

// NewStore wires the store.
func NewStore(db *sqlx.DB) *Store { return &Store{db: db} }

// Create inserts a validated spec as a draft.
func (s *Store) Create(ctx context.Context, ext sqlx.ExecerContext, spec Spec, by int64) (int64, error) {
	body, err := json.Marshal(spec)
	if err != nil {
		return 0, err
	}
	now := database.Now()
	res, err := ext.ExecContext(ctx, Queries.Get("campaign-insert"), spec.Name, body, spec.Schedule.StartAt.UTC(), spec.Schedule.EndAt.UTC(),
		repeatDays(spec), by, now, now)
	if err != nil {
		return 0, database.Map(err)
	}
	return res.LastInsertId()
}

func repeatDays(s Spec) int {
	if s.Schedule.RepeatEveryDays == nil {
		return 0
	}
	return *s.Schedule.RepeatEveryDays
}

// Get reads one campaign.
func (s *Store) Get(ctx context.Context, q sqlx.QueryerContext, id int64, lock bool) (Campaign, error) {
	query := Queries.Get("campaign-get")
	if lock {
		query = Queries.Get("campaign-get-for-update")
	}
	var r campaignRow
	if err := sqlx.GetContext(ctx, q, &r, query, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Campaign{}, errs.ErrNotFoundPublic
		}
		return Campaign{}, database.Map(err)
	}
	return r.campaign()
}

// ActiveRuns counts a campaign's runs still under way (snapshotting or dispatching).
func (s *Store) ActiveRuns(ctx context.Context, q sqlx.QueryerContext, id int64) (int, error) {
	var n int
	if err := sqlx.GetContext(ctx, q, &n, Queries.Get("runs-active-count"), id); err != nil {
		return 0, database.Map(err)
	}
	return n, nil
}

// List pages through campaigns, newest first.
func (s *Store) List(ctx context.Context, status string, limit, offset int) ([]Campaign, int, error) {
	count, list, args := Queries.Get("campaign-count"), Queries.Get("campaign-list"), []any{}
	if status != "" {
		count, list, args = Queries.Get("campaign-count-by-status"), Queries.Get("campaign-list-by-status"), append(args, status)
	}
	var total int
	if err := s.db.GetContext(ctx, &total, count, args...); err != nil {
		return nil, 0, database.Map(err)
	}
	var rows []campaignRow
	if err := s.db.SelectContext(ctx, &rows, list, append(args, limit, offset)...); err != nil {
		return nil, 0, database.Map(err)
	}
	out := make([]Campaign, 0, len(rows))
	for _, r := range rows {
		c, err := r.campaign()
		if err != nil {
			return nil, 0, err
		}
		out = append(out, c)
	}
	return out, total, nil
}

// SetStatus moves a campaign from its status to another (through Move); scheduling also sets
// when its next run is due, ending clears it.
func (s *Store) SetStatus(ctx context.Context, tx *sqlx.Tx, c Campaign, to string) error {
	next := KeepNextRun
	switch to {
	case StatusScheduled:
		at := c.Spec.Schedule.StartAt
		if c.NextRunAt != nil {
			at = *c.NextRunAt
		}
		next = SetNextRun(&at)
	case StatusCompleted, StatusCancelled:
		next = SetNextRun(nil)
	}
	return Move(ctx, tx, c.ID, c.Status, to, next)
}
