// Package roster serves the masked roster of people aged 16-59 to village and town staff, and
// the audited reveal of one person's full ID number and phone.
package roster

import (
	"database/sql"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/go-redis/redis_rate/v10"
	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/ratelimit"
	"github.com/canbao/canbao/internal/platform/web"
	"github.com/canbao/canbao/internal/visit/outcome"
)

// Resident statuses (ResidentStatus in api/openapi.yaml).
const (
	StatusUnenrolled      = "unenrolled"
	StatusResidentPension = "resident_pension"
	StatusEmployeePension = "employee_pension"
	StatusExempt          = "exempt"
)

// Statuses lists the valid statuses.
var Statuses = map[string]bool{StatusUnenrolled: true, StatusResidentPension: true, StatusEmployeePension: true, StatusExempt: true}

// NeverVisited is the last_visit_outcome filter of people nobody has visited yet.
const NeverVisited = "none"

// LastVisitOutcomes lists the values the last_visit_outcome filter accepts: the outcomes of a
// visit (sorted), then NeverVisited.
func LastVisitOutcomes() []string {
	return append(slices.Sorted(maps.Keys(outcome.Outcomes)), NeverVisited)
}

// revealsPerHour bounds how many people a staff member can reveal.
const revealsPerHour = 30

// Service serves the roster.
type Service struct {
	db      *sqlx.DB
	kr      *pii.Keyring
	loc     *time.Location
	limiter *ratelimit.Limiter
	audit   *audit.Log
	now     func() time.Time
}

// NewService wires the roster service.
func NewService(db *sqlx.DB, kr *pii.Keyring, loc *time.Location, limiter *ratelimit.Limiter, a *audit.Log) *Service {
	return &Service{db: db, kr: kr, loc: loc, limiter: limiter, audit: a, now: time.Now}
}

// Routes registers the roster endpoints.
func (s *Service) Routes(r *auth.Router) {
	r.Handle(http.MethodGet, "/api/v1/admin/residents",
		auth.Allow(auth.RoleVolunteer, auth.RoleVillageAdmin, auth.RoleStaff, auth.RoleAdmin), web.H(s.list))
	r.Handle(http.MethodPost, "/api/v1/admin/residents/:id/reveal", auth.Allow(auth.RoleAdmin, auth.RoleVillageAdmin), web.H(s.reveal))
	r.Handle(http.MethodPost, "/api/v1/admin/residents/:id/opt-out",
		auth.Allow(auth.RoleVillageAdmin, auth.RoleStaff, auth.RoleAdmin), web.H(s.optOut))
}

type optOutRequest struct {
	OptedOut *bool  `json:"opted_out"`
	Reason   string `json:"reason"`
}

// optOut records that a person asked not to receive reminders (they replied R to an SMS,
// told a volunteer, called the office), or takes it back. The engine skips opted-out people
// at send time, and segments leave them out.
func (s *Service) optOut(c *gin.Context) error {
	id, err := auth.PathID(c)
	if err != nil {
		return err
	}
	var req optOutRequest
	if err := web.Decode(c, &req); err != nil {
		return err
	}
	if req.OptedOut == nil {
		return errs.Field(errs.InvalidInput, "opted_out", "请说明是否不再接收提醒")
	}
	reason := strings.TrimSpace(req.Reason)
	if utf8.RuneCountInString(reason) > 200 || strings.ContainsFunc(reason, unicode.IsControl) {
		return errs.Field(errs.InvalidInput, "reason", "原因不超过 200 字")
	}
	p := auth.MustPrincipal(c)
	ctx := c.Request.Context()
	err = database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var village string
		err := tx.GetContext(ctx, &village, Queries.Get("village-lock"), id)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !p.CanSeeVillage(village)) {
			return errs.ErrNotFoundPublic
		}
		if err != nil {
			return database.Map(err)
		}
		if err := SetOptedOut(ctx, tx, id, *req.OptedOut, database.Now()); err != nil {
			return database.Map(err)
		}
		return s.audit.RecordTx(ctx, tx, auth.AuditContext(c).Event("resident.opt_out", "resident", id, audit.Success,
			"opted_out="+strconv.FormatBool(*req.OptedOut)+" reason="+reason))
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"id": id, "opted_out": *req.OptedOut})
	return nil
}

