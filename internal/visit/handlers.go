package visit

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/web"
	"github.com/canbao/canbao/internal/targetage"
)

// PhoneDecrypter opens a resident's stored phone (the PII keyring) so that the task list can
// show it masked; the clear number never leaves the handler.
type PhoneDecrypter interface {
	DecryptRow(ct []byte, keyID, aad string, rowID int64) (string, error)
}

// Routes registers the visit and task-list endpoints; the POST honours Idempotency-Key.
func (s *Service) Routes(r *auth.Router) {
	r.Handle(http.MethodPost, "/api/v1/admin/visits", auth.Allow(auth.RoleVolunteer), r.Idempotent(), web.H(s.post))
	r.Handle(http.MethodGet, "/api/v1/admin/visits",
		auth.Allow(auth.RoleVolunteer, auth.RoleVillageAdmin, auth.RoleStaff, auth.RoleAdmin), web.H(s.list))
	r.Handle(http.MethodGet, "/api/v1/admin/visit-tasks", auth.Allow(auth.RoleVolunteer, auth.RoleVillageAdmin),
		web.H(func(c *gin.Context) error { return s.tasks(c, s.kr) }))
}

func (s *Service) post(c *gin.Context) error {
	if ct := c.GetHeader("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errs.New(errs.UnsupportedMediaType, "请求内容须为 JSON（Content-Type: application/json）")
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		return web.DecodeReader(errReader{err}, nil)
	}
	inputs, batch, err := DecodeBody(body)
	if err != nil {
		return err
	}
	p := auth.MustPrincipal(c)
	res, err := s.Record(c.Request.Context(), auth.AuditContext(c), p, inputs, batch)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Created > 0 {
		status = http.StatusCreated
	}
	if !batch {
		c.JSON(status, res.Visits[0])
		return nil
	}
	c.JSON(status, web.NewList(res.Visits, len(res.Visits)))
	return nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func (s *Service) list(c *gin.Context) error {
	p := auth.MustPrincipal(c)
	page, err := web.ParsePage(c)
	if err != nil {
		return err
	}
	village, err := p.VillageFilter(c.Query("village"))
	if err != nil {
		return err
	}
	conds, args := []string{"1=1"}, []any{}
	if village != "" {
		conds, args = append(conds, "village_code = ?"), append(args, village)
	}
	if p.Role == auth.RoleVolunteer {
		conds, args = append(conds, "volunteer_id = ?"), append(args, p.ID)
	}
	if v := c.Query("from"); v != "" {
		d, err := web.ParseDate(v, "from")
		if err != nil {
			return err
		}
		conds, args = append(conds, "visited_at >= ?"), append(args, dayStart(d, s.loc))
	}
	if v := c.Query("to"); v != "" {
		d, err := web.ParseDate(v, "to")
		if err != nil {
			return err
		}
		conds, args = append(conds, "visited_at < ?"), append(args, dayStart(d.AddDate(0, 0, 1), s.loc))
	}
	if v := c.Query("resident_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return errs.Field(errs.InvalidInput, "resident_id", "resident_id 须为正整数")
		}
		conds, args = append(conds, "resident_id = ?"), append(args, id)
	}
	where := strings.Join(conds, " AND ")
	ctx := c.Request.Context()
	var total int
	if err := s.db.GetContext(ctx, &total, "SELECT COUNT(*) FROM visits WHERE "+where, args...); err != nil {
		return database.Map(err)
	}
	var rows []Visit
	if err := s.db.SelectContext(ctx, &rows, "SELECT "+visitColumns+" FROM visits WHERE "+where+
		" ORDER BY visited_at DESC, id DESC LIMIT ? OFFSET ?", append(args, page.Size, page.Offset())...); err != nil {
		return database.Map(err)
	}
	for i := range rows {
		rows[i].fill()
	}
	c.JSON(http.StatusOK, web.NewList(rows, total))
	return nil
}

// dayStart is 00:00 of civil date d in loc, in UTC.
func dayStart(d time.Time, loc *time.Location) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc).UTC()
}

// Task is one entry of a volunteer's list.
type Task struct {
	ResidentID  int64   `json:"resident_id"`
	Name        string  `json:"name"`
	Gender      string  `json:"gender"`
	Age         int     `json:"age"`
	PhoneMasked *string `json:"phone_masked"`
	// Kind: follow_up (a promised return visit is due), campaign (reminders went unanswered),
	// not_visited (never visited yet).
	Kind        string     `json:"kind"`
	DueOn       *string    `json:"due_on"`
	Note        string     `json:"note"`
	LastVisitAt *time.Time `json:"last_visited_at"`
}

