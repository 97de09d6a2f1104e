package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
)

//go:embed queries.sql
var queryFS embed.FS

// Queries are the package's named SQL, checked against the server at start-up.
var Queries = database.RegisterQueries("auth", queryFS, "queries.sql")

// StaffUser is a row of staff_users.
type StaffUser struct {
	ID           int64          `db:"id"`
	Username     string         `db:"username"`
	DisplayName  string         `db:"display_name"`
	PasswordHash string         `db:"password_hash"`
	Role         Role           `db:"role"`
	VillageCode  sql.NullString `db:"village_code"`
	Disabled     bool           `db:"disabled"`
	TokenVersion int            `db:"token_version"`
	FailedLogins int            `db:"failed_logins"`
	LockedUntil  sql.NullTime   `db:"locked_until"`
	CreatedAt    time.Time      `db:"created_at"`
}

// NewStaffUser is what creating a staff user takes.
type NewStaffUser struct {
	Username    string
	DisplayName string
	Password    string
	Role        Role
	VillageCode string
}

var usernamePattern = regexp.MustCompile(`^[a-z][a-z0-9._-]{2,31}$`)

// Villages tells whether a village code is known. village.Store implements it; auth does not
// import village (village registers its routes on auth's Router).
type Villages interface {
	Exists(ctx context.Context, code string) (bool, error)
}

// CreateStaffUser validates and inserts a staff user. Village-bound roles need a village that
// exists in villages; the town-wide roles must not have one.
func CreateStaffUser(ctx context.Context, db sqlx.ExtContext, villages Villages, u NewStaffUser) (int64, error) {
	if !usernamePattern.MatchString(u.Username) {
		return 0, errs.Field(errs.InvalidInput, "username", "用户名须为 3-32 位小写字母、数字或 . _ -，以字母开头")
	}
	if !u.Role.IsStaff() {
		return 0, errs.Field(errs.RoleInvalid, "role", "角色须为 volunteer、village_admin、staff 或 admin")
	}
	var village any
	if u.Role.VillageBound() {
		if u.VillageCode == "" {
			return 0, errs.Field(errs.InvalidInput, "village_code", "村协管员和村居经办须指定所属村（居）")
		}
		known, err := villages.Exists(ctx, u.VillageCode)
		if err != nil {
			return 0, err
		}
		if !known {
			return 0, errs.Field(errs.VillageUnknown, "village_code", "所属村（居）不存在")
		}
		village = u.VillageCode
	} else if u.VillageCode != "" {
		return 0, errs.Field(errs.InvalidInput, "village_code", "镇级角色不绑定村（居）")
	}
	if err := CheckPasswordPolicy(u.Username, u.Password); err != nil {
		return 0, err
	}
	hash, err := HashPassword(u.Password)
	if err != nil {
		return 0, err
	}
	now := database.Now()
	res, err := db.ExecContext(ctx, Queries.Get("staff-insert"), u.Username, u.DisplayName, hash, u.Role, village, now, now, now)
	if database.IsDuplicate(err) {
		return 0, errs.Field(errs.UsernameTaken, "username", "用户名已存在")
	}
	if err != nil {
		return 0, database.Map(err)
	}
	return res.LastInsertId()
}

// Session is what a successful login or refresh answers.
type Session struct {
	Token        string
	ExpiresIn    time.Duration
	RefreshToken string
	Principal    Principal
}

// LoginLimits configures lockout.
type LoginLimits struct {
	MaxFailures int
	Lockout     time.Duration
}

// Service logs staff in and out and rotates refresh tokens.
type Service struct {
	db         *sqlx.DB
	tokens     *Tokens
	subjects   *Subjects
	audit      *audit.Log
	refreshTTL time.Duration
	log        *slog.Logger
	guard      *loginGuard
	// now is the service's clock; tests replace it to step through lockouts without sleeping.
	now func() time.Time
}

// NewService wires the login service.
func NewService(db *sqlx.DB, rdb redis.UniversalClient, prefix string, t *Tokens, s *Subjects, a *audit.Log, l LoginLimits, refreshTTL time.Duration, log *slog.Logger) *Service {
	return &Service{db: db, tokens: t, subjects: s, audit: a, refreshTTL: refreshTTL, log: log, now: database.Now,
		guard: newLoginGuard(rdb, prefix, l)}
}

var errBadCredentials = errs.New(errs.InvalidCredentials, "用户名或密码错误")

func lockedError(retry time.Duration) error {
	e := errs.New(errs.AccountLocked, "登录失败次数过多，账号已暂时锁定，请稍后再试")
	e.RetryAfter = retry
	return e
}

