package visit

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/pii"
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
	f, err := s.parseListFilter(c, p)
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

// parseListFilter reads the visit list's filters (api/openapi.yaml, GET /api/v1/admin/visits):
// village-bound staff see their own village, a volunteer only the visits they made.
func (s *Service) parseListFilter(c *gin.Context, p *auth.Principal) (ListFilter, error) {
	var f ListFilter
	var err error
	if f.Village, err = p.VillageFilter(c.Query("village")); err != nil {
		return f, err
	}
	if p.Role == auth.RoleVolunteer {
		f.Volunteer = p.ID
	}
	if v := c.Query("from"); v != "" {
		d, err := web.ParseDate(v, "from")
		if err != nil {
			return f, err
		}
		f.From = dayStart(d, s.loc)
	}
	if v := c.Query("to"); v != "" {
		d, err := web.ParseDate(v, "to")
		if err != nil {
			return f, err
		}
		f.Before = dayStart(d.AddDate(0, 0, 1), s.loc)
	}
	if v := c.Query("resident_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return f, errs.Field(errs.InvalidInput, "resident_id", "resident_id 须为正整数")
		}
		f.Resident = id
	}
	return f, nil
}

// dayStart is 00:00 of civil date d in loc, in UTC.
func dayStart(d time.Time, loc *time.Location) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc).UTC()
}

// Kinds of a task-list entry (the kind of VisitTask in api/openapi.yaml).
const (
	KindFollowUp   = "follow_up"   // a promised return visit is due
	KindCampaign   = "campaign"    // reminders went unanswered
	KindNotVisited = "not_visited" // never visited yet
)

// Task is one entry of a volunteer's list.
type Task struct {
	ResidentID  int64   `json:"resident_id"`
	Name        string  `json:"name"`
	Gender      string  `json:"gender"`
	Age         int     `json:"age"`
	PhoneMasked *string `json:"phone_masked"`
	// Kind is KindFollowUp, KindCampaign or KindNotVisited.
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
	counts, rows, err := s.taskRows(ctx, village, today, earliest, latest, page)
	if err != nil {
		return TaskPage{}, err
	}
	total := counts.Target
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
			t.Kind = KindFollowUp
			d := r.FollowUp.Time.Format(time.DateOnly)
			t.DueOn, t.Note = &d, "约定的回访日期已到"
		case 2:
			t.Kind = KindCampaign
			d := r.TaskDue.Time.Format(time.DateOnly)
			t.DueOn, t.Note = &d, r.TaskNote.String
		default:
			t.Kind = KindNotVisited
		}
		if r.LastVisit.Valid {
			lv := r.LastVisit.Time
			t.LastVisitAt = &lv
		}
		items[i] = t
	}
	return TaskPage{List: web.NewList(items, total), ExcludedOutOfAge: counts.All - counts.Target}, nil
}
