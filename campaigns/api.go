package campaigns

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/campaigns/counters"
	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/web"
	"github.com/canbao/canbao/internal/targetage"
)

var codeStateConflict = errs.Register("CAMPAIGN_STATE_CONFLICT", 409)

// API serves the staff endpoints of campaigns.
type API struct {
	db       *sqlx.DB
	store    *Store
	counters *counters.Counters
	audit    *audit.Log
	limits   Limits
	loc      *time.Location
	now      func() time.Time
}

// NewAPI wires the endpoints.
func NewAPI(db *sqlx.DB, c *counters.Counters, a *audit.Log, l Limits, loc *time.Location) *API {
	return &API{db: db, store: NewStore(db), counters: c, audit: a, limits: l, loc: loc, now: time.Now}
}

// Routes registers the campaign endpoints for propaganda staff and admins.
func (a *API) Routes(r *auth.Router) {
	p := auth.Allow(auth.RoleStaff, auth.RoleAdmin)
	r.Handle(http.MethodGet, "/api/v1/admin/campaigns", p, web.H(a.list))
	r.Handle(http.MethodPost, "/api/v1/admin/campaigns", p, r.Idempotent(), web.H(a.create))
	r.Handle(http.MethodGet, "/api/v1/admin/campaigns/:id", p, web.H(a.get))
	r.Handle(http.MethodPost, "/api/v1/admin/campaigns/preview", p, web.H(a.previewSegment))
	r.Handle(http.MethodPost, "/api/v1/admin/campaigns/:id/preview", p, web.H(a.preview))
	for _, t := range []Transition{Schedule, Pause, Resume, Cancel} {
		r.Handle(http.MethodPost, "/api/v1/admin/campaigns/:id/"+string(t), p, web.H(a.transition(t)))
	}
	r.Handle(http.MethodPost, "/api/v1/admin/campaigns/:id/retry-failed", p, web.H(a.retryFailed))
	r.Handle(http.MethodGet, "/api/v1/admin/campaigns/:id/stats", p, web.H(a.stats))
}

// View is a campaign as the console shows it.
type View struct {
	ID            int64         `json:"id"`
	Name          string        `json:"name"`
	Status        string        `json:"status"`
	Segment       Segment       `json:"segment"`
	Channels      []string      `json:"channels"`
	Template      Template      `json:"template"`
	Schedule      ScheduleSpec  `json:"schedule"`
	RatePerMinute int           `json:"rate_per_minute,omitempty"` // absent: as fast as the channels allow
	FrequencyCap  *FrequencyCap `json:"frequency_cap"`
	CreatedBy     *int64        `json:"created_by,omitempty"`
	CreatedAt     time.Time     `json:"created_at"`
	UpdatedAt     time.Time     `json:"updated_at"`
}