// TaskPage is a page of a volunteer's task list.
type TaskPage struct {
	web.List[Task]
	// ExcludedOutOfAge counts the people the list would hold were they 16-59 today.
	ExcludedOutOfAge int `json:"excluded_out_of_age"`
}

func (s *Service) tasks(c *gin.Context, kr PhoneDecrypter) error {
	p := auth.MustPrincipal(c)
	page, err := web.ParsePage(c)
	if err != nil {
		return err
	}
	out, err := s.TaskList(c.Request.Context(), p.Village, page, kr)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// TaskList lists the unenrolled people of a village aged 16-59 today worth visiting, most
// urgent first: follow-ups due (oldest first), then open campaign tasks, then people never
// visited (older people first: most of them can join the resident pension right at the
// village). It counts the people it leaves out for their age.
func (s *Service) TaskList(ctx context.Context, village string, page web.Page, kr PhoneDecrypter) (TaskPage, error) {
	today := web.Today(s.now(), s.loc)
	// Only the target group (16-59 today) is visited; the others are counted, not listed.
	earliest, latest := targetage.Range(today)
	const pending = `FROM residents r LEFT JOIN visit_tasks t ON t.open_slot = r.id
		WHERE r.village_code = ? AND r.status = 'unenrolled'
		  AND (r.follow_up_on <= ? OR t.id IS NOT NULL OR r.last_visited_at IS NULL)`
	const from = pending + ` AND r.birth_date BETWEEN ? AND ?`
	var counts struct {
		All    int `db:"all_"`
		Target int `db:"target"`
	}
	if err := s.db.GetContext(ctx, &counts, `SELECT COUNT(*) AS all_, COALESCE(SUM(r.birth_date BETWEEN ? AND ?), 0) AS target `+pending,
		earliest, latest, village, today); err != nil {
		return TaskPage{}, database.Map(err)
	}
	total := counts.Target
	var rows []struct {
		ID        int64          `db:"id"`
		Name      string         `db:"name"`
		Gender    string         `db:"gender"`
		Birth     time.Time      `db:"birth_date"`
		PhoneEnc  []byte         `db:"phone_enc"`
		KeyID     string         `db:"pii_key_id"`
		FollowUp  sql.NullTime   `db:"follow_up_on"`
		LastVisit sql.NullTime   `db:"last_visited_at"`
		TaskDue   sql.NullTime   `db:"due_on"`
		TaskNote  sql.NullString `db:"note"`
		Priority  int            `db:"priority"`
	}
	q := `SELECT r.id, r.name, r.gender, r.birth_date, r.phone_enc, r.pii_key_id, r.follow_up_on, r.last_visited_at, t.due_on, t.note,
		CASE WHEN r.follow_up_on <= ? THEN 1 WHEN t.id IS NOT NULL THEN 2 ELSE 3 END AS priority ` + from + `
		ORDER BY priority, COALESCE(r.follow_up_on, t.due_on), r.birth_date, r.id LIMIT ? OFFSET ?`
	if err := s.db.SelectContext(ctx, &rows, q, today, village, today, earliest, latest, page.Size, page.Offset()); err != nil {
		return TaskPage{}, database.Map(err)
	}
	items := make([]Task, len(rows))
	for i, r := range rows {
		t := Task{ResidentID: r.ID, Name: r.Name, Gender: r.Gender, Age: idcard.AgeOn(r.Birth, today)}
		if len(r.PhoneEnc) > 0 {
			ph, err := kr.DecryptRow(r.PhoneEnc, r.KeyID, pii.AADResidentPhone, r.ID)
			if err != nil {
				return TaskPage{}, err // a phone that cannot be decrypted is an error, not a missing phone
			}
			m := pii.MaskPhone(ph)
			t.PhoneMasked = &m
		}
		switch r.Priority {
		case 1:
			t.Kind = "follow_up"
			d := r.FollowUp.Time.Format(time.DateOnly)
			t.DueOn, t.Note = &d, "约定的回访日期已到"
		case 2:
			t.Kind = "campaign"
			d := r.TaskDue.Time.Format(time.DateOnly)
			t.DueOn, t.Note = &d, r.TaskNote.String
		default:
			t.Kind = "not_visited"
		}
		if r.LastVisit.Valid {
			lv := r.LastVisit.Time
			t.LastVisitAt = &lv
		}
		items[i] = t
	}
	return TaskPage{List: web.NewList(items, total), ExcludedOutOfAge: counts.All - counts.Target}, nil
}
