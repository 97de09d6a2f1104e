// Package registration is residents' self-registration for a pension scheme with a
// contribution tier, and the village admins' review of it. A confirmed registration is a new
// enrollment.
package registration

import (
	"context"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/go-redis/redis_rate/v10"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/internal/account"
	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/eligibility"
	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/person"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/ratelimit"
	"github.com/canbao/canbao/internal/platform/web"
	"github.com/canbao/canbao/internal/roster"
	"github.com/canbao/canbao/internal/rules"
	"github.com/canbao/canbao/internal/village"
)

//go:embed queries.sql
var queryFS embed.FS

// Queries are the package's named SQL, checked against the server at start-up.
var Queries = database.RegisterQueries("registration", queryFS, "queries.sql")

// Statuses of a registration.
const (
	StatusSubmitted = "submitted" // resident pension, waiting for the village admin
	StatusReferred  = "referred"  // employee pension, carried out by the city centre or employer
	StatusConfirmed = "confirmed"
	StatusRejected  = "rejected"
)

// Error codes of this area.
var (
	codeAlreadyEnrolled = errs.Register("ALREADY_ENROLLED", 409)
	codeNotOpen         = errs.Register("REGISTRATION_NOT_OPEN", 409)
	// A person on the roster registers in the roster's village only.
	codeVillageMismatch = errs.Register("VILLAGE_MISMATCH", 422)
	// A person on the roster registers under the roster's name only.
	codeIdentityMismatch = errs.Register("IDENTITY_MISMATCH", 422)
)

// Limits against abuse (docs/SECURITY.md, "Rate limits").
const (
	registrationsPerHour   = 10
	distinctIDsPerDay      = 3
	distinctIDsKeyLifetime = 48 * time.Hour
)

// Service registers residents and lets village admins decide.
type Service struct {
	db       *sqlx.DB
	rdb      redis.UniversalClient
	prefix   string
	kr       *pii.Keyring
	book     *rules.Book
	loc      *time.Location
	limiter  *ratelimit.Limiter
	audit    *audit.Log
	enr      *enrollment.Recorder
	villages *village.Store
	batch    *batcher
	privacy  string
	now      func() time.Time
}

// Deps wires the service.
type Deps struct {
	DB                   *sqlx.DB
	Redis                redis.UniversalClient
	Prefix               string
	Keyring              *pii.Keyring
	Rules                *rules.Book
	Location             *time.Location
	Limiter              *ratelimit.Limiter
	Audit                *audit.Log
	Enrollment           *enrollment.Recorder
	Villages             *village.Store // nil: one reading MySQL
	PrivacyNoticeVersion string
}

// timeNow is where services read the time; tests replace it (export_test.go).
var timeNow = time.Now

// NewService builds the service.
func NewService(d Deps) *Service {
	if d.Villages == nil {
		d.Villages = village.NewStore(d.DB)
	}
	return &Service{db: d.DB, rdb: d.Redis, prefix: d.Prefix, kr: d.Keyring, book: d.Rules, loc: d.Location,
		limiter: d.Limiter, audit: d.Audit, enr: d.Enrollment, villages: d.Villages, batch: newBatcher(d.DB, d.Audit), privacy: d.PrivacyNoticeVersion,
		now: func() time.Time { return timeNow() }}
}

// Request is a resident's registration as submitted.
type Request struct {
	Name                 *string `json:"name"`
	IDNumber             *string `json:"id_number"`
	Phone                *string `json:"phone"`
	VillageCode          *string `json:"village_code"`
	Employed             *bool   `json:"employed"`
	LandExpropriated     *bool   `json:"land_expropriated"`
	Scheme               *string `json:"scheme"`
	Tier                 *int    `json:"tier"`
	PrivacyNoticeVersion *string `json:"privacy_notice_version"`
	EmployerName         *string `json:"employer_name"`
	EmployerCreditCode   *string `json:"employer_credit_code"`
}

// Referral tells a resident where an employee-pension registration is carried out.
type Referral struct {
	RegisterAt string   `json:"register_at"`
	Office     string   `json:"office"`
	Documents  []string `json:"documents"`
	Note       string   `json:"note"`
}

// Receipt is the answer to a registration.
type Receipt struct {
	ID             int64     `json:"id"`
	Status         string    `json:"status"`
	Referral       *Referral `json:"referral,omitempty"`
	Scheme         string    `json:"scheme"`
	Tier           *int      `json:"tier"`
	RegisterAt     string    `json:"register_at"`
	IDNumberMasked string    `json:"id_number_masked"`
	CreatedAt      time.Time `json:"created_at"`
}

var phonePattern = regexp.MustCompile(`^1[3-9]\d{9}$`)

