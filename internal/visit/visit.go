// Package visit records village volunteers' door-to-door visits (入户走访), also in batches
// recorded offline, and gives each volunteer the list of visits most worth making today.
package visit

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/person"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/web"
	"github.com/canbao/canbao/internal/roster"
	"github.com/canbao/canbao/internal/visit/outcome"
)

// Outcomes of a visit and the reasons people stay out (the source document's four; package
// outcome holds them for the roster, which this package writes through).
var (
	Outcomes = outcome.Outcomes
	Reasons  = outcome.Reasons
)

// statusAfter is the roster status an outcome implies for someone still unenrolled; outcomes
// not listed leave it alone. Only "enrolled" is a new enrollment.
var statusAfter = map[string]string{
	outcome.Enrolled:         roster.StatusResidentPension,
	outcome.InsuredElsewhere: roster.StatusEmployeePension,
	outcome.MovedAway:        roster.StatusExempt,
	outcome.Deceased:         roster.StatusExempt,
}

var codeClientIDConflict = errs.Register("CLIENT_ID_CONFLICT", 409)

// MaxBatch is the largest offline batch.
const MaxBatch = 200

// Input is one visit as a volunteer's phone sends it.
type Input struct {
	ClientID   string  `json:"client_id"`
	ResidentID int64   `json:"resident_id"`
	VisitedAt  string  `json:"visited_at"`
	Outcome    string  `json:"outcome"`
	Reason     *string `json:"reason"`
	Note       *string `json:"note"`
	FollowUpOn *string `json:"follow_up_on"`
	// EmployerName and EmployerCreditCode: the person's employer, learned at the door.
	EmployerName       *string `json:"employer_name"`
	EmployerCreditCode *string `json:"employer_credit_code"`
}

// Visit is a stored visit.
type Visit struct {
	ID         int64        `json:"id" db:"id"`
	ClientID   string       `json:"client_id" db:"client_id"`
	ResidentID int64        `json:"resident_id" db:"resident_id"`
	Village    string       `json:"village_code" db:"village_code"`
	Volunteer  int64        `json:"volunteer_id" db:"volunteer_id"`
	VisitedAt  time.Time    `json:"visited_at" db:"visited_at"`
	Outcome    string       `json:"outcome" db:"outcome"`
	Reason     *string      `json:"reason" db:"reason"`
	Note       *string      `json:"note" db:"note"`
	FollowUpOn *string      `json:"follow_up_on" db:"-"`
	FollowUp   sql.NullTime `json:"-" db:"follow_up_on"`
	CreatedAt  time.Time    `json:"created_at" db:"created_at"`
}

func (v *Visit) fill() {
	if v.FollowUp.Valid {
		d := v.FollowUp.Time.Format(time.DateOnly)
		v.FollowUpOn = &d
	}
	if v.Note != nil && *v.Note == "" {
		v.Note = nil
	}
}

// valid is a checked input.
type valid struct {
	in        Input
	clientID  string
	visitedAt time.Time
	followUp  *time.Time
	note      string
	// the employer the visit names (both NULL: none)
	empName, empCode sql.NullString
}

// Service stores visits.
type Service struct {
	db    *sqlx.DB
	audit *audit.Log
	loc   *time.Location
	enr   *enrollment.Recorder
	kr    PhoneDecrypter
	now   func() time.Time
}

// NewService wires the visit service; loc is the business time zone, kr opens the phones the
// task list shows masked.
func NewService(db *sqlx.DB, a *audit.Log, loc *time.Location, enr *enrollment.Recorder, kr PhoneDecrypter) *Service {
	return &Service{db: db, audit: a, loc: loc, enr: enr, kr: kr, now: time.Now}
}

// WithClock makes the service read the time from now instead of the system clock (the demo
// seed records visits as of the day it is told is today).
func (s *Service) WithClock(now func() time.Time) *Service {
	s.now = now
	return s
}

// DecodeBody reads either one visit or {"visits": [...]}, strictly.
func DecodeBody(body []byte) (inputs []Input, batch bool, err error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, false, web.DecodeReader(bytes.NewReader(body), &probe)
	}
	if _, ok := probe["visits"]; ok {
		var b struct {
			Visits []Input `json:"visits"`
		}
		if err := web.DecodeReader(bytes.NewReader(body), &b); err != nil {
			return nil, true, err
		}
		if len(b.Visits) == 0 || len(b.Visits) > MaxBatch {
			return nil, true, errs.Field(errs.InvalidInput, "visits", fmt.Sprintf("每批须为 1 至 %d 条走访记录", MaxBatch))
		}
		return b.Visits, true, nil
	}
	var one Input
	if err := web.DecodeReader(bytes.NewReader(body), &one); err != nil {
		return nil, false, err
	}
	return []Input{one}, false, nil
}

