package analysis

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/web"
)

// Service serves the analysis endpoints.
type Service struct {
	db  *sqlx.DB
	loc *time.Location
	now func() time.Time
}

// NewService wires the analysis endpoints; loc is the business time zone.
func NewService(db *sqlx.DB, loc *time.Location) *Service {
	return &Service{db: db, loc: loc, now: time.Now}
}

// WithClock makes the service read "today" from now instead of the system clock.
func (s *Service) WithClock(now func() time.Time) *Service {
	s.now = now
	return s
}

// Routes registers GET /api/v1/admin/analysis/reasons.
func (s *Service) Routes(r *auth.Router) {
	r.Handle(http.MethodGet, "/api/v1/admin/analysis/reasons",
		auth.Allow(auth.RoleStaff, auth.RoleAdmin, auth.RoleVillageAdmin), web.H(s.reasons))
}

func (s *Service) reasons(c *gin.Context) error {
	p := auth.MustPrincipal(c)
	ctx := c.Request.Context()
	village, err := p.VillageFilter(c.Query("village"))
	if err != nil {
		return err
	}
	from, to, err := ParseWindow(c.Query("from"), c.Query("to"), web.Today(s.now(), s.loc))
	if err != nil {
		return err
	}
	villages, err := Villages(ctx, s.db)
	if err != nil {
		return err
	}
	if village != "" && !known(villages, village) {
		return errs.Field(errs.VillageUnknown, "village", "所选村（居）不存在")
	}
	r, err := Reasons(ctx, s.db, Query{Village: village, From: from, To: to, Loc: s.loc}, villages)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, r)
	return nil
}

func known(vs []VillageName, code string) bool {
	for _, v := range vs {
		if v.Code == code {
			return true
		}
	}
	return false
}

// ParseWindow reads the analysis window: from and to are civil dates, both included, each
// optional (to defaults to today, from to 1 January of to's year). A bad date, a window that
// ends before it starts or after today, or one longer than MaxDays is a 400 about its field.
func ParseWindow(fromS, toS string, today time.Time) (from, to time.Time, err error) {
	to = today
	if toS != "" {
		if to, err = web.ParseRecordDate(toS, "to"); err != nil {
			return from, to, err
		}
	}
	from = time.Date(to.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	if fromS != "" {
		if from, err = web.ParseRecordDate(fromS, "from"); err != nil {
			return from, to, err
		}
	}
	if to.After(today) {
		return from, to, errs.Field(errs.InvalidInput, "to", "结束日期不能晚于今天")
	}
	if from.After(to) {
		return from, to, errs.Field(errs.InvalidInput, "from", "开始日期不能晚于结束日期")
	}
	if days := int(to.Sub(from)/(24*time.Hour)) + 1; days > MaxDays {
		return from, to, errs.Field(errs.InvalidInput, "to", fmt.Sprintf("统计时段最长 %d 天，请缩短日期范围", MaxDays))
	}
	return from, to, nil
}