// Login checks a staff user's password. Unknown users, wrong passwords and disabled accounts
// get the same answer in about the same time (an argon2 verify either way), and lockout is
// per (username, source IP) with growing locks, identical for real and unknown names: see
// loginGuard.
func (s *Service) Login(ctx context.Context, actx audit.Context, username, password string) (*Session, error) {
	var u StaffUser
	err := s.db.GetContext(ctx, &u, Queries.Get("staff-by-username"), username)
	known := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, database.Map(err)
	}
	now := s.now()
	left, err := s.guard.locked(ctx, username, actx.IP, now)
	if err != nil {
		return nil, err
	}
	if left > 0 {
		_, _ = VerifyPassword(dummyHash, password)
		if err := s.audit.Record(ctx, actx.Event("auth.login", "staff_user", u.ID, audit.Denied, "locked")); err != nil {
			return nil, err
		}
		return nil, lockedError(left)
	}
	hash := dummyHash
	if known {
		hash = u.PasswordHash
	}
	ok, err := VerifyPassword(hash, password)
	if err != nil {
		return nil, errs.Internalf("verify password of user %d: %w", u.ID, err)
	}
	if !known || !ok || u.Disabled {
		lock, err := s.guard.fail(ctx, username, actx.IP, now)
		if err != nil {
			return nil, err
		}
		detail := "bad password"
		switch {
		case !known:
			detail = "unknown user"
		case u.Disabled:
			detail = "disabled"
		}
		action := "auth.login"
		if lock > 0 {
			action = "auth.lockout"
		}
		if err := s.audit.Record(ctx, actx.Event(action, "staff_user", u.ID, audit.Failure, detail)); err != nil {
			return nil, err
		}
		if lock > 0 {
			return nil, lockedError(lock)
		}
		return nil, errBadCredentials
	}
	if err := s.guard.succeed(ctx, username, actx.IP); err != nil {
		return nil, err
	}
	p := Principal{Kind: KindStaff, ID: u.ID, Role: u.Role, Village: u.VillageCode.String, Version: u.TokenVersion}
	sess, err := s.issue(ctx, s.db, p, nil)
	if err != nil {
		return nil, err
	}
	ev := actx.Event("auth.login", "staff_user", u.ID, audit.Success, "")
	ev.ActorKind, ev.ActorID, ev.Role = string(KindStaff), u.ID, string(u.Role)
	if err := s.audit.Record(ctx, ev); err != nil {
		return nil, err
	}
	return sess, nil
}

// issue signs an access token and stores a new refresh token in the given family; a nil
// family starts a new one (a login).
func (s *Service) issue(ctx context.Context, ext sqlx.ExecerContext, p Principal, family []byte) (*Session, error) {
	tok, ttl, err := s.tokens.Issue(p)
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	if family == nil {
		family = make([]byte, 16)
		if _, err := rand.Read(family); err != nil {
			return nil, err
		}
	}
	refresh := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(refresh))
	now := database.Now()
	if _, err := ext.ExecContext(ctx, Queries.Get("refresh-insert"), sum[:], family, p.Kind, p.ID, p.Version, now.Add(s.refreshTTL), now); err != nil {
		return nil, database.Map(err)
	}
	return &Session{Token: tok, ExpiresIn: ttl, RefreshToken: refresh, Principal: p}, nil
}

// IssueFor starts a session for a subject authenticated elsewhere (WeChat login), audited.
func (s *Service) IssueFor(ctx context.Context, actx audit.Context, action string, p Principal) (*Session, error) {
	var sess *Session
	err := database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		if sess, err = s.issue(ctx, tx, p, nil); err != nil {
			return err
		}
		ev := actx.Event(action, string(p.Kind), p.ID, audit.Success, "")
		ev.ActorKind, ev.ActorID, ev.Role = string(p.Kind), p.ID, string(p.Role)
		return s.audit.RecordTx(ctx, tx, ev)
	})
	return sess, err
}

// SubjectCreated caches the state of a subject created just now with principal p's version
// and role (enabled), so that its first request does not read MySQL.
func (s *Service) SubjectCreated(ctx context.Context, p Principal) {
	s.subjects.Prime(ctx, p.Kind, p.ID, SubjectState{Version: p.Version, Role: p.Role, Village: p.Village})
}

var errRefreshInvalid = errs.New(errs.TokenInvalid, "登录已失效，请重新登录")

