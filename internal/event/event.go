// Package event runs concentrated publicity events (集中宣传活动): staff plan an event in
// villages, an industrial park, an enterprise or a market; every event gets a short scene and
// a mini-program code (fetched once from WeChat and kept), a printable A4 poster, and residents
// who scan the code check in. Registrations and enrollments that follow a check-in within the
// attribution window count for the event (stats.go). The package owns the writes of events,
// event_villages, event_codes and event_checkins.
package event

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/person"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/wechat"
)

//go:embed queries.sql
var queryFS embed.FS

// Queries are the package's named SQL, checked against the server at start-up.
var Queries = database.RegisterQueries("event", queryFS, "queries.sql")

// Kinds of event.
const (
	KindVillage        = "village"
	KindIndustrialPark = "industrial_park"
	KindEnterprise     = "enterprise"
	KindMarket         = "market"
	KindOther          = "other"
)

// KindNames are the kinds in Chinese, for the poster and the bulletin.
var KindNames = map[string]string{
	KindVillage: "进村宣传", KindIndustrialPark: "进园区宣传", KindEnterprise: "进企业宣传", KindMarket: "进集市宣传", KindOther: "其他宣传",
}

// Statuses of an event, derived from the clock: planned before it starts, ongoing while it
// runs, ended after ends_at.
const (
	StatusPlanned = "planned"
	StatusOngoing = "ongoing"
	StatusEnded   = "ended"
)

// Limits of an event's fields.
const (
	MaxTitle    = 40 // characters; the poster prints the title on one or two lines
	MaxPlace    = 60
	MaxVillages = 50
	MaxDuration = 31 * 24 * time.Hour
	SceneLength = 16 // generated scenes: 16 of 62 characters, about 95 bits
)

// Villages checks village codes.
type Villages interface {
	Exists(ctx context.Context, code string) (bool, error)
}

// CodeFetcher fetches a mini-program code (wechat.Client).
type CodeFetcher interface {
	WXACodeUnlimited(ctx context.Context, q wechat.WXACode) (wechat.Image, error)
}

// Deps are what the service needs.
type Deps struct {
	DB              *sqlx.DB
	Villages        Villages
	WeChat          CodeFetcher
	Audit           *audit.Log
	Location        *time.Location
	AttributionDays int    // config events.attribution_days
	Page            string // config events.page
	EnvVersion      string // config events.env_version
}

// Service serves the events.
type Service struct {
	d Deps
	// Now is the clock (tests set a fake one).
	Now func() time.Time

	mu      sync.Mutex
	fetches map[int64]*codeFlight // in-process: one WeChat call per event at a time
	scenes  map[string]sceneEvent // events by scene, for check-ins (checkin.go)
}

// NewService wires the service.
func NewService(d Deps) *Service {
	if d.AttributionDays < 1 {
		panic("event: attribution window under one day")
	}
	return &Service{d: d, Now: time.Now, fetches: map[int64]*codeFlight{}, scenes: map[string]sceneEvent{}}
}

