// Package employer serves 强制性参保: the employers whose employees on the roster are
// uninsured, and the cases in which staff refer an employer to labour inspection
// (劳动保障监察) and follow it from referred to inspected to resolved. It owns the writes of
// referral_cases and referral_notes and only reads residents (whose employer fields
// internal/roster writes).
package employer

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/creditcode"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/web"
	"github.com/canbao/canbao/internal/targetage"
)

//go:embed queries.sql
var queryFS embed.FS

// Queries are the package's named SQL, checked against the server at start-up.
var Queries = database.RegisterQueries("employer", queryFS, "queries.sql")

// Case statuses, in the order a case moves through them.
const (
	StatusReferred  = "referred"
	StatusInspected = "inspected"
	StatusResolved  = "resolved"
)

// next is the state machine: the one status each status may move to.
var next = map[string]string{StatusReferred: StatusInspected, StatusInspected: StatusResolved}

// statusNames are the statuses as staff and the brigade read them.
var statusNames = map[string]string{StatusReferred: "已移交", StatusInspected: "已核查", StatusResolved: "已办结"}

// UnknownEmployer is the name of the row of people known employed whose employer is not.
const UnknownEmployer = "未知单位"

// UnnamedEmployer is the name shown for a code whose people the roster gives no employer name.
const UnnamedEmployer = "单位名称未登记"

// Limits.
const (
	maxNoteRunes    = 1000
	maxInsuredCount = 1000000
)

// The export's limits (variables so that a test can lower them).
var (
	maxExportRows  = 100000
	maxExportCases = 5000
)

// Service serves the employer list and the referral cases.
type Service struct {
	db    *sqlx.DB
	kr    *pii.Keyring
	loc   *time.Location
	audit *audit.Log
	now   func() time.Time
}

// New wires the service.
func New(db *sqlx.DB, kr *pii.Keyring, loc *time.Location, a *audit.Log) *Service {
	return &Service{db: db, kr: kr, loc: loc, audit: a, now: time.Now}
}

// Routes registers the endpoints.
func (s *Service) Routes(r *auth.Router) {
	staff := auth.Allow(auth.RoleStaff, auth.RoleAdmin)
	r.Handle(http.MethodGet, "/api/v1/admin/employers", auth.Allow(auth.RoleVillageAdmin, auth.RoleStaff, auth.RoleAdmin), web.H(s.list))
	r.Handle(http.MethodPost, "/api/v1/admin/employers/:credit_code/referrals", staff, r.Idempotent(), web.H(s.refer))
	r.Handle(http.MethodGet, "/api/v1/admin/referrals", staff, web.H(s.cases))
	r.Handle(http.MethodGet, "/api/v1/admin/referrals/:id", staff, web.H(s.getCase))
	r.Handle(http.MethodPatch, "/api/v1/admin/referrals/:id", staff, web.H(s.move))
	r.Handle(http.MethodGet, "/api/v1/admin/exports/referrals", staff, web.H(s.export))
}

func (s *Service) today() time.Time { return web.Today(s.now(), s.loc) }

// ParseCode validates a credit code from the outside (path, body, file) and answers it in its
// canonical form, or CREDIT_CODE_INVALID naming field with the rule it breaks.
func ParseCode(raw, field string) (string, error) {
	code, err := creditcode.Parse(raw)
	if err != nil {
		var ce *creditcode.Error
		if errors.As(err, &ce) {
			return "", errs.Field("CREDIT_CODE_INVALID", field, ce.Message())
		}
		return "", errs.Field("CREDIT_CODE_INVALID", field, "")
	}
	return code, nil
}

// ParseName checks an employer's name: 2 to 128 characters, no control characters.
func ParseName(raw, field string) (string, error) {
	name := strings.TrimSpace(raw)
	if n := utf8.RuneCountInString(name); n < 2 || n > 128 || strings.ContainsFunc(name, unicode.IsControl) {
		return "", errs.Field(errs.InvalidInput, field, "工作单位名称须为 2 至 128 个字")
	}
	return name, nil
}

// ---- the employer list ----

// CaseRef is an employer's open case.
type CaseRef struct {
	ID     int64  `json:"id"`
	Status string `json:"status"`
}