// validated is a request that passed every check.
type validated struct {
	name, idNumber, phone, village string
	employed, land                 bool
	option                         eligibility.Option
	tier                           *int
	privacy                        string
	year                           int
	person                         eligibility.Person
	employerName, employerCode     sql.NullString
}

func (s *Service) validate(ctx context.Context, req Request) (validated, error) {
	var v validated
	today := web.Today(s.now(), s.loc)
	v.year = today.Year()
	if req.Name != nil {
		v.name = strings.TrimSpace(foldName(*req.Name))
	}
	if !person.ValidName(v.name) {
		return v, errs.Field(errs.NameInvalid, "name", "姓名须为 1 至 30 个字，不能包含数字或特殊符号")
	}
	if req.IDNumber == nil {
		return v, errs.Field(errs.IDNumberInvalid, "id_number", "请填写身份证号码")
	}
	if req.Phone == nil || !phonePattern.MatchString(*req.Phone) {
		return v, errs.Field(errs.PhoneInvalid, "phone", "手机号码应为 11 位数字，以 1 开头")
	}
	v.phone = *req.Phone
	if req.VillageCode == nil || *req.VillageCode == "" || len(*req.VillageCode) > 32 {
		return v, errs.Field(errs.VillageUnknown, "village_code", "请选择所在村（居）")
	}
	known, err := s.villages.Exists(ctx, *req.VillageCode)
	if err != nil {
		return v, err
	}
	if !known {
		return v, errs.Field(errs.VillageUnknown, "village_code", "所选村（居）不存在")
	}
	v.village = *req.VillageCode
	if v.employerName, v.employerCode, err = person.Employer(req.EmployerName, req.EmployerCreditCode, "employer_name", "employer_credit_code"); err != nil {
		return v, err
	}
	if (v.employerName.Valid || v.employerCode.Valid) && req.Employed != nil && !*req.Employed {
		return v, errs.Field(errs.InvalidInput, "employed", "填写了工作单位的，请选择“已就业”")
	}
	person, err := eligibility.PersonFrom(req.IDNumber, nil, nil, req.Employed, req.LandExpropriated, today)
	if err != nil {
		return v, err
	}
	id, _ := eligibility.ParseID(*req.IDNumber, today) // valid: PersonFrom checked it
	v.idNumber, v.person, v.employed, v.land = id.Number, person, person.Employed, person.LandExpropriated
	if req.Scheme == nil || (*req.Scheme != eligibility.ResidentPension && *req.Scheme != eligibility.EmployeePension) {
		return v, errs.Field(errs.InvalidInput, "scheme", "请选择参保险种：城乡居民基本养老保险或企业职工基本养老保险")
	}
	y, err := s.book.For(v.year)
	if err != nil {
		return v, errs.Internalf("no policy for %d: %w", v.year, err)
	}
	if *req.Scheme == eligibility.ResidentPension {
		if req.Tier == nil {
			return v, errs.Field(errs.TierInvalid, "tier", "请选择缴费档次")
		}
		if _, ok := y.Tier(*req.Tier); !ok {
			return v, errs.Field(errs.TierInvalid, "tier", fmt.Sprintf("%d 元不是 %d 年度的缴费档次", *req.Tier, v.year))
		}
		v.tier = req.Tier
	} else if req.Tier != nil {
		return v, errs.Field(errs.TierInvalid, "tier", "企业职工基本养老保险不在此选择缴费档次")
	}
	v.privacy = s.privacy
	if req.PrivacyNoticeVersion != nil {
		pv := *req.PrivacyNoticeVersion
		if pv == "" || len(pv) > 32 || strings.ContainsFunc(pv, unicode.IsControl) {
			return v, errs.Field(errs.InvalidInput, "privacy_notice_version", "隐私告知版本号不正确")
		}
		v.privacy = pv
	}
	res, err := eligibility.Evaluate(y, person, today)
	if err != nil {
		return v, err
	}
	opt, ok := res.OptionFor(*req.Scheme)
	if !ok {
		return v, &errs.Error{Code: errs.SchemeNotAllowed, Field: "scheme",
			Message: "根据您的情况，不能选择该险种。" + res.Reason}
	}
	v.option = opt
	return v, nil
}