// Refresh exchanges a refresh token for a new session; the old refresh token is spent. A token
// of a disabled subject, or issued before a logout or password change, is refused.
//
// Each login starts a token family; a rotation adds the successor to the family and marks the
// spent token rotated. Presenting a rotated token again means it was copied: the whole family
// is revoked at once (so the successor, whoever holds it, stops working too), the replay is
// audited as auth.refresh_reuse, and the answer is 401 TOKEN_INVALID. Detection is strict, with
// no grace period: two clients refreshing with the same token at the same moment (two tabs of
// the console sharing storage) end that session and must log in again; clients should
// serialise their refreshes. Other families of the same user (other logins) are untouched.
func (s *Service) Refresh(ctx context.Context, actx audit.Context, refresh string) (*Session, error) {
	if len(refresh) < 20 || len(refresh) > 100 {
		return nil, errRefreshInvalid
	}
	sum := sha256.Sum256([]byte(refresh))
	var sess *Session
	var reused bool
	err := database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		reused = false
		var row struct {
			ID        int64        `db:"id"`
			Family    []byte       `db:"family_id"`
			Kind      Kind         `db:"subject_kind"`
			SubjectID int64        `db:"subject_id"`
			Version   int          `db:"token_version"`
			ExpiresAt time.Time    `db:"expires_at"`
			RevokedAt sql.NullTime `db:"revoked_at"`
			RotatedAt sql.NullTime `db:"rotated_at"`
		}
		if err := tx.GetContext(ctx, &row, Queries.Get("refresh-take"), sum[:]); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return errRefreshInvalid
			}
			return database.Map(err)
		}
		now := database.Now()
		if row.RotatedAt.Valid {
			reused = true
			res, err := tx.ExecContext(ctx, Queries.Get("refresh-revoke-family"), now, row.Family)
			if err != nil {
				return database.Map(err)
			}
			n, _ := res.RowsAffected()
			return s.audit.RecordTx(ctx, tx, actx.Event("auth.refresh_reuse", string(row.Kind), row.SubjectID, audit.Denied,
				"family revoked, live tokens="+strconv.FormatInt(n, 10)))
		}
		if row.RevokedAt.Valid || now.After(row.ExpiresAt) {
			return errRefreshInvalid
		}
		if _, err := tx.ExecContext(ctx, Queries.Get("refresh-rotate"), now, now, row.ID); err != nil {
			return database.Map(err)
		}
		st, err := s.subjects.load(ctx, row.Kind, row.SubjectID)
		if err != nil {
			if errors.Is(err, errs.ErrNotFound) {
				return errRefreshInvalid
			}
			return err
		}
		if st.Disabled || st.Version != row.Version {
			return errRefreshInvalid
		}
		p := Principal{Kind: row.Kind, ID: row.SubjectID, Role: st.Role, Village: st.Village, Version: st.Version}
		if sess, err = s.issue(ctx, tx, p, row.Family); err != nil {
			return err
		}
		ev := actx.Event("auth.refresh", string(row.Kind), row.SubjectID, audit.Success, "")
		ev.ActorKind, ev.ActorID, ev.Role = string(row.Kind), row.SubjectID, string(st.Role)
		return s.audit.RecordTx(ctx, tx, ev)
	})
	if err != nil {
		return nil, err
	}
	if reused {
		s.log.WarnContext(ctx, "refresh token replayed; token family revoked", "request_id", actx.RequestID)
		return nil, errRefreshInvalid
	}
	return sess, nil
}

// Logout revokes every token of the caller at once.
func (s *Service) Logout(ctx context.Context, actx audit.Context, p *Principal) error {
	err := database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		if err := s.subjects.BumpVersion(ctx, tx, p.Kind, p.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, Queries.Get("refresh-revoke-subject"), database.Now(), p.Kind, p.ID); err != nil {
			return database.Map(err)
		}
		return s.audit.RecordTx(ctx, tx, actx.Event("auth.logout", string(p.Kind), p.ID, audit.Success, ""))
	})
	if err != nil {
		return err
	}
	return s.subjects.Invalidate(ctx, p.Kind, p.ID)
}

// GetStaffUser reads one staff user.
func GetStaffUser(ctx context.Context, db sqlx.QueryerContext, id int64) (StaffUser, error) {
	var u StaffUser
	if err := sqlx.GetContext(ctx, db, &u, Queries.Get("staff-by-id"), id); err != nil {
		return u, database.Map(err)
	}
	return u, nil
}

// String makes StaffUser safe to log.
func (u StaffUser) String() string { return fmt.Sprintf("staff_user(%d,%s)", u.ID, u.Role) }
