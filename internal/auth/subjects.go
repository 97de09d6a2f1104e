package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
)

// SubjectState is what the database says about a token's subject right now.
type SubjectState struct {
	Version  int
	Role     Role
	Village  string
	Disabled bool
}

// ResidentVersionBumper revokes every token of a resident account (errs.ErrNotFound when there
// is none). internal/account owns resident_accounts and provides it (account.BumpTokenVersion);
// auth cannot import that package, which imports auth, so the server passes it in.
type ResidentVersionBumper func(ctx context.Context, ext sqlx.ExecerContext, accountID int64) error

// Subjects reads subjects' current token version, role and status: MySQL is the truth, Redis a
// short-lived cache invalidated on every change, so logout, password change, role change and
// disabling take effect on the next request.
type Subjects struct {
	db     *sqlx.DB
	rdb    redis.UniversalClient
	prefix string
	log    *slog.Logger
	ttl    time.Duration
	// bumpResident revokes a resident's tokens (see ResidentVersionBumper).
	bumpResident ResidentVersionBumper
}

// NewSubjects wires the store and cache; bumpResident revokes a resident's tokens.
func NewSubjects(db *sqlx.DB, rdb redis.UniversalClient, prefix string, log *slog.Logger, bumpResident ResidentVersionBumper) *Subjects {
	return &Subjects{db: db, rdb: rdb, prefix: prefix, log: log, ttl: 5 * time.Minute, bumpResident: bumpResident}
}

func (s *Subjects) key(k Kind, id int64) string {
	return s.prefix + "subj:" + string(k) + ":" + strconv.FormatInt(id, 10)
}

// Current returns the subject's state; errs.ErrNotFound when it does not exist.
func (s *Subjects) Current(ctx context.Context, k Kind, id int64) (SubjectState, error) {
	if v, err := s.rdb.Get(ctx, s.key(k, id)).Result(); err == nil {
		if st, ok := decodeState(v); ok {
			return st, nil
		}
	} else if !errors.Is(err, redis.Nil) {
		s.log.WarnContext(ctx, "subject cache unavailable, reading MySQL", "err", err)
	}
	st, err := s.load(ctx, k, id)
	if err != nil {
		return SubjectState{}, err
	}
	if err := s.rdb.Set(ctx, s.key(k, id), encodeState(st), s.ttl).Err(); err != nil {
		s.log.WarnContext(ctx, "subject cache write failed", "err", err)
	}
	return st, nil
}

func (s *Subjects) load(ctx context.Context, k Kind, id int64) (SubjectState, error) {
	var row struct {
		Version  int            `db:"token_version"`
		Role     string         `db:"role"`
		Village  sql.NullString `db:"village_code"`
		Disabled bool           `db:"disabled"`
	}
	var q string
	switch k {
	case KindStaff:
		q = Queries.Get("subject-staff")
	case KindResident:
		q = Queries.Get("subject-resident")
	default:
		return SubjectState{}, fmt.Errorf("auth: unknown kind %q", k)
	}
	if err := s.db.GetContext(ctx, &row, q, id); err != nil {
		return SubjectState{}, database.Map(err)
	}
	return SubjectState{Version: row.Version, Role: Role(row.Role), Village: row.Village.String, Disabled: row.Disabled}, nil
}

// Prime caches the state of a subject that was just created, so its first request does not
// read MySQL. It never overwrites a cached state; a Redis failure is only logged (the next
// request reads MySQL).
func (s *Subjects) Prime(ctx context.Context, k Kind, id int64, st SubjectState) {
	if err := s.rdb.SetNX(ctx, s.key(k, id), encodeState(st), s.ttl).Err(); err != nil {
		s.log.WarnContext(ctx, "subject cache write failed", "err", err)
	}
}

// Invalidate drops the cached state after the database changed. A Redis failure here is
// returned: a stale cache would keep a disabled account working for minutes.
func (s *Subjects) Invalidate(ctx context.Context, k Kind, id int64) error {
	if err := s.rdb.Del(ctx, s.key(k, id)).Err(); err != nil {
		return fmt.Errorf("auth: invalidate subject cache: %w", err)
	}
	return nil
}

// BumpVersion revokes every token of the subject (logout everywhere, password or role change).
func (s *Subjects) BumpVersion(ctx context.Context, ext sqlx.ExecerContext, k Kind, id int64) error {
	if k == KindResident {
		if s.bumpResident == nil {
			return errs.Internalf("auth: no resident version bumper wired")
		}
		return s.bumpResident(ctx, ext, id)
	}
	res, err := ext.ExecContext(ctx, Queries.Get("staff-bump-version"), id)
	if err != nil {
		return database.Map(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.ErrNotFound
	}
	return nil
}

func encodeState(st SubjectState) string {
	d := "0"
	if st.Disabled {
		d = "1"
	}
	return strings.Join([]string{strconv.Itoa(st.Version), string(st.Role), st.Village, d}, "|")
}

func decodeState(v string) (SubjectState, bool) {
	parts := strings.Split(v, "|")
	if len(parts) != 4 {
		return SubjectState{}, false
	}
	ver, err := strconv.Atoi(parts[0])
	if err != nil {
		return SubjectState{}, false
	}
	return SubjectState{Version: ver, Role: Role(parts[1]), Village: parts[2], Disabled: parts[3] == "1"}, true
}