// Register records a resident's registration. The same person can hold one open or confirmed
// registration a year; a person already insured is told so.
func (s *Service) Register(ctx context.Context, actx audit.Context, accountID int64, req Request) (Receipt, error) {
	v, err := s.validate(ctx, req)
	if err != nil {
		return Receipt{}, err
	}
	idIndex := s.kr.BlindIndex(pii.IndexIDNumber, v.idNumber)
	if err := s.limit(ctx, accountID, idIndex); err != nil {
		return Receipt{}, err
	}
	idEnc, keyID, err := s.kr.Encrypt(v.idNumber, pii.AADRegistrationIDNumber)
	if err != nil {
		return Receipt{}, err
	}
	phoneEnc, _, err := s.kr.Encrypt(v.phone, pii.AADRegistrationPhone)
	if err != nil {
		return Receipt{}, err
	}
	status := StatusSubmitted
	if v.option.Scheme == eligibility.EmployeePension {
		status = StatusReferred
	}
	now := database.Now()
	// Most registrants are on the roster: find them with a plain read before the transaction.
	var known rosterIdentity
	if err := s.db.GetContext(ctx, &known, Queries.Get("resident-find-by-id-number"), idIndex); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Receipt{}, database.Map(err)
	}
	if known.ID != 0 {
		if err := v.matches(known); err != nil {
			return Receipt{}, err
		}
	}
	row := Row{AccountID: accountID, Year: v.year, Name: v.name,
		IDEnc: idEnc, PhoneEnc: phoneEnc, KeyID: keyID, Village: v.village, Employed: v.employed, Land: v.land,
		Scheme: v.option.Scheme, Channel: v.option.Channel, RegisterAt: v.option.RegisterAt,
		Tier: v.tier, Status: status, Privacy: v.privacy, At: now, EmployerName: v.employerName, EmployerCode: v.employerCode}
	event := func(id int64) audit.Event {
		return actx.Event("registration.create", "registration", id, audit.Success, "scheme="+v.option.Scheme)
	}
	// alone stores the registration in the caller's transaction (the path of a person not on
	// the roster, and of a group commit's registration that could not share it).
	alone := func(ctx context.Context, tx *sqlx.Tx) (int64, error) {
		residentID, err := s.findOrAddResident(ctx, tx, v, idIndex, known.ID, now)
		if err != nil {
			return 0, err
		}
		r := row
		r.ResidentID = residentID
		// The unique key (year, active_resident_id) refuses a second open registration.
		id, err := Insert(ctx, tx, r)
		if database.IsDuplicate(err) {
			return 0, errs.New(errs.AlreadyRegistered, "您今年已提交过参保登记，请勿重复提交。可在“我的登记”中查看办理进度。")
		}
		if err != nil {
			return 0, database.Map(err)
		}
		if err := account.LinkPerson(ctx, tx, accountID, residentID); err != nil {
			return 0, database.Map(err)
		}
		if err := s.audit.RecordTx(ctx, tx, event(id)); err != nil {
			return 0, err
		}
		return id, nil
	}
	var id int64
	if known.ID != 0 && batching {
		// A person on the roster (the common case): shared with concurrent registrations (batch.go).
		row.ResidentID = known.ID
		id, err = s.batch.run(&job{ctx: ctx, row: row, event: event, alone: alone})
	} else {
		err = database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
			var err error
			id, err = alone(ctx, tx)
			return err
		})
	}
	if err != nil {
		return Receipt{}, err
	}
	rcpt := Receipt{ID: id, Status: status, Scheme: v.option.Scheme, Tier: v.tier, RegisterAt: v.option.RegisterAt,
		IDNumberMasked: pii.MaskID(v.idNumber), CreatedAt: now}
	if status == StatusReferred {
		rcpt.Referral = referralFor(v.option)
	}
	return rcpt, nil
}

func ratelimitPerHour(n int) redis_rate.Limit {
	return redis_rate.Limit{Rate: n, Burst: n, Period: time.Hour}
}

// rosterIdentity is what a registration compares with the roster.
type rosterIdentity struct {
	ID      int64  `db:"id"`
	Village string `db:"village_code"`
	Status  string `db:"status"`
	Name    string `db:"name"`
}

// findOrAddResident returns the person of the ID number, adding them to the roster when they
// are not on it. knownID is the person a plain read found before the transaction (0: none),
// already compared with the request (validated.matches): that row is not locked. Nothing a
// registration decides depends on the row staying as read: the unique key (year,
// active_resident_id) refuses a second open registration, and a person the roster shows
// insured by the time of the review is one of the review's warnings. Otherwise it inserts first
// and locks the existing row only on a duplicate (a locking read of a missing key would take a
// gap lock, and two such registrations deadlock).
//
// A registration never changes what the roster says about a person. A person on the roster
// registers in the roster's village and under the roster's name, or not at all: that is what
// stops an account from registering somebody else's ID number under a made-up name. A person
// not on the roster is added with the name and village given, unenrolled and without a phone
// (source 'registration'); the row counts for nothing until a staff member confirms the
// registration, and the phone reaches the roster only then (see fillPhone).
func (s *Service) findOrAddResident(ctx context.Context, tx *sqlx.Tx, v validated, idIndex []byte, knownID int64, now time.Time) (int64, error) {
	if knownID != 0 {
		return knownID, nil
	}
	idEnc, keyID, err := s.kr.Encrypt(v.idNumber, pii.AADResidentIDNumber)
	if err != nil {
		return 0, err
	}
	id, err := roster.AddFromRegistration(ctx, tx, roster.Registrant{IDEnc: idEnc, IDBidx: idIndex, KeyID: keyID, Name: v.name,
		Gender: string(v.person.Gender), Birth: v.person.Birth, Village: v.village, Employed: v.employed, Land: v.land,
		EmployerName: v.employerName, EmployerCode: v.employerCode}, now)
	if err == nil {
		return id, nil
	}
	if !database.IsDuplicate(err) {
		return 0, database.Map(err)
	}
	var r rosterIdentity
	if err := tx.GetContext(ctx, &r, Queries.Get("resident-by-id-number"), idIndex); err != nil {
		return 0, database.Map(err)
	}
	if err := v.matches(r); err != nil {
		return 0, err
	}
	return r.ID, nil
}