// LastVisit is a person's most recent visit.
type LastVisit struct {
	VisitedAt  time.Time `json:"visited_at"`
	Outcome    string    `json:"outcome"`
	Reason     *string   `json:"reason"`
	FollowUpOn *string   `json:"follow_up_on"`
}

// Item is one person as the roster shows them.
type Item struct {
	ID             int64      `json:"id"`
	Name           string     `json:"name"`
	Gender         string     `json:"gender"`
	Age            int        `json:"age"`
	VillageCode    string     `json:"village_code"`
	Status         string     `json:"status"`
	IDNumberMasked string     `json:"id_number_masked"`
	PhoneMasked    *string    `json:"phone_masked"`
	LastVisit      *LastVisit `json:"last_visit"`
	Employed       bool       `json:"employed"`
	// EmployerName and EmployerCreditCode: the person's employer, when the roster knows it
	// (null otherwise; an employed person may have neither).
	EmployerName       *string `json:"employer_name"`
	EmployerCreditCode *string `json:"employer_credit_code"`
}

type row struct {
	ID          int64          `db:"id"`
	Name        string         `db:"name"`
	Gender      string         `db:"gender"`
	Birth       time.Time      `db:"birth_date"`
	Village     string         `db:"village_code"`
	Status      string         `db:"status"`
	IDEnc       []byte         `db:"id_number_enc"`
	PhoneEnc    []byte         `db:"phone_enc"`
	KeyID       string         `db:"pii_key_id"`
	VisitedAt   sql.NullTime   `db:"visited_at"`
	Outcome     sql.NullString `db:"outcome"`
	Reason      sql.NullString `db:"reason"`
	VisitFollow sql.NullTime   `db:"visit_follow_up_on"`
	Employed    bool           `db:"employed"`
	Employer    sql.NullString `db:"employer_name"`
	Code        sql.NullString `db:"employer_credit_code"`
}

// Filter is a validated roster query.
type Filter struct {
	Village        string
	Status, Gender string
	AgeMin, AgeMax int   // -1 when absent
	Employed       *bool // nil when absent
	// LastVisitOutcome is the outcome of the person's most recent visit, NeverVisited, or "".
	LastVisitOutcome string
}

// ParseFilter reads the roster filters (api/openapi.yaml, GET /api/v1/admin/residents) from the query.
func ParseFilter(c *gin.Context, p *auth.Principal) (Filter, error) {
	f := Filter{AgeMin: -1, AgeMax: -1}
	var err error
	if f.Village, err = p.VillageFilter(c.Query("village")); err != nil {
		return f, err
	}
	if f.Status = c.Query("status"); f.Status != "" && !Statuses[f.Status] {
		return f, errs.Field(errs.InvalidInput, "status", "状态须为 unenrolled、resident_pension、employee_pension 或 exempt")
	}
	if f.Gender = c.Query("gender"); f.Gender != "" && f.Gender != string(idcard.Male) && f.Gender != string(idcard.Female) {
		return f, errs.Field(errs.InvalidInput, "gender", "性别须为 male 或 female")
	}
	for _, q := range []struct {
		name string
		dst  *int
	}{{"age_min", &f.AgeMin}, {"age_max", &f.AgeMax}} {
		if v := c.Query(q.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 150 {
				return f, errs.Field(errs.InvalidInput, q.name, "年龄须为 0 到 150 的整数")
			}
			*q.dst = n
		}
	}
	if f.AgeMin >= 0 && f.AgeMax >= 0 && f.AgeMin > f.AgeMax {
		return f, errs.Field(errs.InvalidInput, "age_min", "最小年龄不能大于最大年龄")
	}
	switch v := c.Query("employed"); v {
	case "":
	case "true", "false":
		b := v == "true"
		f.Employed = &b
	default:
		return f, errs.Field(errs.InvalidInput, "employed", "是否就业须为 true（在职）或 false（未就业）")
	}
	if v := c.Query("last_visit_outcome"); v != "" {
		if v != NeverVisited && !outcome.Outcomes[v] {
			return f, errs.Field(errs.InvalidInput, "last_visit_outcome",
				"最近走访结果须为 "+strings.Join(LastVisitOutcomes(), "、")+" 之一（none 表示从未走访）")
		}
		f.LastVisitOutcome = v
	}
	return f, nil
}

