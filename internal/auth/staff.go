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
var Queries = database.MustLoadQueries(queryFS, "queries.sql")

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

// CreateStaffUser validates and inserts a staff user. Village-bound roles need a village that
// exists; the town-wide roles must not have one.
func CreateStaffUser(ctx context.Context, db sqlx.ExtContext, u NewStaffUser) (int64, error) {
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
		var n int
		if err := sqlx.GetContext(ctx, db, &n, "SELECT COUNT(*) FROM villages WHERE code = ?", u.VillageCode); err != nil {
			return 0, database.Map(err)
		}
		if n == 0 {
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
	rdb        *redis.Client
	prefix     string
	tokens     *Tokens
	subjects   *Subjects
	audit      *audit.Log
	limits     LoginLimits
	refreshTTL time.Duration
	log        *slog.Logger
}

// NewService wires the login service.
func NewService(db *sqlx.DB, rdb *redis.Client, prefix string, t *Tokens, s *Subjects, a *audit.Log, l LoginLimits, refreshTTL time.Duration, log *slog.Logger) *Service {
	return &Service{db: db, rdb: rdb, prefix: prefix, tokens: t, subjects: s, audit: a, limits: l, refreshTTL: refreshTTL, log: log}
}

var errBadCredentials = errs.New(errs.InvalidCredentials, "用户名或密码错误")

func lockedError(retry time.Duration) error {
	e := errs.New(errs.AccountLocked, "登录失败次数过多，账号已暂时锁定，请稍后再试")
	e.RetryAfter = retry
	return e
}

// unknownFailKey counts failures for usernames that do not exist, so that they lock exactly
// like real accounts and an attacker cannot tell the two apart.
func (s *Service) unknownFailKey(username string) string {
	sum := sha256.Sum256([]byte(username))
	return s.prefix + "loginfail:" + base64.RawURLEncoding.EncodeToString(sum[:12])
}

// Login checks a staff user's password. Unknown users and wrong passwords get the same answer
// in about the same time; repeated failures lock the account.
func (s *Service) Login(ctx context.Context, actx audit.Context, username, password string) (*Session, error) {
	var u StaffUser
	err := s.db.GetContext(ctx, &u, Queries.Get("staff-by-username"), username)
	if errors.Is(err, sql.ErrNoRows) {
		_, _ = VerifyPassword(dummyHash, password)
		return nil, s.failUnknown(ctx, actx, username)
	}
	if err != nil {
		return nil, database.Map(err)
	}
	now := database.Now()
	if u.LockedUntil.Valid && u.LockedUntil.Time.After(now) {
		_, _ = VerifyPassword(dummyHash, password)
		if err := s.audit.Record(ctx, actx.Event("auth.login", "staff_user", u.ID, audit.Denied, "locked")); err != nil {
			return nil, err
		}
		return nil, lockedError(u.LockedUntil.Time.Sub(now))
	}
	ok, err := VerifyPassword(u.PasswordHash, password)
	if err != nil {
		return nil, errs.Internalf("verify password of user %d: %w", u.ID, err)
	}
	if !ok || u.Disabled {
		lockAt := now.Add(s.limits.Lockout)
		if _, err := s.db.ExecContext(ctx, Queries.Get("staff-login-failed"), s.limits.MaxFailures, lockAt, now, u.ID); err != nil {
			return nil, database.Map(err)
		}
		detail := "bad password"
		if u.Disabled {
			detail = "disabled"
		}
		locked := u.FailedLogins+1 >= s.limits.MaxFailures
		action := "auth.login"
		if locked {
			action = "auth.lockout"
		}
		if err := s.audit.Record(ctx, actx.Event(action, "staff_user", u.ID, audit.Failure, detail)); err != nil {
			return nil, err
		}
		if locked {
			return nil, lockedError(s.limits.Lockout)
		}
		return nil, errBadCredentials
	}
	if _, err := s.db.ExecContext(ctx, Queries.Get("staff-login-ok"), now, u.ID); err != nil {
		return nil, database.Map(err)
	}
	p := Principal{Kind: KindStaff, ID: u.ID, Role: u.Role, Village: u.VillageCode.String, Version: u.TokenVersion}
	sess, err := s.issue(ctx, s.db, p)
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

func (s *Service) failUnknown(ctx context.Context, actx audit.Context, username string) error {
	key := s.unknownFailKey(username)
	n, err := s.rdb.Incr(ctx, key).Result()
	if err != nil {
		return errs.Wrap(errs.Unavailable, err, "服务暂时不可用，请稍后再试")
	}
	if n == 1 {
		s.rdb.Expire(ctx, key, s.limits.Lockout)
	}
	if err := s.audit.Record(ctx, actx.Event("auth.login", "staff_user", 0, audit.Failure, "unknown user")); err != nil {
		return err
	}
	if n >= int64(s.limits.MaxFailures) {
		return lockedError(s.limits.Lockout)
	}
	return errBadCredentials
}

// issue signs an access token and stores a new refresh token.
func (s *Service) issue(ctx context.Context, ext sqlx.ExecerContext, p Principal) (*Session, error) {
	tok, ttl, err := s.tokens.Issue(p)
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	refresh := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(refresh))
	now := database.Now()
	if _, err := ext.ExecContext(ctx, Queries.Get("refresh-insert"), sum[:], p.Kind, p.ID, p.Version, now.Add(s.refreshTTL), now); err != nil {
		return nil, database.Map(err)
	}
	return &Session{Token: tok, ExpiresIn: ttl, RefreshToken: refresh, Principal: p}, nil
}

// IssueFor starts a session for a subject authenticated elsewhere (WeChat login), audited.
func (s *Service) IssueFor(ctx context.Context, actx audit.Context, action string, p Principal) (*Session, error) {
	var sess *Session
	err := database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		if sess, err = s.issue(ctx, tx, p); err != nil {
			return err
		}
		ev := actx.Event(action, string(p.Kind), p.ID, audit.Success, "")
		ev.ActorKind, ev.ActorID, ev.Role = string(p.Kind), p.ID, string(p.Role)
		return s.audit.RecordTx(ctx, tx, ev)
	})
	return sess, err
}