// Event is one event as the API shows it: what was asked for (Input), with its id, scene and
// status by the clock.
type Event struct {
	ID int64 `json:"id"`
	Input
	Scene     string    `json:"scene"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

type row struct {
	ID        int64          `db:"id"`
	Title     string         `db:"title"`
	Kind      string         `db:"kind"`
	Place     string         `db:"place"`
	StartsAt  time.Time      `db:"starts_at"`
	EndsAt    time.Time      `db:"ends_at"`
	Credit    sql.NullString `db:"employer_credit_code"`
	Scene     string         `db:"scene"`
	CreatedBy int64          `db:"created_by"`
	CreatedAt time.Time      `db:"created_at"`
}

func (s *Service) view(r row, villages []string) Event {
	e := Event{ID: r.ID, Input: Input{Title: r.Title, Kind: r.Kind, Place: r.Place, StartsAt: r.StartsAt.UTC(), EndsAt: r.EndsAt.UTC(),
		VillageCodes: villages}, Scene: r.Scene, Status: status(r.StartsAt, r.EndsAt, s.Now()), CreatedAt: r.CreatedAt.UTC()}
	if e.VillageCodes == nil {
		e.VillageCodes = []string{}
	}
	if r.Credit.Valid {
		c := r.Credit.String
		e.EmployerCreditCode = &c
	}
	return e
}

func status(start, end, now time.Time) string {
	switch {
	case now.Before(start):
		return StatusPlanned
	case now.Before(end):
		return StatusOngoing
	}
	return StatusEnded
}

// Input is a new event.
type Input struct {
	Title              string    `json:"title"`
	Kind               string    `json:"kind"`
	Place              string    `json:"place"`
	StartsAt           time.Time `json:"starts_at"`
	EndsAt             time.Time `json:"ends_at"`
	VillageCodes       []string  `json:"village_codes"`
	EmployerCreditCode *string   `json:"employer_credit_code"`
}

// text checks a free-text field: trimmed, 1 to max characters, no control characters.
func text(v *string, field, what string, max int) error {
	*v = strings.TrimSpace(*v)
	n := utf8.RuneCountInString(*v)
	if n == 0 {
		return errs.Field(errs.InvalidInput, field, "请填写"+what)
	}
	if n > max || !utf8.ValidString(*v) {
		return errs.Field(errs.InvalidInput, field, what+"不能超过 "+strconv.Itoa(max)+" 个字")
	}
	for _, r := range *v {
		if r < ' ' || r == 0x7f {
			return errs.Field(errs.InvalidInput, field, what+"不能包含换行或控制字符")
		}
	}
	if bad := unprintable(*v); bad != "" {
		return errs.Field(errs.InvalidInput, field, what+"中的“"+bad+"”不是常用字，海报无法印出，请换一种写法")
	}
	return nil
}

// Validate checks an event before it is created; it reads the villages, changes nothing.
func (s *Service) Validate(ctx context.Context, in *Input) error {
	if err := text(&in.Title, "title", "活动名称", MaxTitle); err != nil {
		return err
	}
	if _, ok := KindNames[in.Kind]; !ok {
		return errs.Field(errs.InvalidInput, "kind", "活动类型须为 village（进村）、industrial_park（进园区）、enterprise（进企业）、market（进集市）或 other（其他）")
	}
	if err := text(&in.Place, "place", "活动地点", MaxPlace); err != nil {
		return err
	}
	switch {
	case in.StartsAt.IsZero():
		return errs.Field(errs.InvalidInput, "starts_at", "请填写活动开始时间")
	case in.EndsAt.IsZero():
		return errs.Field(errs.InvalidInput, "ends_at", "请填写活动结束时间")
	case !in.EndsAt.After(in.StartsAt):
		return errs.Field(errs.InvalidInput, "ends_at", "活动结束时间须晚于开始时间")
	case in.EndsAt.Sub(in.StartsAt) > MaxDuration:
		return errs.Field(errs.InvalidInput, "ends_at", "一次集中宣传活动最长 31 天")
	case !in.EndsAt.After(s.Now()):
		return errs.Field(errs.RuleViolation, "ends_at", "活动结束时间已过，不能新建已结束的活动")
	}
	if in.Kind == KindVillage && len(in.VillageCodes) == 0 {
		return errs.Field(errs.InvalidInput, "village_codes", "进村宣传须选择至少一个村（居）")
	}
	if len(in.VillageCodes) > MaxVillages {
		return errs.Field(errs.InvalidInput, "village_codes", "一次活动最多选择 "+strconv.Itoa(MaxVillages)+" 个村（居）")
	}
	seen := map[string]bool{}
	for i, v := range in.VillageCodes {
		field := "village_codes[" + strconv.Itoa(i) + "]"
		if seen[v] {
			return errs.Field(errs.InvalidInput, field, "村（居）重复选择")
		}
		seen[v] = true
		ok, err := s.d.Villages.Exists(ctx, v)
		if err != nil {
			return err
		}
		if !ok {
			return errs.Field(errs.VillageUnknown, field, "所选村（居）不存在："+clip(v))
		}
	}
	// The same GB 32100-2015 check (both check characters) as the roster's, registrations' and
	// visits' employer codes: 400 CREDIT_CODE_INVALID naming the rule broken.
	_, code, err := person.Employer(nil, in.EmployerCreditCode, "", "employer_credit_code")
	if err != nil {
		return err
	}
	in.EmployerCreditCode = nil
	if code.Valid {
		in.EmployerCreditCode = &code.String
	}
	if in.Kind == KindEnterprise && in.EmployerCreditCode == nil {
		return errs.Field(errs.InvalidInput, "employer_credit_code", "进企业宣传须填写企业的统一社会信用代码")
	}
	return nil
}

func clip(s string) string {
	if utf8.RuneCountInString(s) > 32 {
		return string([]rune(s)[:32]) + "…"
	}
	return s
}

// NewScene makes a random scene of SceneLength letters and digits.
func NewScene() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, SceneLength)
	for i := range b {
		for {
			var x [1]byte
			_, _ = rand.Read(x[:])
			if int(x[0]) < 248 { // 248 = 4 × 62: no modulo bias
				b[i] = alphabet[int(x[0])%62]
				break
			}
		}
	}
	return string(b)
}

// Create validates and stores a new event; bad input changes nothing.
func (s *Service) Create(ctx context.Context, ac audit.Context, staffID int64, in Input) (Event, error) {
	if err := s.Validate(ctx, &in); err != nil {
		return Event{}, err
	}
	now := database.Now()
	var id int64
	var scene string
	for attempt := 0; ; attempt++ {
		scene = NewScene()
		err := database.InTx(ctx, s.d.DB, func(tx *sqlx.Tx) error {
			res, err := tx.ExecContext(ctx, Queries.Get("event-insert"), in.Title, in.Kind, in.Place, in.StartsAt.UTC(), in.EndsAt.UTC(),
				in.EmployerCreditCode, scene, staffID, now, now)
			if err != nil {
				return err
			}
			if id, err = res.LastInsertId(); err != nil {
				return err
			}
			for _, v := range in.VillageCodes {
				if _, err := tx.ExecContext(ctx, Queries.Get("event-village-insert"), id, v); err != nil {
					return err
				}
			}
			return s.d.Audit.RecordTx(ctx, tx, ac.Event("event.create", "event", id, audit.Success, "kind="+in.Kind))
		})
		if database.IsDuplicate(err) && attempt < 3 { // a scene drawn twice: draw again
			continue
		}
		if err != nil {
			return Event{}, database.Map(err)
		}
		break
	}
	return s.Get(ctx, id, "")
}

// Get returns one event; village, if not empty, limits it to the events of that village
// (another village's event is not found).
func (s *Service) Get(ctx context.Context, id int64, village string) (Event, error) {
	var r row
	err := s.d.DB.GetContext(ctx, &r, Queries.Get("event-get"), id)
	if errors.Is(err, sql.ErrNoRows) {
		return Event{}, errs.New(errs.NotFound, "未找到该宣传活动")
	}
	if err != nil {
		return Event{}, database.Map(err)
	}
	var vs []string
	if err := s.d.DB.SelectContext(ctx, &vs, Queries.Get("event-villages"), id); err != nil {
		return Event{}, database.Map(err)
	}
	if village != "" && !contains(vs, village) {
		return Event{}, errs.New(errs.NotFound, "未找到该宣传活动")
	}
	return s.view(r, vs), nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// List returns a page of events, newest start first; village, if not empty, limits it to the
// events of that village.
func (s *Service) List(ctx context.Context, village string, limit, offset int) ([]Event, int, error) {
	var total int
	var rows []row
	var err error
	if village == "" {
		if err = s.d.DB.GetContext(ctx, &total, Queries.Get("events-count")); err == nil {
			err = s.d.DB.SelectContext(ctx, &rows, Queries.Get("events-page"), limit, offset)
		}
	} else {
		if err = s.d.DB.GetContext(ctx, &total, Queries.Get("events-count-village"), village); err == nil {
			err = s.d.DB.SelectContext(ctx, &rows, Queries.Get("events-page-village"), village, limit, offset)
		}
	}
	if err != nil {
		return nil, 0, database.Map(err)
	}
	out, err := s.withVillages(ctx, rows)
	return out, total, err
}

func (s *Service) withVillages(ctx context.Context, rows []row) ([]Event, error) {
	out := make([]Event, 0, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]any, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	var evs []struct {
		Event   int64  `db:"event_id"`
		Village string `db:"village_code"`
	}
	if err := s.d.DB.SelectContext(ctx, &evs, database.ExpandIn(Queries.Get("event-villages-of"), len(ids)), ids...); err != nil {
		return nil, database.Map(err)
	}
	by := map[int64][]string{}
	for _, ev := range evs {
		by[ev.Event] = append(by[ev.Event], ev.Village)
	}
	for _, r := range rows {
		out = append(out, s.view(r, by[r.ID]))
	}
	return out, nil
}

// Demo is an event of the demo seed.
type Demo struct {
	Title, Kind, Place string
	StartsAt, EndsAt   time.Time
	Villages           []string
}

// InsertDemo writes the demo seed's events (internal/seed), each with a new scene, created by
// no staff member (created_by 0); their codes are fetched when first asked for.
func InsertDemo(ctx context.Context, db *sqlx.DB, events []Demo) error {
	now := database.Now()
	return database.InTx(ctx, db, func(tx *sqlx.Tx) error {
		for _, e := range events {
			res, err := tx.ExecContext(ctx, Queries.Get("event-insert"), e.Title, e.Kind, e.Place, e.StartsAt.UTC(), e.EndsAt.UTC(), nil, NewScene(), 0, now, now)
			if err != nil {
				return err
			}
			id, err := res.LastInsertId()
			if err != nil {
				return err
			}
			for _, v := range e.Villages {
				if _, err := tx.ExecContext(ctx, Queries.Get("event-village-insert"), id, v); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
