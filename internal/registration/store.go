package registration

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
)

// Row is a new registration: the person's open registration of the year, in a scheme.
type Row struct {
	AccountID, ResidentID int64
	Year                  int
	Name                  string
	IDEnc, PhoneEnc       []byte
	KeyID, Village        string
	Employed, Land        bool
	Scheme, Channel       string
	RegisterAt            string
	Tier                  *int // nil when none was chosen (stored as NULL)
	Status                string
	Privacy               string // the privacy notice version accepted
	At                    time.Time
	// EmployerName and EmployerCode are the employer the registrant named (NULL: none).
	EmployerName, EmployerCode sql.NullString
}

// Insert adds a registration, open for its person (active_resident_id), and returns its ID, in
// the caller's transaction: the service's submissions and the demo seed's pending ones. A second
// open registration of the person in the year is a duplicate-key error (database.IsDuplicate);
// errors come back as the driver returns them.
func Insert(ctx context.Context, ext sqlx.ExecerContext, r Row) (int64, error) {
	res, err := ext.ExecContext(ctx, Queries.Get("registration-insert"), r.args()...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (r Row) args() []any {
	return []any{r.AccountID, r.ResidentID, r.ResidentID, r.Year, r.Name,
		r.IDEnc, r.PhoneEnc, r.KeyID, r.Village, r.Employed, r.Land, r.Scheme, r.Channel, r.RegisterAt,
		r.Tier, r.Status, r.Privacy, r.At, r.At, r.EmployerName, r.EmployerCode}
}

// insertMany adds registrations of distinct people of one year in one statement and returns
// their ids by person (read back by the unique key, not from the auto-increment), in the
// caller's transaction. A person with an open registration of the year already makes the whole
// statement a duplicate-key error; errors come back as the driver returns them.
func insertMany(ctx context.Context, tx *sqlx.Tx, rows []Row) (map[int64]int64, error) {
	args := make([]any, 0, 21*len(rows))
	people := make([]any, 0, 1+len(rows))
	people = append(people, rows[0].Year)
	for _, r := range rows {
		args = append(args, r.args()...)
		people = append(people, r.ResidentID)
	}
	if _, err := tx.ExecContext(ctx, database.MultiRow(Queries.Get("registration-insert"), len(rows)), args...); err != nil {
		return nil, err
	}
	var got []struct {
		ID       int64 `db:"id"`
		Resident int64 `db:"active_resident_id"`
	}
	if err := tx.SelectContext(ctx, &got, database.ExpandIn(Queries.Get("registration-ids-of-people"), len(rows)), people...); err != nil {
		return nil, err
	}
	ids := make(map[int64]int64, len(got))
	for _, g := range got {
		ids[g.Resident] = g.ID
	}
	return ids, nil
}

// Statements on registrations that a review and the hand-over's answers run, each inside the
// caller's transaction; errors come back mapped (database.Map).

// lockRegistration reads and locks one registration; sql.ErrNoRows when there is none.
func lockRegistration(ctx context.Context, tx *sqlx.Tx, id int64) (row, error) {
	var r row
	err := tx.GetContext(ctx, &r, Queries.Get("registration-lock"), id)
	if errors.Is(err, sql.ErrNoRows) {
		return row{}, err
	}
	return r, database.Map(err)
}

// decide records a decision on a registration: its new status, the person it enrolled (nil for
// none), the reject reason (nil for none), who decided and when.
func decide(ctx context.Context, tx *sqlx.Tx, id int64, status string, activeResident, rejectReason any, by int64, now time.Time) error {
	_, err := tx.ExecContext(ctx, Queries.Get("registration-decide"), status, activeResident, rejectReason, by, now, now, id)
	return database.Map(err)
}

// recordCityAnswer records the city centre's answer (CityProcessed or CityRefused) and its
// reason ("" for none).
func recordCityAnswer(ctx context.Context, tx *sqlx.Tx, id int64, result, reason string, now time.Time) error {
	var cityReason any
	if reason != "" {
		cityReason = reason
	}
	_, err := tx.ExecContext(ctx, Queries.Get("registration-city-answer"), result, cityReason, now, id)
	return database.Map(err)
}

// residentVillage is the village the roster puts a registration's person in.
func residentVillage(ctx context.Context, tx *sqlx.Tx, residentID int64) (string, error) {
	var village string
	err := tx.GetContext(ctx, &village, Queries.Get("resident-village"), residentID)
	return village, database.Map(err)
}
