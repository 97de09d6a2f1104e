package progress

import (
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/web"
)

// Handlers serve targets, progress and reports.
type Handlers struct {
	db    *sqlx.DB
	store *Store
	audit *audit.Log
	loc   *time.Location
	now   func() time.Time
}

// NewHandlers wires the endpoints.
func NewHandlers(db *sqlx.DB, a *audit.Log, loc *time.Location) *Handlers {
	return &Handlers{db: db, store: NewStore(db).WithLocation(loc), audit: a, loc: loc, now: time.Now}
}

// Routes registers the endpoints.
func (h *Handlers) Routes(r *auth.Router) {
	r.Handle(http.MethodPost, "/api/v1/admin/targets/allocate", auth.Allow(auth.RoleAdmin), web.H(h.allocate))
	r.Handle(http.MethodGet, "/api/v1/admin/progress", auth.Allow(auth.RoleStaff, auth.RoleAdmin, auth.RoleVillageAdmin), web.H(h.progress))
	r.Handle(http.MethodGet, "/api/v1/admin/reports/monthly", auth.Allow(auth.RoleStaff, auth.RoleAdmin), web.H(h.monthly))
	r.Handle(http.MethodGet, "/api/v1/admin/reports/assessment", auth.Allow(auth.RoleStaff, auth.RoleAdmin), web.H(h.assessment))
}

type allocateRequest struct {
	Quota      *int               `json:"quota"`
	Milestones map[string]float64 `json:"milestones"`
	Method     string             `json:"method"`
	DryRun     bool               `json:"dry_run"`
}

var yearKey = regexp.MustCompile(`^(20\d\d|2100)$`)

func (h *Handlers) allocate(c *gin.Context) error {
	var req allocateRequest
	if err := web.Decode(c, &req); err != nil {
		return err
	}
	if req.Quota == nil || *req.Quota < 1 || *req.Quota > 100_000_000 {
		return errs.Field(errs.InvalidInput, "quota", "扩面总任务须为正整数")
	}
	if len(req.Milestones) == 0 || len(req.Milestones) > 20 {
		return errs.Field(errs.InvalidInput, "milestones", "请填写年度进度要求，如 {\"2019\": 0.8}")
	}
	for y, r := range req.Milestones {
		if !yearKey.MatchString(y) || r <= 0 || r > 1 {
			return errs.Field(errs.InvalidInput, "milestones", "年度进度要求须为“年份: 0 至 1 之间的比例”")
		}
	}
	if req.Method != MethodRound && req.Method != MethodLargestRemainder {
		return errs.Field(errs.InvalidInput, "method", "分配方法须为 round 或 largest_remainder")
	}
	ctx := c.Request.Context()
	p, err := h.store.CurrentPlan(ctx)
	if err != nil {
		return err
	}
	base, err := h.store.Baselines(ctx, p.ID)
	if err != nil {
		return err
	}
	units := make([]Unit, len(base))
	for i, b := range base {
		units[i] = Unit{Code: b.Code, Name: b.Name, Unenrolled: b.Unenrolled}
	}
	a, err := Allocate(units, *req.Quota, req.Milestones, req.Method)
	if err != nil {
		return errs.Wrap(errs.RuleViolation, err, "无法分配：各村未参保人数合计为 0")
	}
	if !req.DryRun {
		err := database.InTx(ctx, h.db, func(tx *sqlx.Tx) error {
			if err := h.store.Adopt(ctx, tx, p, a, req.Milestones); err != nil {
				return err
			}
			return h.audit.RecordTx(ctx, tx, auth.AuditContext(c).Event("targets.adopt", "plan", p.ID, audit.Success,
				"method="+a.Method+" quota="+strconv.Itoa(a.Quota)))
		})
		if err != nil {
			return err
		}
	}
	c.JSON(http.StatusOK, a)
	return nil
}

func (h *Handlers) today() time.Time { return web.Today(h.now(), h.loc) }

func (h *Handlers) progress(c *gin.Context) error {
	asOf := h.today()
	if v := c.Query("as_of"); v != "" {
		d, err := web.ParseDate(v, "as_of")
		if err != nil {
			return err
		}
		asOf = d
	}
	r, err := h.store.Progress(c.Request.Context(), asOf)
	if err != nil {
		return err
	}
	if p := auth.MustPrincipal(c); p.Role.VillageBound() {
		r = r.OnlyVillage(p.Village)
	}
	c.JSON(http.StatusOK, r)
	return nil
}

func (h *Handlers) monthly(c *gin.Context) error {
	month, err := web.ParseMonth(c.Query("month"), "month")
	if err != nil {
		return err
	}
	format := c.DefaultQuery("format", "json")
	if format != "json" && format != "xlsx" {
		return errs.Field(errs.InvalidInput, "format", "格式须为 json 或 xlsx")
	}
	today := h.today()
	if month.After(today) {
		return errs.Field(errs.InvalidInput, "month", "该月份尚未开始")
	}
	ctx := c.Request.Context()
	m, err := h.store.Monthly(ctx, month, today, h.now())
	if err != nil {
		return err
	}
	if format == "json" {
		c.JSON(http.StatusOK, m)
		return nil
	}
	body, err := MonthlyXLSX(m)
	if err != nil {
		return errs.Internalf("render monthly xlsx: %w", err)
	}
	if err := h.audit.Record(ctx, auth.AuditContext(c).Event("report.export", "monthly_report", 0, audit.Success, "month="+m.Month)); err != nil {
		return err
	}
	c.Header("Content-Disposition", `attachment; filename="canbao-monthly-`+m.Month+`.xlsx"`)
	c.Data(http.StatusOK, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body)
	return nil
}

func (h *Handlers) assessment(c *gin.Context) error {
	today := h.today()
	year, err := strconv.Atoi(c.Query("year"))
	if err != nil || year < 2000 || year > today.Year() {
		return errs.Field(errs.InvalidInput, "year", "请填写已开始的考核年度")
	}
	a, err := h.store.Assess(c.Request.Context(), year, today)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, a)
	return nil
}
