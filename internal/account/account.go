// Package account serves the mini-program's own account endpoints: WeChat login (the account
// is created at the first login) and the ledger of one-time subscribe-message consents.
package account

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/ratelimit"
	"github.com/canbao/canbao/internal/platform/web"
	"github.com/canbao/canbao/internal/wechat"
)

//go:embed queries.sql
var queryFS embed.FS

// Queries are the package's named SQL, checked against the server at start-up.
var Queries = database.RegisterQueries("account", queryFS, "queries.sql")

// SessionExchanger turns a wx.login code into a WeChat session (the wechat client).
type SessionExchanger interface {
	Code2Session(ctx context.Context, code string) (wechat.Session, error)
}

// OpenRegistrations tells whether an account already registered this year.
type OpenRegistrations interface {
	HasOpenRegistration(ctx context.Context, accountID int64) (bool, error)
}

// Service logs residents in and records their consents.
type Service struct {
	db        *sqlx.DB
	kr        *pii.Keyring
	wx        SessionExchanger
	auth      *auth.Service
	regs      OpenRegistrations
	limiter   *ratelimit.Limiter
	audit     *audit.Log
	templates []string
	loginRate int
}

// Deps wires the service.
type Deps struct {
	DB           *sqlx.DB
	Keyring      *pii.Keyring
	WeChat       SessionExchanger
	Auth         *auth.Service
	Registry     OpenRegistrations
	Limiter      *ratelimit.Limiter
	Audit        *audit.Log
	TemplateIDs  []string
	LoginPerIPPM int
}

// NewService builds the service.
func NewService(d Deps) *Service {
	return &Service{db: d.DB, kr: d.Keyring, wx: d.WeChat, auth: d.Auth, regs: d.Registry, limiter: d.Limiter,
		audit: d.Audit, templates: d.TemplateIDs, loginRate: d.LoginPerIPPM}
}

// Routes registers POST /api/v1/auth/wechat and POST /api/v1/subscriptions.
func (s *Service) Routes(r *auth.Router) {
	r.Handle(http.MethodPost, "/api/v1/auth/wechat", auth.Public(),
		s.limiter.PerIP("wechat-login-ip", ratelimit.PerMinute(s.loginRate)), web.H(s.login))
	r.Handle(http.MethodPost, "/api/v1/subscriptions", auth.Allow(auth.RoleResident), r.Idempotent(), web.H(s.subscribe))
}

// View renders a resident account as the login and refresh answers show it.
func (s *Service) View(ctx context.Context, id int64) (any, error) {
	registered, err := s.regs.HasOpenRegistration(ctx, id)
	if err != nil {
		return nil, err
	}
	return residentView{ID: id, Registered: registered}, nil
}

type loginRequest struct {
	Code string `json:"code"`
}

type residentView struct {
	ID         int64 `json:"id"`
	Registered bool  `json:"registered"`
}

type loginView struct {
	Token        string       `json:"token"`
	ExpiresIn    int          `json:"expires_in"`
	RefreshToken string       `json:"refresh_token"`
	Resident     residentView `json:"resident"`
}

var codePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

func (s *Service) login(c *gin.Context) error {
	var req loginRequest
	if err := web.Decode(c, &req); err != nil {
		return err
	}
	if !codePattern.MatchString(req.Code) {
		return errs.Field(errs.InvalidInput, "code", "登录凭证格式不正确")
	}
	ctx := c.Request.Context()
	sess, err := s.wx.Code2Session(ctx, req.Code)
	if err != nil {
		return loginError(err)
	}
	id, version, created, err := s.upsertAccount(ctx, sess)
	if err != nil {
		return err
	}
	p := auth.Principal{Kind: auth.KindResident, ID: id, Role: auth.RoleResident, Version: version}
	if created {
		s.auth.SubjectCreated(ctx, p)
	}
	out, err := s.auth.IssueFor(ctx, auth.AuditContext(c), "auth.wechat_login", p)
	if err != nil {
		return err
	}
	registered, err := s.regs.HasOpenRegistration(ctx, id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, loginView{Token: out.Token, ExpiresIn: int(out.ExpiresIn.Seconds()), RefreshToken: out.RefreshToken,
		Resident: residentView{ID: id, Registered: registered}})
	return nil
}