func fieldName(batch bool, i int, name string) string {
	if !batch {
		return name
	}
	return fmt.Sprintf("visits[%d].%s", i, name)
}

// check validates one visit on its own.
func (s *Service) check(in Input, batch bool, i int) (valid, error) {
	f := func(name string) string { return fieldName(batch, i, name) }
	v := valid{in: in}
	u, err := uuid.Parse(in.ClientID)
	if err != nil || len(in.ClientID) != 36 {
		return v, errs.Field(errs.InvalidInput, f("client_id"), "client_id 须为 UUID")
	}
	v.clientID = u.String()
	if in.ResidentID <= 0 {
		return v, errs.Field(errs.InvalidInput, f("resident_id"), "请指定走访对象")
	}
	at, err := time.Parse(time.RFC3339, in.VisitedAt)
	if err != nil {
		return v, errs.Field(errs.InvalidInput, f("visited_at"), "走访时间格式应为 RFC 3339，如 2019-08-01T10:00:00+08:00")
	}
	now := s.now()
	if at.After(now.Add(10*time.Minute)) || at.Before(now.AddDate(-1, 0, 0)) {
		return v, errs.Field(errs.InvalidInput, f("visited_at"), "走访时间不能晚于现在，也不能早于一年前")
	}
	v.visitedAt = at.UTC().Truncate(time.Microsecond)
	if !Outcomes[in.Outcome] {
		return v, errs.Field(errs.InvalidInput, f("outcome"), "走访结果不正确")
	}
	if in.Reason != nil {
		if in.Outcome != outcome.Refused && in.Outcome != outcome.Considering {
			return v, errs.Field(errs.InvalidInput, f("reason"), "只有“拒绝”或“考虑中”的走访需要填写未参保原因")
		}
		if !Reasons[*in.Reason] {
			return v, errs.Field(errs.InvalidInput, f("reason"), "未参保原因须为：不愿参保、不能参保、不便参保、缴不起费")
		}
	}
	if in.Note != nil {
		n := strings.ReplaceAll(*in.Note, "\r\n", "\n")
		if utf8.RuneCountInString(n) > 500 || strings.ContainsFunc(n, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) {
			return v, errs.Field(errs.InvalidInput, f("note"), "备注不超过 500 字，且不能包含控制字符")
		}
		v.note = n
	}
	if in.FollowUpOn != nil {
		d, err := web.ParseDate(*in.FollowUpOn, f("follow_up_on"))
		if err != nil {
			return v, err
		}
		visitDay := web.Today(at, s.loc)
		if d.Before(visitDay) || d.After(visitDay.AddDate(1, 0, 0)) {
			return v, errs.Field(errs.InvalidInput, f("follow_up_on"), "回访日期须在走访当天之后一年内")
		}
		v.followUp = &d
	}
	if v.empName, v.empCode, err = person.Employer(in.EmployerName, in.EmployerCreditCode, f("employer_name"), f("employer_credit_code")); err != nil {
		return v, err
	}
	return v, nil
}

// Result is the outcome of a post: the visits in request order and whether any was new.
type Result struct {
	Visits  []Visit
	Created int
}

