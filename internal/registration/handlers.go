package registration

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/web"
	"github.com/canbao/canbao/internal/roster"
)

// Routes registers the resident and village admin endpoints and the handover to the city
// (handoverRoutes); the resident's POST honours Idempotency-Key.
func (s *Service) Routes(r *auth.Router) {
	resident := auth.Allow(auth.RoleResident)
	reviewers := auth.Allow(auth.RoleVillageAdmin, auth.RoleAdmin)
	r.Handle(http.MethodPost, "/api/v1/registrations", resident, r.Idempotent(), web.H(s.create))
	r.Handle(http.MethodGet, "/api/v1/registrations/mine", resident, web.H(s.mine))
	r.Handle(http.MethodGet, "/api/v1/admin/registrations", reviewers, web.H(s.adminList))
	r.Handle(http.MethodPost, "/api/v1/admin/registrations/:id/confirm", reviewers, web.H(s.confirm))
	r.Handle(http.MethodPost, "/api/v1/admin/registrations/:id/reject", reviewers, web.H(s.reject))
	s.handoverRoutes(r)
}

func (s *Service) create(c *gin.Context) error {
	var req Request
	if err := web.Decode(c, &req); err != nil {
		return err
	}
	p := auth.MustPrincipal(c)
	rcpt, err := s.Register(c.Request.Context(), auth.AuditContext(c), p.ID, req)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, rcpt)
	return nil
}

// row is a registration as stored.
type row struct {
	ID               int64          `db:"id"`
	AccountID        int64          `db:"account_id"`
	ResidentID       int64          `db:"resident_id"`
	Year             int            `db:"year"`
	Name             string         `db:"name"`
	IDNumberEnc      []byte         `db:"id_number_enc"`
	PhoneEnc         []byte         `db:"phone_enc"`
	KeyID            string         `db:"pii_key_id"`
	VillageCode      string         `db:"village_code"`
	Employed         bool           `db:"employed"`
	LandExpropriated bool           `db:"land_expropriated"`
	Scheme           string         `db:"scheme"`
	Channel          string         `db:"channel"`
	RegisterAt       string         `db:"register_at"`
	Tier             sql.NullInt64  `db:"tier"`
	Status           string         `db:"status"`
	Privacy          string         `db:"privacy_notice_version"`
	RejectReason     sql.NullString `db:"reject_reason"`
	DecidedAt        sql.NullTime   `db:"decided_at"`
	CreatedAt        time.Time      `db:"created_at"`
	UpdatedAt        time.Time      `db:"updated_at"`
	EmployerName     sql.NullString `db:"employer_name"`
	EmployerCode     sql.NullString `db:"employer_credit_code"`
}

