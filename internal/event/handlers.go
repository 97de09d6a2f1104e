package event

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/web"
)

// CheckinRoute is the residents' check-in.
const CheckinRoute = "/api/v1/events/checkin"

// Routes registers the endpoints (api/openapi.yaml, "Events").
func (s *Service) Routes(r *auth.Router) {
	staff := auth.Allow(auth.RoleStaff, auth.RoleAdmin)
	r.Handle(http.MethodPost, "/api/v1/admin/events", staff, r.Idempotent(), web.H(s.create))
	r.Handle(http.MethodGet, "/api/v1/admin/events", auth.Allow(auth.RoleStaff, auth.RoleAdmin, auth.RoleVillageAdmin), web.H(s.list))
	r.Handle(http.MethodGet, "/api/v1/admin/events/:id", auth.Allow(auth.RoleStaff, auth.RoleAdmin, auth.RoleVillageAdmin), web.H(s.get))
	r.Handle(http.MethodGet, "/api/v1/admin/events/:id/qrcode", staff, web.H(s.qrcode))
	r.Handle(http.MethodGet, "/api/v1/admin/events/:id/poster.pdf", staff, web.H(s.poster))
	r.Handle(http.MethodGet, "/api/v1/admin/events/:id/stats", staff, web.H(s.stats))
	r.Handle(http.MethodPost, CheckinRoute, auth.Allow(auth.RoleResident), web.H(s.checkin))
}

type created struct {
	ID     int64  `json:"id"`
	Scene  string `json:"scene"`
	Status string `json:"status"`
}

func (s *Service) create(c *gin.Context) error {
	var in Input
	if err := web.Decode(c, &in); err != nil {
		return err
	}
	p := auth.MustPrincipal(c)
	e, err := s.Create(c.Request.Context(), auth.AuditContext(c), p.ID, in)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, created{ID: e.ID, Scene: e.Scene, Status: e.Status})
	return nil
}

// scope is the village a caller is limited to ("" for the whole town).
func scope(p *auth.Principal) string {
	if p.SeesAllVillages() {
		return ""
	}
	return p.Village
}

func (s *Service) list(c *gin.Context) error {
	page, err := web.ParsePage(c)
	if err != nil {
		return err
	}
	p := auth.MustPrincipal(c)
	village, err := p.VillageFilter(c.Query("village"))
	if err != nil {
		return err
	}
	items, total, err := s.List(c.Request.Context(), village, page.Size, page.Offset())
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, web.NewList(items, total))
	return nil
}

func (s *Service) event(c *gin.Context) (Event, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return Event{}, errs.New(errs.NotFound, "未找到该宣传活动")
	}
	return s.Get(c.Request.Context(), id, scope(auth.MustPrincipal(c)))
}

func (s *Service) get(c *gin.Context) error {
	e, err := s.event(c)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, e)
	return nil
}

func (s *Service) qrcode(c *gin.Context) error {
	e, err := s.event(c)
	if err != nil {
		return err
	}
	img, err := s.Code(c.Request.Context(), e)
	if err != nil {
		return err
	}
	c.Header("Content-Disposition", `inline; filename="event-`+strconv.FormatInt(e.ID, 10)+ext(img.ContentType)+`"`)
	c.Data(http.StatusOK, img.ContentType, img.Bytes)
	return nil
}

func ext(ct string) string {
	if strings.HasSuffix(ct, "png") {
		return ".png"
	}
	return ".jpg"
}

func (s *Service) poster(c *gin.Context) error {
	e, err := s.event(c)
	if err != nil {
		return err
	}
	img, err := s.Code(c.Request.Context(), e)
	if err != nil {
		return err
	}
	pdf, err := Poster(e, img, s.d.Location)
	if err != nil {
		return errs.Internalf("render poster: %w", err)
	}
	c.Header("Content-Disposition", `attachment; filename="event-`+strconv.FormatInt(e.ID, 10)+`-poster.pdf"`)
	c.Data(http.StatusOK, "application/pdf", pdf)
	return nil
}

func (s *Service) stats(c *gin.Context) error {
	e, err := s.event(c)
	if err != nil {
		return err
	}
	st, err := s.Stats(c.Request.Context(), e.ID)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, st)
	return nil
}

type checkinRequest struct {
	Scene string `json:"scene"`
}

func (s *Service) checkin(c *gin.Context) error {
	var req checkinRequest
	if err := web.Decode(c, &req); err != nil {
		return err
	}
	out, err := s.CheckIn(c.Request.Context(), auth.AuditContext(c), auth.MustPrincipal(c).ID, req.Scene)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}
