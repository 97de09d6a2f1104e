package auth

import (
	"context"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

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
	residents  ResidentViewer
	// SecureCookies marks the console's refresh cookie Secure (production: served over HTTPS).
	SecureCookies bool
}

// RefreshCookie is the name of the console's refresh-token cookie. It is HttpOnly,
// SameSite=Strict and scoped to RefreshPath, so page scripts never see it and the browser
// sends it only to the refresh endpoint, and only from our own pages.
const (
	RefreshCookie = "canbao_refresh"
	RefreshPath   = "/api/v1/auth/refresh"
)

// Session modes a staff login can ask for: "token" (the default: the refresh token is in the
// JSON answer, for the mini-program and scripts) or "cookie" (the console: the refresh token is
// set as an HttpOnly cookie and left out of the answer).
const (
	sessionToken  = "token"
	sessionCookie = "cookie"
)

// ResidentViewer renders a resident account in a refresh answer as the WeChat login shows it.
// The package that owns resident accounts implements it; auth does not import it.
type ResidentViewer interface {
	View(ctx context.Context, id int64) (any, error)
}

// NewHandlers wires the auth endpoints; residents renders a resident after a refresh.
func NewHandlers(svc *Service, limiter *ratelimit.Limiter, loginPerIP int, residents ResidentViewer) *Handlers {
	return &Handlers{svc: svc, limiter: limiter, loginPerIP: loginPerIP, residents: residents}
}

// Routes registers the auth endpoints.
func (h *Handlers) Routes(r *Router) {
	r.Handle(http.MethodPost, "/api/v1/auth/staff", Public(), h.limiter.PerIP("login-ip", ratelimit.PerMinute(h.loginPerIP)), web.H(h.staffLogin))
	r.Handle(http.MethodPost, RefreshPath, Public(), h.limiter.PerIP("refresh-ip", ratelimit.PerMinute(60)), web.H(h.refresh))
	r.Handle(http.MethodPost, "/api/v1/auth/logout", Authenticated(), web.H(h.logout))
}

type staffLoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Session  string `json:"session"`
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
	RefreshToken string    `json:"refresh_token,omitempty"`
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
	switch req.Session {
	case "", sessionToken, sessionCookie:
	default:
		return errs.Field(errs.InvalidInput, "session", "session 只能是 token 或 cookie")
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
	out := sessionView{Token: sess.Token, ExpiresIn: int(sess.ExpiresIn.Seconds()), RefreshToken: sess.RefreshToken, User: viewOf(u)}
	if req.Session == sessionCookie {
		h.setRefreshCookie(c, sess.RefreshToken, h.svc.refreshTTL)
		out.RefreshToken = ""
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// setRefreshCookie sets (maxAge > 0) or clears (maxAge < 0) the console's refresh cookie.
func (h *Handlers) setRefreshCookie(c *gin.Context, value string, maxAge time.Duration) {
	secs := int(maxAge.Seconds())
	if maxAge < 0 {
		secs = -1
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: RefreshCookie, Value: value, Path: RefreshPath, MaxAge: secs,
		HttpOnly: true, Secure: h.SecureCookies, SameSite: http.SameSiteStrictMode})
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

// refresh rotates a refresh token taken from the JSON body or, when the body has none, from the
// console's cookie. The cookie path is CSRF-safe by design: the cookie is SameSite=Strict, and a
// cookie refresh must be a JSON request (Content-Type: application/json, which a cross-site form
// cannot send without a CORS preflight that this server never grants) from our own origin when
// the browser says where it comes from.
func (h *Handlers) refresh(c *gin.Context) error {
	var req refreshRequest
	if err := web.Decode(c, &req); err != nil {
		return err
	}
	fromCookie := false
	if req.RefreshToken == "" {
		ck, err := c.Cookie(RefreshCookie)
		if err != nil || ck == "" {
			return errs.New(errs.TokenInvalid, "登录已失效，请重新登录")
		}
		if !isJSONRequest(c.Request) || !sameOrigin(c.Request) {
			return errs.New(errs.Forbidden, "请求来源不被允许")
		}
		req.RefreshToken, fromCookie = ck, true
	}
	sess, err := h.svc.Refresh(c.Request.Context(), AuditContext(c), req.RefreshToken)
	if err != nil {
		if fromCookie {
			h.setRefreshCookie(c, "", -1)
		}
		return err
	}
	out := sessionView{Token: sess.Token, ExpiresIn: int(sess.ExpiresIn.Seconds()), RefreshToken: sess.RefreshToken}
	if fromCookie {
		h.setRefreshCookie(c, sess.RefreshToken, h.svc.refreshTTL)
		out.RefreshToken = ""
	}
	if sess.Principal.Kind == KindStaff {
		u, err := GetStaffUser(c.Request.Context(), h.svc.db, sess.Principal.ID)
		if err != nil {
			return err
		}
		out.User = viewOf(u)
	} else {
		if h.residents == nil {
			return errs.Internalf("auth: no ResidentViewer configured")
		}
		v, err := h.residents.View(c.Request.Context(), sess.Principal.ID)
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
	// The cookie is scoped to the refresh path, so it is not sent here; clearing it by name and
	// path still works.
	h.setRefreshCookie(c, "", -1)
	c.Status(http.StatusNoContent)
	return nil
}

func isJSONRequest(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// sameOrigin is true when the request carries no Origin (older browsers on same-origin POSTs
// may omit it; SameSite=Strict still holds) or an Origin whose host is the request's host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}