var errRefreshInvalid = errs.New(errs.TokenInvalid, "登录已失效，请重新登录")

// Refresh exchanges a refresh token for a new session; the old refresh token is spent. A token
// of a disabled subject, or issued before a logout or password change, is refused.
func (s *Service) Refresh(ctx context.Context, actx audit.Context, refresh string) (*Session, error) {
	if len(refresh) < 20 || len(refresh) > 100 {
		return nil, errRefreshInvalid
	}
	sum := sha256.Sum256([]byte(refresh))
	var sess *Session
	err := database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var row struct {
			ID        int64        `db:"id"`
			Kind      Kind         `db:"subject_kind"`
			SubjectID int64        `db:"subject_id"`
			Version   int          `db:"token_version"`
			ExpiresAt time.Time    `db:"expires_at"`
			RevokedAt sql.NullTime `db:"revoked_at"`
		}
		if err := tx.GetContext(ctx, &row, Queries.Get("refresh-take"), sum[:]); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return errRefreshInvalid
			}
			return database.Map(err)
		}
		now := database.Now()
		if row.RevokedAt.Valid || now.After(row.ExpiresAt) {
			return errRefreshInvalid
		}
		if _, err := tx.ExecContext(ctx, Queries.Get("refresh-revoke"), now, row.ID); err != nil {
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
		if sess, err = s.issue(ctx, tx, p); err != nil {
			return err
		}
		ev := actx.Event("auth.refresh", string(row.Kind), row.SubjectID, audit.Success, "")
		ev.ActorKind, ev.ActorID, ev.Role = string(row.Kind), row.SubjectID, string(st.Role)
		return s.audit.RecordTx(ctx, tx, ev)
	})
	return sess, err
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