func view(c Campaign) View {
	s := c.Spec
	return View{ID: c.ID, Name: s.Name, Status: c.Status, Segment: s.Segment, Channels: s.Channels, Template: s.Template,
		Schedule: s.Schedule, RatePerMinute: s.RatePerMinute, FrequencyCap: s.FrequencyCap, CreatedBy: c.CreatedBy,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

var campaignStatuses = map[string]bool{StatusDraft: true, StatusScheduled: true, StatusRunning: true, StatusPaused: true, StatusCompleted: true, StatusCancelled: true}

func (a *API) list(c *gin.Context) error {
	page, err := web.ParsePage(c)
	if err != nil {
		return err
	}
	status := c.Query("status")
	if status != "" && !campaignStatuses[status] {
		return errs.Field(errs.InvalidInput, "status", "活动状态不正确")
	}
	cs, total, err := a.store.List(c.Request.Context(), status, page.Size, page.Offset())
	if err != nil {
		return err
	}
	out := make([]View, len(cs))
	for i, x := range cs {
		out[i] = view(x)
	}
	c.JSON(http.StatusOK, web.NewList(out, total))
	return nil
}

// decodeSpec reads a campaign spec strictly (unknown fields at any depth are refused).
func decodeSpec(c *gin.Context) (Spec, error) {
	var s Spec
	if err := web.Decode(c, &s); err != nil {
		return s, err
	}
	return s, nil
}

func (a *API) create(c *gin.Context) error {
	spec, err := decodeSpec(c)
	if err != nil {
		return err
	}
	if err := spec.Validate(a.limits, a.now()); err != nil {
		return err
	}
	ctx := c.Request.Context()
	p := auth.MustPrincipal(c)
	var id int64
	err = database.InTx(ctx, a.db, func(tx *sqlx.Tx) error {
		if id, err = a.store.Create(ctx, tx, spec, p.ID); err != nil {
			return err
		}
		return a.audit.RecordTx(ctx, tx, auth.AuditContext(c).Event("campaign.create", "campaign", id, audit.Success, ""))
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, gin.H{"id": id, "status": StatusDraft})
	return nil
}

func (a *API) get(c *gin.Context) error {
	id, err := auth.PathID(c)
	if err != nil {
		return err
	}
	x, err := a.store.Get(c.Request.Context(), a.db, id, false)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, view(x))
	return nil
}

// PreviewResult is the audience a segment selects today.
type PreviewResult struct {
	Audience  int            `json:"audience"`
	ByVillage map[string]int `json:"by_village"`
	// ExcludedOutOfAge counts the people the segment's other criteria select who are left out
	// for not being 16-59 today.
	ExcludedOutOfAge int `json:"excluded_out_of_age"`
}

// Preview counts the audience of a segment today, per village, sending nothing.
func (a *API) Preview(ctx context.Context, g Segment) (PreviewResult, error) {
	today := web.Today(a.now(), a.loc)
	// One pass over what the segment selects at any age; the audience is the part inside the
	// target group, as Where selects it.
	where, args := g.whereAnyAge(today)
	earliest, latest := targetage.Range(today) // the query's n: r.birth_date BETWEEN ? AND ?
	targs := []any{earliest, latest}
	var rows []struct {
		Village string `db:"village_code"`
		N       int    `db:"n"`
		All     int    `db:"all_"`
	}
	if err := a.db.SelectContext(ctx, &rows, withSegment(Queries.Get("campaign-preview"), where), append(targs, args...)...); err != nil {
		return PreviewResult{}, database.Map(err)
	}
	out := PreviewResult{ByVillage: make(map[string]int, len(rows))}
	for _, r := range rows {
		if r.N > 0 {
			out.ByVillage[r.Village] = r.N
		}
		out.Audience += r.N
		out.ExcludedOutOfAge += r.All - r.N
	}
	return out, nil
}

func (a *API) preview(c *gin.Context) error {
	id, err := auth.PathID(c)
	if err != nil {
		return err
	}
	x, err := a.store.Get(c.Request.Context(), a.db, id, false)
	if err != nil {
		return err
	}
	out, err := a.Preview(c.Request.Context(), x.Spec.Segment)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// previewSegment counts the audience of a segment that is not saved yet (the console's
// campaign editor, as the staff member builds the segment). It changes nothing.
func (a *API) previewSegment(c *gin.Context) error {
	var g Segment
	if err := web.Decode(c, &g); err != nil {
		return err
	}
	if err := g.validate(); err != nil {
		return err
	}
	out, err := a.Preview(c.Request.Context(), g)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// transition applies a lifecycle action.
func (a *API) transition(t Transition) web.Handler {
	return func(c *gin.Context) error {
		id, err := auth.PathID(c)
		if err != nil {
			return err
		}
		to, err := a.Transition(c.Request.Context(), auth.AuditContext(c), id, t)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, gin.H{"id": id, "status": to})
		return nil
	}
}

// Transition applies a lifecycle action to a campaign, audited as actx, and returns its new
// status. Resuming a campaign whose run was interrupted goes back to running; otherwise to
// scheduled. A cancel skips what was still queued, and the stats follow.
func (a *API) Transition(ctx context.Context, actx audit.Context, id int64, t Transition) (string, error) {
	var to string
	var skipped map[string]int // per village, by a cancel
	err := database.InTx(ctx, a.db, func(tx *sqlx.Tx) error {
		x, err := a.store.Get(ctx, tx, id, true)
		if err != nil {
			return err
		}
		next, ok := Next(x.Status, t)
		if !ok {
			return errs.New(CodeIllegalTransition, "活动当前为“"+statusNames[x.Status]+"”，不能执行该操作")
		}
		if t == Resume {
			active, err := a.store.ActiveRuns(ctx, tx, id)
			if err != nil {
				return err
			}
			if active > 0 {
				next = StatusRunning
			}
		}
		if t == Schedule && x.Spec.Schedule.EndAt != nil && !x.Spec.Schedule.EndAt.After(a.now()) {
			return errs.New(errs.RuleViolation, "活动结束时间已过，不能再安排发送")
		}
		if err := a.store.SetStatus(ctx, tx, x, next); err != nil {
			return err
		}
		to, skipped = next, nil
		if next == StatusCancelled {
			if skipped, err = cancelQueued(ctx, tx, id); err != nil {
				return err
			}
		}
		return a.audit.RecordTx(ctx, tx, actx.Event("campaign."+string(t), "campaign", id, audit.Success, "to="+next))
	})
	if err != nil {
		return "", err
	}
	if err := a.counters.Cancelled(ctx, id, skipped); err != nil {
		// The outbox is right; the stats catch up at the next rebuild.
		a.counters.Forget(ctx, id)
	}
	return to, nil
}

// retryFailed puts a campaign's failed (and, when asked, unknown) deliveries back in the queue.
func (a *API) retryFailed(c *gin.Context) error {
	id, err := auth.PathID(c)
	if err != nil {
		return err
	}
	var req struct {
		IncludeUnknown bool `json:"include_unknown"`
	}
	if c.Request.ContentLength != 0 {
		if err := web.Decode(c, &req); err != nil {
			return err
		}
	}
	n, err := a.RetryFailed(c.Request.Context(), auth.AuditContext(c), id, req.IncludeUnknown)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"id": id, "requeued": n})
	return nil
}

// RetryFailed puts a campaign's failed and unknown deliveries back in the queue: "retry the
// failed ones" as one call, audited as actx; it returns how many it requeued. Unknown ones are
// included only when asked, since they may have reached the person. A completed campaign with
// deliveries requeued runs again.
func (a *API) RetryFailed(ctx context.Context, actx audit.Context, id int64, includeUnknown bool) (int64, error) {
	var n int64
	err := database.InTx(ctx, a.db, func(tx *sqlx.Tx) error {
		x, err := a.store.Get(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if x.Status == StatusCancelled || x.Status == StatusDraft {
			return errs.New(codeStateConflict, "活动当前为“"+statusNames[x.Status]+"”，不能重发")
		}
		statuses := []string{DeliveryFailed}
		if includeUnknown {
			statuses = append(statuses, DeliveryUnknown)
		}
		if n, err = requeueFailed(ctx, tx, id, statuses); err != nil {
			return err
		}
		if n > 0 && x.Status == StatusCompleted {
			if err := Move(ctx, tx, id, StatusCompleted, StatusRunning, KeepNextRun); err != nil {
				return err
			}
		}
		return a.audit.RecordTx(ctx, tx, actx.Event("campaign.retry_failed", "campaign", id, audit.Success, "requeued="+strconv.FormatInt(n, 10)))
	})
	if err != nil {
		return 0, err
	}
	if n > 0 {
		if err := a.counters.Rebuild(ctx, id); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func (a *API) stats(c *gin.Context) error {
	id, err := auth.PathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	if _, err := a.store.Get(ctx, a.db, id, false); err != nil {
		return err
	}
	s, err := a.counters.Stats(ctx, id)
	if err != nil {
		return errs.Wrap(errs.Unavailable, err, "统计数据暂时不可用，请稍后再试")
	}
	c.JSON(http.StatusOK, s)
	return nil
}
