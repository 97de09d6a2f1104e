package roster

import (
	"context"
	"database/sql"
	"embed"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
)

//go:embed queries.sql
var queryFS embed.FS

// Queries are the package's named SQL, checked against the server at start-up.
var Queries = database.RegisterQueries("roster", queryFS, "queries.sql")

// The roster owns the writes of residents (docs/ARCHITECTURE.md, "Who writes which table"):
// the importer, registrations and visits change a person through the functions below, each
// inside the caller's transaction (ext is its *sqlx.Tx). They return the driver's errors as
// they are; the callers map them.

// Imported is a new person added to the roster in bulk (the demo seed's), their ID number
// and phone sealed.
type Imported struct {
	IDEnc, IDBidx []byte
	// PhoneEnc and PhoneBidx are nil for a person without a phone (stored as NULL).
	PhoneEnc, PhoneBidx []byte
	KeyID               string
	Name, Gender        string
	Birth               time.Time
	Village             string
	Employed, Land      bool
	Status              string
	// EmployerName and EmployerCode are the person's employer (NULL: none or unknown).
	EmployerName, EmployerCode sql.NullString
}

// InsertPeople adds people of the given source in one multi-row INSERT: the demo seed's
// synthetic roster, a batch at a time.
func InsertPeople(ctx context.Context, ext sqlx.ExecerContext, source string, people []Imported, now time.Time) error {
	args := make([]any, 0, len(people)*17)
	for _, p := range people {
		var phoneEnc, phoneBidx any // NULL without a phone
		if p.PhoneEnc != nil {
			phoneEnc, phoneBidx = p.PhoneEnc, p.PhoneBidx
		}
		args = append(args, p.IDEnc, p.IDBidx, phoneEnc, phoneBidx, p.KeyID, p.Name, p.Gender,
			p.Birth.Format(time.DateOnly), p.Village, p.Employed, p.Land, p.Status, source, now, now, p.EmployerName, p.EmployerCode)
	}
	_, err := ext.ExecContext(ctx, database.MultiRow(Queries.Get("insert-people"), len(people)), args...)
	return err
}

// ImportChange is what an import changes about a person already on the roster.
type ImportChange struct {
	ID             int64
	Name, Village  string
	Employed, Land bool
	Status         string
	// StatusChangedOn is the day the status changed, or the row's own value when it did not.
	StatusChangedOn any
	// NewPhone, when set, replaces the phone; the ID number comes sealed again under the same
	// key, so that the row's one pii_key_id fits both.
	NewPhone *SealedPhone
	// EmployerName and EmployerCode are the person's employer after the change (NULL when
	// unknown).
	EmployerName, EmployerCode sql.NullString
}

// SealedPhone is a new phone and the ID number sealed again with it.
type SealedPhone struct {
	IDEnc, PhoneEnc, PhoneBidx []byte
	KeyID                      string
}

// UpdateFromImport writes what an import's row changes about a person.
func UpdateFromImport(ctx context.Context, ext sqlx.ExecerContext, c ImportChange, now time.Time) error {
	var err error
	if p := c.NewPhone; p != nil {
		_, err = ext.ExecContext(ctx, Queries.Get("update-from-import-phone"), c.Name, c.Village, c.Employed, c.Land, c.Status,
			c.StatusChangedOn, now, c.EmployerName, c.EmployerCode, p.IDEnc, p.PhoneEnc, p.PhoneBidx, p.KeyID, c.ID)
	} else {
		_, err = ext.ExecContext(ctx, Queries.Get("update-from-import"), c.Name, c.Village, c.Employed, c.Land, c.Status,
			c.StatusChangedOn, now, c.EmployerName, c.EmployerCode, c.ID)
	}
	return err
}

// SetEmployer records a person's employer (name or code may be NULL) and that they are
// employed: what a visit learned at the door.
func SetEmployer(ctx context.Context, ext sqlx.ExecerContext, id int64, name, code sql.NullString, now time.Time) error {
	_, err := ext.ExecContext(ctx, Queries.Get("set-employer"), name, code, now, id)
	return err
}

// Registrant is a person not on the roster who registers: added unenrolled, without a phone.
type Registrant struct {
	IDEnc, IDBidx  []byte
	KeyID          string
	Name, Gender   string
	Birth          time.Time
	Village        string
	Employed, Land bool
	// EmployerName and EmployerCode are the employer the registrant named (NULL: none).
	EmployerName, EmployerCode sql.NullString
}

// AddFromRegistration adds a registrant to the roster and returns their ID. A person already on
// it is a duplicate-key error (database.IsDuplicate), for the caller to look them up.
func AddFromRegistration(ctx context.Context, ext sqlx.ExecerContext, r Registrant, now time.Time) (int64, error) {
	res, err := ext.ExecContext(ctx, Queries.Get("insert-from-registration"), r.IDEnc, r.IDBidx, r.KeyID, r.Name, r.Gender,
		r.Birth, r.Village, r.Employed, r.Land, now, now, r.EmployerName, r.EmployerCode)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// SetStatus sets a person's status, changed on the given day.
func SetStatus(ctx context.Context, ext sqlx.ExecerContext, id int64, status string, changedOn, now time.Time) error {
	_, err := ext.ExecContext(ctx, Queries.Get("set-status"), status, changedOn, now, id)
	return err
}

// SetStatuses moves the people of ids still in status from to status, changed on the given
// day, in one statement: the people the demo seed's imports show insured.
func SetStatuses(ctx context.Context, ext sqlx.ExecerContext, ids []int64, from, status string, changedOn, now time.Time) error {
	args := make([]any, 0, len(ids)+4)
	args = append(args, status, changedOn, now)
	for _, id := range ids {
		args = append(args, id)
	}
	args = append(args, from)
	_, err := ext.ExecContext(ctx, database.ExpandIn(Queries.Get("set-statuses"), len(ids)), args...)
	return err
}

// Unenroll makes a person unenrolled again on the given day, unless their status is no longer from.
func Unenroll(ctx context.Context, ext sqlx.ExecerContext, id int64, from string, day, now time.Time) error {
	_, err := ext.ExecContext(ctx, Queries.Get("unenroll"), day, now, id, from)
	return err
}

// FillPhone gives a person without a phone on the roster the phone sealed here, with their ID
// number sealed again under the same key. A phone already on the roster is kept.
func FillPhone(ctx context.Context, ext sqlx.ExecerContext, id int64, p SealedPhone, now time.Time) error {
	_, err := ext.ExecContext(ctx, Queries.Get("fill-phone"), p.PhoneEnc, p.PhoneBidx, p.IDEnc, p.KeyID, now, id)
	return err
}

// RecordVisit makes a visit the person's latest, with the follow-up date it set (NULL for none).
func RecordVisit(ctx context.Context, ext sqlx.ExecerContext, id, visitID int64, visitedAt time.Time, followUp sql.NullTime, now time.Time) error {
	_, err := ext.ExecContext(ctx, Queries.Get("record-visit"), visitID, visitedAt, followUp, now, id)
	return err
}

// SetOptedOut records whether a person asked not to receive reminders.
func SetOptedOut(ctx context.Context, ext sqlx.ExecerContext, id int64, optedOut bool, now time.Time) error {
	_, err := ext.ExecContext(ctx, Queries.Get("set-opted-out"), optedOut, now, id)
	return err
}