// Item is one employer of the list.
type Item struct {
	CreditCode        *string  `json:"credit_code"`
	Name              string   `json:"name"`
	EmployedUninsured int      `json:"employed_uninsured"`
	Villages          []string `json:"villages"`
	Case              *CaseRef `json:"case"`
}

type group struct {
	Code     sql.NullString `db:"credit_code"`
	N        int            `db:"n"`
	FirstID  int64          `db:"first_id"`
	Villages string         `db:"villages"`
}

// Filter is a validated employer list query.
type Filter struct {
	Village      string // "" for every village
	UninsuredMin int    // at least 1
}

func (s *Service) list(c *gin.Context) error {
	p := auth.MustPrincipal(c)
	var f Filter
	var err error
	if f.Village, err = p.VillageFilter(c.Query("village")); err != nil {
		return err
	}
	f.UninsuredMin = 1
	if v := c.Query("uninsured_min"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxInsuredCount {
			return errs.Field(errs.InvalidInput, "uninsured_min", "未参保人数下限须为正整数")
		}
		f.UninsuredMin = n
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

// List answers one page of employers by their count of employed, unenrolled people aged 16-59,
// most first. The whole grouping is one read of an index (ix_residents_employer, or
// ix_residents_employer_village for one village); the name (from the row of each employer's
// first person) and the open case are then read for the page's employers only.
func (s *Service) List(ctx context.Context, f Filter, page web.Page) (web.List[Item], error) {
	lo, hi := targetage.Range(s.today())
	var groups []group
	var err error
	if f.Village == "" {
		err = s.db.SelectContext(ctx, &groups, Queries.Get("employers-all"), lo, hi)
	} else {
		err = s.db.SelectContext(ctx, &groups, Queries.Get("employers-village"), lo, hi, f.Village)
	}
	if err != nil {
		return web.List[Item]{}, database.Map(err)
	}
	groups = slices.DeleteFunc(groups, func(g group) bool { return g.N < f.UninsuredMin })
	slices.SortFunc(groups, func(a, b group) int {
		if a.N != b.N {
			return b.N - a.N
		}
		return strings.Compare(a.Code.String, b.Code.String) // the unknown employer ("") first among equals
	})
	total := len(groups)
	start := min(page.Offset(), total)
	groups = groups[start:min(start+page.Size, total)]

	codes := make([]any, 0, len(groups))
	firsts := make([]any, 0, len(groups))
	for _, g := range groups {
		if g.Code.Valid {
			codes, firsts = append(codes, g.Code.String), append(firsts, g.FirstID)
		}
	}
	names, cases := map[string]string{}, map[string]*CaseRef{}
	if len(codes) > 0 {
		var ns []struct {
			Code string         `db:"credit_code"`
			Name sql.NullString `db:"name"`
		}
		if err := s.db.SelectContext(ctx, &ns, database.ExpandIn(Queries.Get("employer-names"), len(firsts)), firsts...); err != nil {
			return web.List[Item]{}, database.Map(err)
		}
		for _, n := range ns {
			names[n.Code] = n.Name.String
		}
		var cs []struct {
			ID     int64  `db:"id"`
			Code   string `db:"credit_code"`
			Status string `db:"status"`
		}
		if err := s.db.SelectContext(ctx, &cs, database.ExpandIn(Queries.Get("open-cases-of"), len(codes)), codes...); err != nil {
			return web.List[Item]{}, database.Map(err)
		}
		for _, c := range cs {
			cases[c.Code] = &CaseRef{ID: c.ID, Status: c.Status}
		}
	}
	items := make([]Item, len(groups))
	for i, g := range groups {
		it := Item{Name: UnknownEmployer, EmployedUninsured: g.N, Villages: strings.Split(g.Villages, ",")}
		if g.Code.Valid {
			code := g.Code.String
			it.CreditCode, it.Case, it.Name = &code, cases[code], names[code]
			if it.Name == "" {
				it.Name = UnnamedEmployer
			}
		}
		items[i] = it
	}
	return web.NewList(items, total), nil
}

// ---- cases ----

// Note is one entry of a case's history.
type Note struct {
	Status       string    `json:"status" db:"status"`
	Note         string    `json:"note" db:"note"`
	InsuredCount *int      `json:"insured_count" db:"insured_count"`
	CreatedBy    int64     `json:"created_by" db:"created_by"`
	CreatedAt    time.Time `json:"created_at" db:"created_at"`
}

// Case is a referral case with its history.
type Case struct {
	ID            int64     `json:"id" db:"id"`
	CreditCode    string    `json:"credit_code" db:"credit_code"`
	EmployerName  string    `json:"employer_name" db:"employer_name"`
	Status        string    `json:"status" db:"status"`
	ReferredCount int       `json:"referred_count" db:"referred_count"`
	InsuredCount  *int      `json:"insured_count" db:"insured_count"`
	CreatedBy     int64     `json:"created_by" db:"created_by"`
	CreatedAt     time.Time `json:"created_at" db:"created_at"`
	UpdatedAt     time.Time `json:"updated_at" db:"updated_at"`
	Notes         []Note    `json:"notes" db:"-"`
}

// parseNote checks a note: 1 to 1000 characters; line breaks are allowed, other control
// characters are not.
func parseNote(raw string, required bool) (string, error) {
	note := strings.TrimSpace(raw)
	n := utf8.RuneCountInString(note)
	bad := strings.ContainsFunc(note, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' })
	if (required && n == 0) || n > maxNoteRunes || bad {
		return "", errs.Field(errs.InvalidInput, "note", "请填写说明（1 至 1000 字）")
	}
	return note, nil
}

type referRequest struct {
	Note string `json:"note"`
}

// refer opens a case for an employer: 201 with the case; 409 REFERRAL_OPEN when it has one
// open already; 404 when nobody on the roster carries the code.
func (s *Service) refer(c *gin.Context) error {
	code, err := ParseCode(c.Param("credit_code"), "credit_code")
	if err != nil {
		return err
	}
	var req referRequest
	if err := web.Decode(c, &req); err != nil {
		return err
	}
	note, err := parseNote(req.Note, true)
	if err != nil {
		return err
	}
	p := auth.MustPrincipal(c)
	ctx := c.Request.Context()
	lo, hi := targetage.Range(s.today())
	var emp struct {
		People    int    `db:"people"`
		Name      string `db:"name"`
		Uninsured int    `db:"uninsured"`
	}
	if err := s.db.GetContext(ctx, &emp, Queries.Get("employer-on-roster"), lo, hi, code); err != nil {
		return database.Map(err)
	}
	if emp.People == 0 {
		return errs.New(errs.NotFound, "花名册中没有该统一社会信用代码的单位")
	}
	name := emp.Name
	if name == "" {
		name = UnknownEmployer
	}
	var id int64
	err = database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		now := database.Now()
		res, err := tx.ExecContext(ctx, Queries.Get("insert-case"), code, code, name, emp.Uninsured, p.ID, now, now)
		if database.IsDuplicate(err) {
			return errs.New("REFERRAL_OPEN", "该单位已有未办结的移交案件，请在原案件中跟进")
		}
		if err != nil {
			return database.Map(err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return database.Map(err)
		}
		if _, err := tx.ExecContext(ctx, Queries.Get("insert-note"), id, StatusReferred, note, nil, p.ID, now); err != nil {
			return database.Map(err)
		}
		return s.audit.RecordTx(ctx, tx, auth.AuditContext(c).Event("referral.create", "referral_case", id, audit.Success,
			"credit_code="+code+" referred_count="+strconv.Itoa(emp.Uninsured)))
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, gin.H{"id": id, "status": StatusReferred})
	return nil
}

type moveRequest struct {
	Status       string `json:"status"`
	Note         string `json:"note"`
	InsuredCount *int   `json:"insured_count"`
}

// move changes a case's status along the state machine, with a note and optionally the number
// of people insured as a result; any other move is 409 REFERRAL_STATE_CONFLICT.
func (s *Service) move(c *gin.Context) error {
	id, err := auth.PathID(c)
	if err != nil {
		return err
	}
	var req moveRequest
	if err := web.Decode(c, &req); err != nil {
		return err
	}
	if req.Status != StatusInspected && req.Status != StatusResolved {
		return errs.Field(errs.InvalidInput, "status", "状态须为 inspected（已核查）或 resolved（已办结）")
	}
	note, err := parseNote(req.Note, true)
	if err != nil {
		return err
	}
	if req.InsuredCount != nil && (*req.InsuredCount < 0 || *req.InsuredCount > maxInsuredCount) {
		return errs.Field(errs.InvalidInput, "insured_count", "参保人数须为非负整数")
	}
	p := auth.MustPrincipal(c)
	ctx := c.Request.Context()
	err = database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var cur Case
		err := tx.GetContext(ctx, &cur, Queries.Get("case-lock"), id)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.ErrNotFoundPublic
		}
		if err != nil {
			return database.Map(err)
		}
		if next[cur.Status] != req.Status {
			return errs.New("REFERRAL_STATE_CONFLICT", "案件当前状态为“"+statusNames[cur.Status]+"”，不能改为“"+statusNames[req.Status]+"”")
		}
		now := database.Now()
		res, err := tx.ExecContext(ctx, Queries.Get("move-case"), req.Status, req.InsuredCount, now,
			req.Status, now, req.Status, now, req.Status, id, cur.Status)
		if err != nil {
			return database.Map(err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errs.New("REFERRAL_STATE_CONFLICT", "")
		}
		if _, err := tx.ExecContext(ctx, Queries.Get("insert-note"), id, req.Status, note, req.InsuredCount, p.ID, now); err != nil {
			return database.Map(err)
		}
		detail := "from=" + cur.Status + " to=" + req.Status
		if req.InsuredCount != nil {
			detail += " insured_count=" + strconv.Itoa(*req.InsuredCount)
		}
		return s.audit.RecordTx(ctx, tx, auth.AuditContext(c).Event("referral.move", "referral_case", id, audit.Success, detail))
	})
	if err != nil {
		return err
	}
	out, err := s.caseByID(ctx, id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

func (s *Service) caseByID(ctx context.Context, id int64) (Case, error) {
	var cs []Case
	if err := s.db.SelectContext(ctx, &cs, Queries.Get("case-get"), id); err != nil {
		return Case{}, database.Map(err)
	}
	if len(cs) == 0 {
		return Case{}, errs.ErrNotFoundPublic
	}
	if err := s.withNotes(ctx, cs); err != nil {
		return Case{}, err
	}
	return cs[0], nil
}

func (s *Service) getCase(c *gin.Context) error {
	id, err := auth.PathID(c)
	if err != nil {
		return err
	}
	out, err := s.caseByID(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// withNotes fills the cases' histories.
func (s *Service) withNotes(ctx context.Context, cs []Case) error {
	if len(cs) == 0 {
		return nil
	}
	ids := make([]any, len(cs))
	at := map[int64]int{}
	for i := range cs {
		ids[i], at[cs[i].ID] = cs[i].ID, i
		cs[i].Notes = []Note{}
	}
	rows, err := s.db.QueryxContext(ctx, database.ExpandIn(Queries.Get("notes-of"), len(ids)), ids...)
	if err != nil {
		return database.Map(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n Note
		var caseID int64
		var insured sql.NullInt64
		if err := rows.Scan(&caseID, &n.Status, &n.Note, &insured, &n.CreatedBy, &n.CreatedAt); err != nil {
			return database.Map(err)
		}
		if insured.Valid {
			v := int(insured.Int64)
			n.InsuredCount = &v
		}
		cs[at[caseID]].Notes = append(cs[at[caseID]].Notes, n)
	}
	return database.Map(rows.Err())
}

// cases lists the cases, newest first: status=open (the default: referred and inspected), a
// single status, or all.
func (s *Service) cases(c *gin.Context) error {
	var statuses []any
	switch v := c.DefaultQuery("status", "open"); v {
	case "open":
		statuses = []any{StatusReferred, StatusInspected}
	case "all":
		statuses = []any{StatusReferred, StatusInspected, StatusResolved}
	case StatusReferred, StatusInspected, StatusResolved:
		statuses = []any{v}
	default:
		return errs.Field(errs.InvalidInput, "status", "状态须为 open、all、referred、inspected 或 resolved")
	}
	page, err := web.ParsePage(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	var total int
	if err := s.db.GetContext(ctx, &total, database.ExpandIn(Queries.Get("cases-count"), len(statuses)), statuses...); err != nil {
		return database.Map(err)
	}
	var cs []Case
	if err := s.db.SelectContext(ctx, &cs, database.ExpandIn(Queries.Get("cases-page"), len(statuses)),
		append(statuses, page.Size, page.Offset())...); err != nil {
		return database.Map(err)
	}
	if err := s.withNotes(ctx, cs); err != nil {
		return err
	}
	c.JSON(http.StatusOK, web.NewList(cs, total))
	return nil
}