// View is a registration as residents and village admins see it: personal data masked.
type View struct {
	ID               int64      `json:"id"`
	Status           string     `json:"status"`
	Scheme           string     `json:"scheme"`
	Tier             *int64     `json:"tier"`
	RegisterAt       string     `json:"register_at"`
	VillageCode      string     `json:"village_code"`
	Name             string     `json:"name"`
	IDNumberMasked   string     `json:"id_number_masked"`
	PhoneMasked      string     `json:"phone_masked"`
	Employed         bool       `json:"employed"`
	LandExpropriated bool       `json:"land_expropriated"`
	Privacy          string     `json:"privacy_notice_version"`
	RejectReason     *string    `json:"reject_reason"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	DecidedAt        *time.Time `json:"decided_at"`
	// EmployerName and EmployerCreditCode: the employer the registrant named (null: none). A
	// registration keeps them for the review; the roster of a person already on it is not
	// changed by a registration.
	EmployerName       *string `json:"employer_name"`
	EmployerCreditCode *string `json:"employer_credit_code"`
}

func (s *Service) view(r row) (View, error) {
	idMasked, err := s.maskedID(r.IDNumberEnc, r.KeyID, r.ID)
	if err != nil {
		return View{}, err
	}
	phoneMasked, err := s.maskedPhone(r.PhoneEnc, r.KeyID, r.ID)
	if err != nil {
		return View{}, err
	}
	v := View{ID: r.ID, Status: r.Status, Scheme: r.Scheme, RegisterAt: r.RegisterAt, VillageCode: r.VillageCode,
		Name: r.Name, IDNumberMasked: idMasked, PhoneMasked: phoneMasked,
		Employed: r.Employed, LandExpropriated: r.LandExpropriated, Privacy: r.Privacy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.Tier.Valid {
		t := r.Tier.Int64
		v.Tier = &t
	}
	v.EmployerName, v.EmployerCreditCode = database.StringPtr(r.EmployerName), database.StringPtr(r.EmployerCode)
	if r.RejectReason.Valid {
		s := r.RejectReason.String
		v.RejectReason = &s
	}
	if r.DecidedAt.Valid {
		d := r.DecidedAt.Time
		v.DecidedAt = &d
	}
	return v, nil
}

func (s *Service) mine(c *gin.Context) error {
	page, err := web.ParsePage(c)
	if err != nil {
		return err
	}
	p := auth.MustPrincipal(c)
	rows, total, err := s.page(c.Request.Context(), "account_id = ?", []any{p.ID}, "created_at DESC, id DESC", page)
	if err != nil {
		return err
	}
	items := make([]View, len(rows))
	for i, r := range rows {
		if items[i], err = s.view(r); err != nil {
			return err
		}
	}
	c.JSON(http.StatusOK, web.NewList(items, total))
	return nil
}

var statuses = map[string]bool{StatusSubmitted: true, StatusReferred: true, StatusConfirmed: true, StatusRejected: true}

func (s *Service) adminList(c *gin.Context) error {
	page, err := web.ParsePage(c)
	if err != nil {
		return err
	}
	p := auth.MustPrincipal(c)
	village, err := p.VillageFilter(c.Query("village"))
	if err != nil {
		return err
	}
	where, args := []string{"1=1"}, []any{}
	if village != "" {
		// The person's village, as for confirm and reject: the queue holds what the admin may decide.
		where, args = append(where, "EXISTS (SELECT 1 FROM residents p WHERE p.id = registrations.resident_id AND p.village_code = ?)"), append(args, village)
	}
	if st := c.Query("status"); st != "" {
		if !statuses[st] {
			return errs.Field(errs.InvalidInput, "status", "状态须为 submitted、referred、confirmed 或 rejected")
		}
		where, args = append(where, "status = ?"), append(args, st)
	}
	// Open registrations first, oldest first: the queue a village admin works through.
	order := "CASE WHEN status = 'submitted' THEN 0 ELSE 1 END, created_at, id"
	rows, total, err := s.page(c.Request.Context(), strings.Join(where, " AND "), args, order, page)
	if err != nil {
		return err
	}
	items, err := s.reviews(c.Request.Context(), rows)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, web.NewList(items, total))
	return nil
}

type rejectRequest struct {
	Reason string `json:"reason"`
}

func (s *Service) confirm(c *gin.Context) error {
	id, err := auth.PathID(c)
	if err != nil {
		return err
	}
	v, err := s.decide(c, id, StatusConfirmed, "")
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, v)
	return nil
}

func (s *Service) reject(c *gin.Context) error {
	id, err := auth.PathID(c)
	if err != nil {
		return err
	}
	var req rejectRequest
	if err := web.Decode(c, &req); err != nil {
		return err
	}
	reason := strings.TrimSpace(req.Reason)
	if n := utf8.RuneCountInString(reason); n < 1 || n > 200 || strings.ContainsFunc(reason, unicode.IsControl) {
		return errs.Field(errs.InvalidInput, "reason", "请填写退回原因（200 字以内）")
	}
	v, err := s.decide(c, id, StatusRejected, reason)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, v)
	return nil
}

// decide confirms or rejects a submitted registration of a person of the caller's village: the
// village the roster puts the person in, not the one the registration names (they are equal
// when it is made, but an import may move the person since). Confirming makes the person
// insured and counts one new enrollment, once, on today's date. The answer is the review
// queue's item (decided, so without warnings).
func (s *Service) decide(c *gin.Context, id int64, to, reason string) (Review, error) {
	ctx := c.Request.Context()
	p := auth.MustPrincipal(c)
	now := database.Now()
	today := web.Today(s.now(), s.loc)
	var out row
	err := database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		r, err := lockRegistration(ctx, tx, id)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.ErrNotFoundPublic
		} else if err != nil {
			return err
		}
		village, err := residentVillage(ctx, tx, r.ResidentID)
		if err != nil {
			return err
		}
		if !p.CanSeeVillage(village) {
			return errs.ErrNotFoundPublic
		}
		if r.Status != StatusSubmitted {
			return errs.New(codeNotOpen, "该登记已处理，不能重复操作")
		}
		var active, rejectReason any
		if to == StatusConfirmed {
			active = r.ResidentID
		} else {
			rejectReason = reason
		}
		if err := decide(ctx, tx, id, to, active, rejectReason, p.ID, now); err != nil {
			return err
		}
		if to == StatusConfirmed {
			if err := s.enroll(ctx, tx, r, village, today, now); err != nil {
				return err
			}
		}
		action := "registration.confirm"
		if to == StatusRejected {
			action = "registration.reject"
		}
		if err := s.audit.RecordTx(ctx, tx, auth.AuditContext(c).Event(action, "registration", id, audit.Success, "")); err != nil {
			return err
		}
		return tx.GetContext(ctx, &out, Queries.Get("registration-by-id"), id)
	})
	if err != nil {
		return Review{}, err
	}
	rs, err := s.reviews(ctx, []row{out})
	if err != nil {
		return Review{}, err
	}
	return rs[0], nil
}

// enroll marks the person insured and records the new enrollment once. It runs when staff
// accept the registration (a village admin's confirmation, or the city centre's "processed"
// imported by an admin), and that is when the registration's phone may reach the roster.
// village is the one the roster puts the person in (residentVillage).
func (s *Service) enroll(ctx context.Context, tx *sqlx.Tx, r row, village string, today, now time.Time) error {
	if err := roster.SetStatus(ctx, tx, r.ResidentID, r.Scheme, today, now); err != nil {
		return database.Map(err)
	}
	if err := s.fillPhone(ctx, tx, r, now); err != nil {
		return err
	}
	_, err := s.enr.Record(ctx, tx, enrollment.Enrollment{ResidentID: r.ResidentID, Village: village, Scheme: r.Scheme,
		Source: enrollment.SourceRegistration, SourceID: r.ID, Day: today})
	return err
}

// fillPhone gives the person the registration's phone when the roster has none. The roster's
// name and village are never taken from a registration (a person on the roster registered under
// them), and a phone already on the roster is kept: replacing a contact number is a roster
// correction, made by an import, not a side effect of confirming an enrollment.
func (s *Service) fillPhone(ctx context.Context, tx *sqlx.Tx, r row, now time.Time) error {
	phone, err := s.kr.Decrypt(r.PhoneEnc, r.KeyID, pii.AADRegistrationPhone)
	if err != nil {
		return errs.Internalf("decrypt registration %d: %w", r.ID, err)
	}
	idNumber, err := s.kr.Decrypt(r.IDNumberEnc, r.KeyID, pii.AADRegistrationIDNumber)
	if err != nil {
		return errs.Internalf("decrypt registration %d: %w", r.ID, err)
	}
	phoneEnc, keyID, err := s.kr.Encrypt(phone, pii.AADResidentPhone)
	if err != nil {
		return err
	}
	idEnc, idKeyID, err := s.kr.Encrypt(idNumber, pii.AADResidentIDNumber)
	if err != nil {
		return err
	}
	if idKeyID != keyID {
		return errs.Internalf("registration %d: active key changed while sealing", r.ID)
	}
	return database.Map(roster.FillPhone(ctx, tx, r.ResidentID,
		roster.SealedPhone{IDEnc: idEnc, PhoneEnc: phoneEnc, PhoneBidx: s.kr.BlindIndex(pii.IndexPhone, phone), KeyID: keyID}, now))
}

// HasOpenRegistration reports whether an account has an open or confirmed registration this year.
func (s *Service) HasOpenRegistration(ctx context.Context, accountID int64) (bool, error) {
	var n int
	err := s.db.GetContext(ctx, &n, Queries.Get("has-open-registration"), accountID, web.Today(s.now(), s.loc).Year())
	return n > 0, database.Map(err)
}