// matches checks a request against the roster's person. Identity first, so that only someone
// who knows the person's name and village learns whether the roster shows them insured. The
// messages do not say what the roster holds.
func (v validated) matches(r rosterIdentity) error {
	if r.Village != v.village {
		return errs.Field(codeVillageMismatch, "village_code",
			"您选择的村（居）与花名册登记的不一致，请选择本人户籍所在村（居）。如有疑问，请携带本人身份证到所在村（居）委会咨询。")
	}
	if !sameName(r.Name, v.name) {
		return errs.Field(codeIdentityMismatch, "name",
			"您填写的姓名与花名册登记信息不一致，请携带本人身份证到所在村（居）委会办理参保登记。")
	}
	if r.Status == eligibility.ResidentPension || r.Status == eligibility.EmployeePension {
		return errs.New(codeAlreadyEnrolled, "系统显示您已参加基本养老保险，无需重复登记。如有疑问，请咨询所在村（居）委会。")
	}
	return nil
}

// limit spends one of the account's registrations an hour and allows it a few distinct ID
// numbers a day, so nobody can probe who is insured, in one Redis round trip. The set holds
// blind-index prefixes, never ID numbers; a member that would push it over the limit is not
// kept.
func (s *Service) limit(ctx context.Context, accountID int64, idIndex []byte) error {
	day := s.now().In(s.loc).Format("20060102")
	refusal := errs.New(errs.RateLimited, "今日提交的身份证号码过多，请明天再试。如需帮助，请联系所在村（居）委会。")
	refusal.RetryAfter = time.Hour
	return s.limiter.AllowDistinct(ctx, "registration", fmt.Sprint(accountID), ratelimitPerHour(registrationsPerHour),
		ratelimit.Distinct{Key: s.prefix + "regids:" + ratelimit.Tag("registration", fmt.Sprint(accountID)) + ":" + day, Member: hex.EncodeToString(idIndex[:12]),
			Max: distinctIDsPerDay, KeyLifetime: distinctIDsKeyLifetime, Refusal: refusal})
}

// referralFor says where an employee-pension registration is carried out and what to bring.
func referralFor(o eligibility.Option) *Referral {
	if o.RegisterAt == eligibility.AtEmployer {
		return &Referral{
			RegisterAt: o.RegisterAt,
			Office:     "您的用人单位（人事或财务部门）",
			Documents:  []string{"居民身份证"},
			Note:       "已就业人员由用人单位办理企业职工基本养老保险参保登记。请将本登记回执告知单位；参保后将计入本村（居）扩面完成情况。",
		}
	}
	return &Referral{
		RegisterAt: o.RegisterAt,
		Office:     "南安市社会保险管理中心",
		Documents:  []string{"居民身份证原件", "户口簿", "本人银行卡或社保卡（用于缴费）"},
		Note:       "以灵活就业人员身份参加企业职工基本养老保险，须本人到南安市社会保险管理中心办理参保登记。办理完成后，系统将根据社保中心反馈更新您的登记状态。",
	}
}

// maskedID decrypts a registration's ID number only to mask it; failing to decrypt it is an
// error naming the row, never a placeholder.
func (s *Service) maskedID(enc []byte, keyID string, rowID int64) (string, error) {
	id, err := s.kr.DecryptRow(enc, keyID, pii.AADRegistrationIDNumber, rowID)
	if err != nil {
		return "", err
	}
	return pii.MaskID(id), nil
}

func (s *Service) maskedPhone(enc []byte, keyID string, rowID int64) (string, error) {
	p, err := s.kr.DecryptRow(enc, keyID, pii.AADRegistrationPhone, rowID)
	if err != nil {
		return "", err
	}
	return pii.MaskPhone(p), nil
}
