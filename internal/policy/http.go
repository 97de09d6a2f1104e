package policy

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/platform/web"
)

// Routes registers the public and staff endpoints; the creating POST honours Idempotency-Key.
func (s *Service) Routes(r *auth.Router) {
	h := handlers{s: s}
	r.Handle(http.MethodGet, "/api/v1/policies", auth.PublicCacheable(), web.H(h.publicList))
	r.Handle(http.MethodGet, "/api/v1/policies/:slug", auth.PublicCacheable(), web.H(h.publicGet))

	staff := auth.Allow(auth.RoleStaff, auth.RoleAdmin)
	r.Handle(http.MethodGet, "/api/v1/admin/policies", staff, web.H(h.adminList))
	r.Handle(http.MethodPost, "/api/v1/admin/policies", staff, r.Idempotent(), web.H(h.create))
	r.Handle(http.MethodGet, "/api/v1/admin/policies/:slug", staff, web.H(h.adminGet))
	r.Handle(http.MethodPut, "/api/v1/admin/policies/:slug", staff, web.H(h.update))
	r.Handle(http.MethodGet, "/api/v1/admin/policies/:slug/revisions/:version", staff, web.H(h.revision))
}

type handlers struct{ s *Service }

// publicCacheControl lets the mini-program and any proxy keep an answer for a minute; the ETag
// makes revalidation after that cheap.
const publicCacheControl = "public, max-age=60"

func (h handlers) publicList(c *gin.Context) error {
	page, err := web.ParsePage(c)
	if err != nil {
		return err
	}
	f := Filter{Category: c.Query("category"), Query: strings.TrimSpace(c.Query("q"))}
	out, err := h.s.PublishedList(c.Request.Context(), f, page)
	if err != nil {
		return err
	}
	sendCached(c, out)
	return nil
}

func (h handlers) publicGet(c *gin.Context) error {
	out, err := h.s.Published(c.Request.Context(), c.Param("slug"))
	if err != nil {
		return err
	}
	sendCached(c, out)
	return nil
}

// sendCached sends a rendered answer with its ETag, or 304 without a body when the client's
// If-None-Match already names it.
func sendCached(c *gin.Context, r Rendered) {
	c.Header("ETag", r.ETag)
	c.Header("Cache-Control", publicCacheControl)
	if etagMatches(c.GetHeader("If-None-Match"), r.ETag) {
		c.Status(http.StatusNotModified)
		c.Writer.WriteHeaderNow()
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", r.Body)
}

// etagMatches implements If-None-Match's weak comparison (RFC 9110 §13.1.2): "*" matches
// anything, a list matches if any member does, and W/ prefixes are ignored.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for part := range strings.SplitSeq(header, ",") {
		p := strings.TrimSpace(part)
		if p == "*" || strings.TrimPrefix(p, "W/") == want {
			return true
		}
	}
	return false
}

func (h handlers) adminList(c *gin.Context) error {
	page, err := web.ParsePage(c)
	if err != nil {
		return err
	}
	f := Filter{Category: c.Query("category"), Query: strings.TrimSpace(c.Query("q")), Status: Status(c.Query("status"))}
	items, total, err := h.s.AdminList(c.Request.Context(), f, page)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, web.NewList(items, total))
	return nil
}

func (h handlers) adminGet(c *gin.Context) error {
	a, err := h.s.AdminGet(c.Request.Context(), c.Param("slug"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, a)
	return nil
}

func (h handlers) revision(c *gin.Context) error {
	version, err := ParseVersion(c.Param("version"))
	if err != nil {
		return err
	}
	r, err := h.s.Revision(c.Request.Context(), c.Param("slug"), version)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, r)
	return nil
}

// createRequest is PolicyCreateRequest in api/openapi.yaml.
type createRequest struct {
	Slug     string `json:"slug"`
	Title    string `json:"title"`
	Summary  string `json:"summary"`
	Body     string `json:"body"`
	Category string `json:"category"`
	Status   Status `json:"status"`
}

func (h handlers) create(c *gin.Context) error {
	var req createRequest
	if err := web.Decode(c, &req); err != nil {
		return err
	}
	a, err := h.s.Create(c.Request.Context(), auth.AuditContext(c), req.Slug, Content{
		Title: req.Title, Summary: req.Summary, Body: req.Body, Category: req.Category, Status: req.Status,
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, a)
	return nil
}

// updateRequest is PolicyUpdateRequest in api/openapi.yaml: every field is required.
type updateRequest struct {
	Title    string `json:"title"`
	Summary  string `json:"summary"`
	Body     string `json:"body"`
	Category string `json:"category"`
	Status   Status `json:"status"`
}

func (h handlers) update(c *gin.Context) error {
	var req updateRequest
	if err := web.Decode(c, &req); err != nil {
		return err
	}
	a, err := h.s.Update(c.Request.Context(), auth.AuditContext(c), c.Param("slug"), Content{
		Title: req.Title, Summary: req.Summary, Body: req.Body, Category: req.Category, Status: req.Status,
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, a)
	return nil
}