// loginError maps WeChat's answer: a bad code is the user's (401), a busy WeChat is ours (503).
func loginError(err error) error {
	if wechat.IsPermanent(err) {
		return errs.New(errs.WeChatCodeInvalid, "微信登录已失效，请重新进入小程序")
	}
	e := errs.Wrap(errs.Unavailable, err, "微信服务繁忙，请稍后再试")
	e.RetryAfter = 3 * time.Second
	return e
}

// upsertAccount creates the account at the first login and keeps the latest session_key,
// encrypted, for server-side use only; created says whether this login created it.
func (s *Service) upsertAccount(ctx context.Context, sess wechat.Session) (id int64, version int, created bool, err error) {
	enc, keyID, err := s.kr.Encrypt(sess.SessionKey, pii.AADSessionKey)
	if err != nil {
		return 0, 0, false, err
	}
	now := database.Now()
	var unionID any
	if sess.UnionID != "" {
		unionID = sess.UnionID
	}
	var acct struct {
		ID       int64 `db:"id"`
		Version  int   `db:"token_version"`
		Disabled bool  `db:"disabled"`
	}
	err = database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		created = false
		err := tx.GetContext(ctx, &acct, Queries.Get("account-by-openid"), sess.OpenID)
		if errors.Is(err, sql.ErrNoRows) {
			res, err := tx.ExecContext(ctx, Queries.Get("account-insert"), sess.OpenID, unionID, enc, keyID, now, now)
			if err != nil {
				return database.Map(err)
			}
			acct.ID, _ = res.LastInsertId()
			acct.Version, created = 1, true
			return nil
		}
		if err != nil {
			return database.Map(err)
		}
		_, err = tx.ExecContext(ctx, Queries.Get("account-login"), enc, keyID, unionID, now, acct.ID)
		return database.Map(err)
	})
	if err != nil {
		return 0, 0, false, err
	}
	if acct.Disabled {
		return 0, 0, false, errs.New(errs.Forbidden, "该账号已被停用，请联系所在村（居）委会")
	}
	return acct.ID, acct.Version, created, nil
}

type subscribeRequest struct {
	TemplateID string `json:"template_id"`
	Count      int    `json:"count"`
}

type subscriptionView struct {
	TemplateID string `json:"template_id"`
	Remaining  int    `json:"remaining"`
}

// maxRemaining caps the ledger per template: WeChat's one-time consents do not pile up forever.
const maxRemaining = 50

func (s *Service) subscribe(c *gin.Context) error {
	var req subscribeRequest
	if err := web.Decode(c, &req); err != nil {
		return err
	}
	if !slices.Contains(s.templates, req.TemplateID) {
		return errs.Field(errs.InvalidInput, "template_id", "未知的订阅消息模板")
	}
	if req.Count < 1 || req.Count > 10 {
		return errs.Field(errs.InvalidInput, "count", "授权次数须为 1 到 10")
	}
	ctx := c.Request.Context()
	p := auth.MustPrincipal(c)
	var remaining int
	err := database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		now := database.Now()
		err := tx.GetContext(ctx, &remaining, Queries.Get("consent-lock"),
			p.ID, req.TemplateID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			remaining = min(req.Count, maxRemaining)
			_, err = tx.ExecContext(ctx, Queries.Get("consent-insert"), p.ID, req.TemplateID, remaining, req.Count, now)
		case err == nil:
			remaining = min(remaining+req.Count, maxRemaining)
			_, err = tx.ExecContext(ctx, Queries.Get("consent-add"), remaining, req.Count, now, p.ID, req.TemplateID)
		}
		if err != nil {
			return database.Map(err)
		}
		return s.audit.RecordTx(ctx, tx, auth.AuditContext(c).Event("subscription.grant", "resident_account", p.ID, audit.Success, "template="+req.TemplateID))
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, subscriptionView{TemplateID: req.TemplateID, Remaining: remaining})
	return nil
}
