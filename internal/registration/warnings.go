package registration

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/eligibility"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/web"
	"github.com/canbao/canbao/internal/targetage"
)

// Review warnings: what the server knows about an open registration that should make the
// village admin look twice before confirming it (issue #12). A warning never blocks a
// decision; what must block one (another name or village than the roster's, a person the
// roster shows insured when registering) is refused when the registration is made.
const (
	// The ID number was not on the roster: the registration added the person.
	WarnNotOnRoster = "not_on_roster"
	// The roster shows the person insured, or not to be insured, since they registered.
	WarnInsuredOnRoster = "insured_on_roster"
	WarnExemptOnRoster  = "exempt_on_roster"
	// Employment differs: the roster says employed and the person chose the resident pension
	// (the mandatory employee pension is the employer's to arrange), or the other way round.
	WarnEmployedOnRoster = "employed_on_roster"
	// The roster has a phone for the person and the registration gives another.
	WarnPhoneDiffers = "phone_differs"
	// Open registrations of other people give the same phone (an agent registering many).
	WarnPhoneShared = "phone_shared"
	// The person turns 60 this year (or already has): the scheme's window closes.
	WarnAgeNearLimit = "age_near_limit"
)

// WarningCodes lists every warning code, as api/openapi.yaml's RegistrationWarning does.
var WarningCodes = []string{WarnNotOnRoster, WarnInsuredOnRoster, WarnExemptOnRoster, WarnEmployedOnRoster,
	WarnPhoneDiffers, WarnPhoneShared, WarnAgeNearLimit}

// Warning is one reason to look twice, with a message for staff.
type Warning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Review is a registration as its reviewers see it: the View and its warnings. Warnings is
// never null, and empty for a registration already decided.
type Review struct {
	View
	Warnings []Warning `json:"warnings"`
}

// sourceRegistration is residents.source of a person the roster got from a registration.
const sourceRegistration = "registration"

// open reports whether a registration still waits for a decision: the village admin's
// (submitted) or the city centre's (referred).
func open(status string) bool { return status == StatusSubmitted || status == StatusReferred }

// rosterPerson is what the roster says about a registration's person now.
type rosterPerson struct {
	ID        int64     `db:"id"`
	Source    string    `db:"source"`
	Status    string    `db:"status"`
	Employed  bool      `db:"employed"`
	Birth     time.Time `db:"birth_date"`
	PhoneEnc  []byte    `db:"phone_enc"`
	PhoneBidx []byte    `db:"phone_bidx"`
	KeyID     string    `db:"pii_key_id"`
}

// openPhone is the phone of an open registration.
type openPhone struct {
	ID         int64  `db:"id"`
	ResidentID int64  `db:"resident_id"`
	PhoneEnc   []byte `db:"phone_enc"`
	KeyID      string `db:"pii_key_id"`
}

var schemeShort = map[string]string{eligibility.ResidentPension: "城乡居民基本养老保险", eligibility.EmployeePension: "企业职工基本养老保险"}

// reviews returns the reviewers' views of rows with their warnings. Whatever the number of
// rows it reads the database twice, and only when some are open: the people of the open ones,
// and the phones of every open registration (they are encrypted under random nonces, so
// equal phones are found by decrypting them here).
func (s *Service) reviews(ctx context.Context, rows []row) ([]Review, error) {
	out := make([]Review, len(rows))
	var people []any
	for i, r := range rows {
		v, err := s.view(r)
		if err != nil {
			return nil, err
		}
		out[i] = Review{View: v, Warnings: []Warning{}}
		if open(r.Status) {
			people = append(people, r.ResidentID)
		}
	}
	if len(people) == 0 {
		return out, nil
	}
	q, args, err := sqlx.In(Queries.Get("residents-for-review"), people)
	if err != nil {
		return nil, err
	}
	var found []rosterPerson
	if err := s.db.SelectContext(ctx, &found, q, args...); err != nil {
		return nil, database.Map(err)
	}
	roster := make(map[int64]rosterPerson, len(found))
	for _, p := range found {
		roster[p.ID] = p
	}
	var phones []openPhone
	if err := s.db.SelectContext(ctx, &phones, Queries.Get("open-registration-phones")); err != nil {
		return nil, database.Map(err)
	}
	phoneOf := make(map[int64]string, len(phones))    // registration id -> phone
	peopleOf := make(map[string][]int64, len(phones)) // phone -> distinct people
	for _, p := range phones {
		phone, err := s.kr.DecryptRow(p.PhoneEnc, p.KeyID, pii.AADRegistrationPhone, p.ID)
		if err != nil {
			return nil, err
		}
		phoneOf[p.ID] = phone
		if ids := peopleOf[phone]; !slices.Contains(ids, p.ResidentID) {
			peopleOf[phone] = append(ids, p.ResidentID)
		}
	}
	today := web.Today(s.now(), s.loc)
	for i, r := range rows {
		if !open(r.Status) {
			continue
		}
		p, ok := roster[r.ResidentID]
		if !ok {
			return nil, fmt.Errorf("registration %d: person %d not on the roster", r.ID, r.ResidentID)
		}
		phone, ok := phoneOf[r.ID]
		if !ok { // decided between the two reads: decrypt it here
			if phone, err = s.kr.DecryptRow(r.PhoneEnc, r.KeyID, pii.AADRegistrationPhone, r.ID); err != nil {
				return nil, err
			}
		}
		ws, err := s.warningsOf(r, p, phone, peopleOf[phone], today)
		if err != nil {
			return nil, err
		}
		out[i].Warnings = ws
	}
	return out, nil
}