func (s *Service) list(c *gin.Context) error {
	p := auth.MustPrincipal(c)
	f, err := ParseFilter(c, p)
	if err != nil {
		return err
	}
	page, err := web.ParsePage(c)
	if err != nil {
		return err
	}
	out, err := s.List(c.Request.Context(), f, page)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// Page is a page of the roster.
type Page struct {
	web.List[Item]
	// ExcludedOutOfAge counts the people the filter matched but the list leaves out: unenrolled
	// people outside 16-59 today are not targets.
	ExcludedOutOfAge int `json:"excluded_out_of_age"`
}

// item masks one row; a value that cannot be decrypted is an error (500), never a placeholder.
func (s *Service) item(r row, today time.Time) (Item, error) {
	it := Item{ID: r.ID, Name: r.Name, Gender: r.Gender, Age: idcard.AgeOn(r.Birth, today), VillageCode: r.Village, Status: r.Status,
		Employed: r.Employed, EmployerName: database.StringPtr(r.Employer), EmployerCreditCode: database.StringPtr(r.Code)}
	id, err := s.kr.DecryptRow(r.IDEnc, r.KeyID, pii.AADResidentIDNumber, r.ID)
	if err != nil {
		return Item{}, err
	}
	it.IDNumberMasked = pii.MaskID(id)
	if len(r.PhoneEnc) > 0 {
		ph, err := s.kr.DecryptRow(r.PhoneEnc, r.KeyID, pii.AADResidentPhone, r.ID)
		if err != nil {
			return Item{}, err
		}
		m := pii.MaskPhone(ph)
		it.PhoneMasked = &m
	}
	if r.VisitedAt.Valid {
		lv := &LastVisit{VisitedAt: r.VisitedAt.Time, Outcome: r.Outcome.String}
		if r.Reason.Valid {
			lv.Reason = &r.Reason.String
		}
		if r.VisitFollow.Valid {
			d := r.VisitFollow.Time.Format(time.DateOnly)
			lv.FollowUpOn = &d
		}
		it.LastVisit = lv
	}
	return it, nil
}

type revealRequest struct {
	Reason string `json:"reason"`
}

type revealed struct {
	IDNumber string  `json:"id_number"`
	Phone    *string `json:"phone"`
}

// reveal answers one person's full ID number and phone to an admin or their village admin,
// with a reason, audited, and rate limited per staff member.
func (s *Service) reveal(c *gin.Context) error {
	id, err := auth.PathID(c)
	if err != nil {
		return err
	}
	var req revealRequest
	if err := web.Decode(c, &req); err != nil {
		return err
	}
	reason := strings.TrimSpace(req.Reason)
	if n := utf8.RuneCountInString(reason); n < 2 || n > 200 || strings.ContainsFunc(reason, unicode.IsControl) {
		return errs.Field(errs.InvalidInput, "reason", "请填写查看完整信息的事由（2 至 200 字）")
	}
	p := auth.MustPrincipal(c)
	ctx := c.Request.Context()
	var r row
	err = s.db.GetContext(ctx, &r, Queries.Get("reveal-row"), id)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !p.CanSeeVillage(r.Village)) {
		return errs.ErrNotFoundPublic
	}
	if err != nil {
		return database.Map(err)
	}
	if err := s.limiter.Allow(ctx, "reveal", strconv.FormatInt(p.ID, 10), redis_rate.Limit{Rate: revealsPerHour, Burst: revealsPerHour, Period: time.Hour}); err != nil {
		return err
	}
	full, err := s.kr.DecryptRow(r.IDEnc, r.KeyID, pii.AADResidentIDNumber, id)
	if err != nil {
		return errs.Internalf("%w", err)
	}
	out := revealed{IDNumber: full}
	if len(r.PhoneEnc) > 0 {
		ph, err := s.kr.DecryptRow(r.PhoneEnc, r.KeyID, pii.AADResidentPhone, id)
		if err != nil {
			return errs.Internalf("%w", err)
		}
		out.Phone = &ph
	}
	// The audit row is written before the answer: if it cannot be written, nothing is revealed.
	if err := s.audit.Record(ctx, auth.AuditContext(c).Event("resident.reveal", "resident", id, audit.Success, "reason="+reason)); err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, out)
	return nil
}
