package auth

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/ratelimit"
	"github.com/canbao/canbao/internal/platform/web"
)

// AuditContext is the audit context of the request's caller.
func AuditContext(c *gin.Context) audit.Context {
	p, ok := FromContext(c)
	if !ok {
		return audit.FromGin(c, "", 0, "")
	}
	return audit.FromGin(c, string(p.Kind), p.ID, string(p.Role))
}

// Handlers serve login, refresh and logout.
type Handlers struct {
	svc        *Service
	limiter    *ratelimit.Limiter
	loginPerIP int
	// ResidentView renders a resident after a refresh, as the WeChat login does; set by the
	// server, which knows the resident areas.
	ResidentView func(ctx context.Context, id int64) (any, error)
}

// NewHandlers wires the auth endpoints.
func NewHandlers(svc *Service, limiter *ratelimit.Limiter, loginPerIP int) *Handlers {
	return &Handlers{svc: svc, limiter: limiter, loginPerIP: loginPerIP}
}

// Routes registers the auth endpoints.
func (h *Handlers) Routes(r *Router) {
	r.Handle(http.MethodPost, "/api/v1/auth/staff", Public(), h.limiter.PerIP("login-ip", ratelimit.PerMinute(h.loginPerIP)), web.H(h.staffLogin))
	r.Handle(http.MethodPost, "/api/v1/auth/refresh", Public(), h.limiter.PerIP("refresh-ip", ratelimit.PerMinute(60)), web.H(h.refresh))
	r.Handle(http.MethodPost, "/api/v1/auth/logout", Authenticated(), web.H(h.logout))
}

type staffLoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// UserView is a staff user as the console sees it after login.
type UserView struct {
	ID          int64   `json:"id"`
	Username    string  `json:"username"`
	Role        Role    `json:"role"`
	VillageCode *string `json:"village_code"`
}

type sessionView struct {
	Token        string    `json:"token"`
	ExpiresIn    int       `json:"expires_in"`
	RefreshToken string    `json:"refresh_token"`
	User         *UserView `json:"user,omitempty"`
	Resident     any       `json:"resident,omitempty"`
}

func (h *Handlers) staffLogin(c *gin.Context) error {
	var req staffLoginRequest
	if err := web.Decode(c, &req); err != nil {
		return err
	}
	req.Username = strings.TrimSpace(strings.ToLower(req.Username))
	if req.Username == "" || len(req.Username) > 64 {
		return errs.Field(errs.InvalidInput, "username", "请输入用户名")
	}
	if req.Password == "" || len(req.Password) > 256 {
		return errs.Field(errs.InvalidInput, "password", "请输入密码")
	}
	// No limit per username across all sources here: one would let anyone lock a predictable
	// account out. Failures are throttled per (username, source) by the service (loginGuard).
	ctx := c.Request.Context()
	sess, err := h.svc.Login(ctx, AuditContext(c), req.Username, req.Password)
	if err != nil {
		return err
	}
	u, err := GetStaffUser(ctx, h.svc.db, sess.Principal.ID)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, sessionView{Token: sess.Token, ExpiresIn: int(sess.ExpiresIn.Seconds()), RefreshToken: sess.RefreshToken, User: viewOf(u)})
	return nil
}

func viewOf(u StaffUser) *UserView {
	v := &UserView{ID: u.ID, Username: u.Username, Role: u.Role}
	if u.VillageCode.Valid {
		s := u.VillageCode.String
		v.VillageCode = &s
	}
	return v
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (h *Handlers) refresh(c *gin.Context) error {
	var req refreshRequest
	if err := web.Decode(c, &req); err != nil {
		return err
	}
	sess, err := h.svc.Refresh(c.Request.Context(), AuditContext(c), req.RefreshToken)
	if err != nil {
		return err
	}
	out := sessionView{Token: sess.Token, ExpiresIn: int(sess.ExpiresIn.Seconds()), RefreshToken: sess.RefreshToken}
	if sess.Principal.Kind == KindStaff {
		u, err := GetStaffUser(c.Request.Context(), h.svc.db, sess.Principal.ID)
		if err != nil {
			return err
		}
		out.User = viewOf(u)
	} else {
		if h.ResidentView == nil {
			return errs.Internalf("auth: no ResidentView configured")
		}
		v, err := h.ResidentView(c.Request.Context(), sess.Principal.ID)
		if err != nil {
			return err
		}
		out.Resident = v
	}
	c.JSON(http.StatusOK, out)
	return nil
}

func (h *Handlers) logout(c *gin.Context) error {
	if err := h.svc.Logout(c.Request.Context(), AuditContext(c), MustPrincipal(c)); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