// warningsOf is the warnings of the open registration r of the person p, whose phone is phone,
// given the people of every open registration with that phone.
func (s *Service) warningsOf(r row, p rosterPerson, phone string, sharers []int64, today time.Time) ([]Warning, error) {
	ws := []Warning{}
	add := func(code, msg string) { ws = append(ws, Warning{Code: code, Message: msg}) }
	switch p.Status {
	case eligibility.ResidentPension, eligibility.EmployeePension:
		add(WarnInsuredOnRoster, fmt.Sprintf("花名册显示此人已参加%s（登记之后更新），确认后将改记为%s。请先核实参保情况，避免重复参保。",
			schemeShort[p.Status], schemeShort[r.Scheme]))
	case "exempt":
		add(WarnExemptOnRoster, "花名册记为“不需参保”（如已迁出、已去世、在校学生或服兵役），请核实本人情况后再确认。")
	}
	if p.Source == sourceRegistration {
		add(WarnNotOnRoster, "花名册中没有此身份证号码，此人是居民登记时新增的。请核对本人身份证和户口簿，确认户籍在本村（居）。")
	}
	switch {
	case p.Employed && r.Scheme == eligibility.ResidentPension:
		add(WarnEmployedOnRoster, "花名册显示此人已就业。已就业人员应由用人单位为其办理企业职工基本养老保险（强制性参保），请核实是否仍在职后再确认。")
	case r.Employed && !p.Employed:
		add(WarnEmployedOnRoster, "登记填写为已就业，但花名册显示未就业。请核实其就业单位，已就业人员应由用人单位办理企业职工基本养老保险。")
	}
	if p.PhoneBidx != nil && !bytes.Equal(p.PhoneBidx, s.kr.BlindIndex(pii.IndexPhone, phone)) {
		rosterPhone, err := s.kr.DecryptRow(p.PhoneEnc, p.KeyID, pii.AADResidentPhone, p.ID)
		if err != nil {
			return nil, err
		}
		add(WarnPhoneDiffers, fmt.Sprintf("登记的手机号码与花名册记录的 %s 不一致，请与本人核实联系方式。", pii.MaskPhone(rosterPhone)))
	}
	if others := len(sharers) - boolInt(slices.Contains(sharers, r.ResidentID)); others > 0 {
		add(WarnPhoneShared, fmt.Sprintf("同一手机号码还用于另外 %d 人的未办结登记，可能是他人代办。请与本人核实（家庭成员共用号码属正常情况）。", others))
	}
	// AgeOn counts a Feb 29 birthday on Mar 1 in common years; time.Date normalises the same way.
	limit := targetage.Max + 1
	by, bm, bd := p.Birth.Date()
	birthday := time.Date(by+limit, bm, bd, 0, 0, 0, 0, time.UTC)
	if birthday.Year() <= today.Year() {
		when := fmt.Sprintf("%d年%d月%d日", birthday.Year(), int(birthday.Month()), birthday.Day())
		if birthday.After(today) {
			add(WarnAgeNearLimit, fmt.Sprintf("本人将于%s年满 %d 周岁，届时不再属于参保扩面对象（%d 至 %d 周岁），请尽快办理并提醒本人按时缴费。",
				when, limit, targetage.Min, targetage.Max))
		} else {
			add(WarnAgeNearLimit, fmt.Sprintf("本人已于%s年满 %d 周岁，超出参保扩面对象年龄（%d 至 %d 周岁），请核实能否办理后再确认。",
				when, limit, targetage.Min, targetage.Max))
		}
	}
	return ws, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