// Record stores a volunteer's visits, all or nothing. A client_id already stored for this
// volunteer is a replay and changes nothing; one stored for someone else is a conflict.
func (s *Service) Record(ctx context.Context, actx audit.Context, p *auth.Principal, inputs []Input, batch bool) (Result, error) {
	vs := make([]valid, len(inputs))
	seen := map[string]int{}
	for i, in := range inputs {
		v, err := s.check(in, batch, i)
		if err != nil {
			return Result{}, err
		}
		if j, dup := seen[v.clientID]; dup {
			return Result{}, errs.Field(errs.InvalidInput, fieldName(batch, i, "client_id"), fmt.Sprintf("与第 %d 条记录的 client_id 重复", j+1))
		}
		seen[v.clientID] = i
		vs[i] = v
	}
	var res Result
	err := database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		res = Result{Visits: make([]Visit, len(vs))}
		known, err := s.byClientIDs(ctx, tx, vs)
		if err != nil {
			return err
		}
		var fresh []int
		for i, v := range vs {
			if k, ok := known[v.clientID]; ok {
				if k.Volunteer != p.ID {
					return errs.Field(codeClientIDConflict, fieldName(batch, i, "client_id"), "该 client_id 已被其他走访记录使用")
				}
				res.Visits[i] = k
				continue
			}
			fresh = append(fresh, i)
		}
		if len(fresh) == 0 {
			return nil
		}
		residents, err := s.lockResidents(ctx, tx, vs, fresh)
		if err != nil {
			return err
		}
		for _, i := range fresh {
			r, ok := residents[vs[i].in.ResidentID]
			if !ok || r.Village != p.Village {
				return &errs.Error{Code: errs.NotFound, Field: fieldName(batch, i, "resident_id"), Message: "未找到该走访对象，或不属于您所在的村（居）"}
			}
		}
		now := database.Now()
		for _, i := range fresh {
			v := vs[i]
			var reason, follow any
			if v.in.Reason != nil {
				reason = *v.in.Reason
			}
			if v.followUp != nil {
				follow = *v.followUp
			}
			if _, err := tx.ExecContext(ctx, Queries.Get("visit-insert"), v.clientID, v.in.ResidentID, p.Village, p.ID, v.visitedAt, v.in.Outcome, reason, v.note, follow, now); err != nil {
				if database.IsDuplicate(err) { // a concurrent replay of the same client_id
					return errs.Field(codeClientIDConflict, fieldName(batch, i, "client_id"), "该走访记录正在提交，请稍后重试")
				}
				return database.Map(err)
			}
		}
		stored, err := s.byClientIDs(ctx, tx, vs)
		if err != nil {
			return err
		}
		today := web.Today(s.now(), s.loc)
		for _, i := range fresh {
			visit := stored[vs[i].clientID]
			res.Visits[i] = visit
			if err := s.apply(ctx, tx, visit, residents[visit.ResidentID], today, now); err != nil {
				return err
			}
			// A visit that names an employer replaces the roster's (both fields) and marks the
			// person employed.
			if v := vs[i]; v.empName.Valid || v.empCode.Valid {
				if err := roster.SetEmployer(ctx, tx, visit.ResidentID, v.empName, v.empCode, now); err != nil {
					return database.Map(err)
				}
			}
		}
		res.Created = len(fresh)
		return s.audit.RecordTx(ctx, tx, actx.Event("visit.create", "visit", res.Visits[fresh[0]].ID, audit.Success, fmt.Sprintf("created=%d", len(fresh))))
	})
	if err != nil {
		return Result{}, err
	}
	for i := range res.Visits {
		res.Visits[i].fill()
	}
	return res, nil
}

type residentState struct {
	ID            int64        `db:"id"`
	Village       string       `db:"village_code"`
	Status        string       `db:"status"`
	LastVisitedAt sql.NullTime `db:"last_visited_at"`
}

func (s *Service) lockResidents(ctx context.Context, tx *sqlx.Tx, vs []valid, fresh []int) (map[int64]*residentState, error) {
	ids := make([]int64, 0, len(fresh))
	for _, i := range fresh {
		ids = append(ids, vs[i].in.ResidentID)
	}
	q, args, err := sqlx.In(Queries.Get("residents-lock"), ids)
	if err != nil {
		return nil, err
	}
	var rows []residentState
	if err := tx.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, database.Map(err)
	}
	out := make(map[int64]*residentState, len(rows))
	for i := range rows {
		out[rows[i].ID] = &rows[i]
	}
	return out, nil
}

func (s *Service) byClientIDs(ctx context.Context, tx *sqlx.Tx, vs []valid) (map[string]Visit, error) {
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = v.clientID
	}
	q, args, err := sqlx.In(Queries.Get("visits-by-client-id"), ids)
	if err != nil {
		return nil, err
	}
	var rows []Visit
	if err := tx.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, database.Map(err)
	}
	out := make(map[string]Visit, len(rows))
	for _, r := range rows {
		out[r.ClientID] = r
	}
	return out, nil
}

// apply carries a new visit over to the person: their latest visit and follow-up date, the
// status an outcome implies, a new enrollment for "enrolled", and the end of open visit tasks.
func (s *Service) apply(ctx context.Context, tx *sqlx.Tx, v Visit, r *residentState, today, now time.Time) error {
	if !r.LastVisitedAt.Valid || !v.VisitedAt.Before(r.LastVisitedAt.Time) {
		if err := roster.RecordVisit(ctx, tx, r.ID, v.ID, v.VisitedAt, v.FollowUp, now); err != nil {
			return database.Map(err)
		}
		r.LastVisitedAt = sql.NullTime{Time: v.VisitedAt, Valid: true}
	}
	if to, ok := statusAfter[v.Outcome]; ok && r.Status == roster.StatusUnenrolled {
		if err := roster.SetStatus(ctx, tx, r.ID, to, today, now); err != nil {
			return database.Map(err)
		}
		r.Status = to
		if v.Outcome == outcome.Enrolled {
			if _, err := s.enr.Record(ctx, tx, enrollment.Enrollment{ResidentID: r.ID, Village: r.Village, Scheme: to,
				Source: enrollment.SourceVisit, SourceID: v.ID, Day: web.Today(v.VisitedAt, s.loc)}); err != nil {
				return err
			}
		}
	}
	_, err := tx.ExecContext(ctx, Queries.Get("task-close"), v.ID, now, r.ID)
	return database.Map(err)
}
