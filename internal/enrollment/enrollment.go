// Package enrollment records new enrollments (新增参保): a person counts once, on the day a
// registration was confirmed, an import showed them insured, or a visit found them enrolled.
// Every write goes through here, so the per-village daily aggregate that progress reports read
// stays equal to the rows it sums.
package enrollment

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
)

// Sources of a new enrollment.
const (
	SourceRegistration = "registration"
	SourceImport       = "import"
	SourceVisit        = "visit"
)

// Enrollment is one new enrollment.
type Enrollment struct {
	ResidentID int64
	Village    string
	Scheme     string
	Source     string
	SourceID   int64
	Day        time.Time // civil date (Asia/Shanghai) as 00:00 UTC
}

// Record adds the enrollment unless the person already counts; it reports whether it counted.
// It must run inside the transaction that changed the person's status.
func Record(ctx context.Context, tx *sqlx.Tx, e Enrollment) (bool, error) {
	var n int
	if err := tx.GetContext(ctx, &n, `SELECT COUNT(*) FROM enrollments WHERE resident_id = ? FOR UPDATE`, e.ResidentID); err != nil {
		return false, database.Map(err)
	}
	if n > 0 {
		return false, nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO enrollments (resident_id, village_code, scheme, source, source_id, enrolled_on, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, e.ResidentID, e.Village, e.Scheme, e.Source, e.SourceID, e.Day, database.Now())
	if database.IsDuplicate(err) {
		return false, nil
	}
	if err != nil {
		return false, database.Map(err)
	}
	if err := bump(ctx, tx, e.Village, e.Day, 1); err != nil {
		return false, err
	}
	if err := attribute(ctx, tx, e); err != nil {
		return false, err
	}
	return true, nil
}

// AttributionDays is how long after being reached an enrollment counts as a campaign's
// conversion (campaigns.attribution_days; 30 by default).
var AttributionDays = 30

// attribute credits a new enrollment to the latest campaign delivery that reached the person
// within the attribution window, by campaign, channel, village, age band and gender.
func attribute(ctx context.Context, tx *sqlx.Tx, e Enrollment) error {
	var d struct {
		ID       int64     `db:"id"`
		Campaign int64     `db:"campaign_id"`
		Channel  string    `db:"channel"`
		Village  string    `db:"village_code"`
		Gender   string    `db:"gender"`
		Birth    time.Time `db:"birth_date"`
	}
	// The window is in whole days; reached before the end of the enrollment day counts.
	from, to := e.Day.AddDate(0, 0, -AttributionDays).Add(-8*time.Hour), e.Day.AddDate(0, 0, 1).Add(-8*time.Hour)
	err := tx.GetContext(ctx, &d, `SELECT d.id, d.campaign_id, d.channel, d.village_code, r.gender, r.birth_date
		FROM deliveries d JOIN residents r ON r.id = d.resident_id
		WHERE d.resident_id = ? AND d.status = 'sent' AND d.sent_at >= ? AND d.sent_at < ?
		ORDER BY d.sent_at DESC, d.id DESC LIMIT 1`, e.ResidentID, from, to)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return database.Map(err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO conversions (resident_id, delivery_id, campaign_id, channel, village_code, age_band, gender, converted_on, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ResidentID, d.ID, d.Campaign, d.Channel, d.Village, AgeBand(d.Birth, e.Day), d.Gender, e.Day, database.Now())
	if database.IsDuplicate(err) {
		return nil
	}
	return database.Map(err)
}

// AgeBand groups ages as the guidance rule does: 16-29, 30-39, 40-44, 45-59, other.
func AgeBand(birth, on time.Time) string {
	age := on.Year() - birth.Year()
	if on.YearDay() < birth.YearDay() {
		age--
	}
	switch {
	case age >= 16 && age <= 29:
		return "16-29"
	case age >= 30 && age <= 39:
		return "30-39"
	case age >= 40 && age <= 44:
		return "40-44"
	case age >= 45 && age <= 59:
		return "45-59"
	}
	return "other"
}

// RecordBatch records many enrollments in one go (roster imports); it returns how many counted.
func RecordBatch(ctx context.Context, tx *sqlx.Tx, es []Enrollment) (int, error) {
	counted := 0
	for _, e := range es {
		ok, err := Record(ctx, tx, e)
		if err != nil {
			return counted, err
		}
		if ok {
			counted++
		}
	}
	return counted, nil
}

// Revoke removes the enrollment a source made (the city refused a registration); it reports
// whether there was one.
func Revoke(ctx context.Context, tx *sqlx.Tx, residentID int64, source string, sourceID int64) (bool, error) {
	var e struct {
		ID      int64     `db:"id"`
		Village string    `db:"village_code"`
		Day     time.Time `db:"enrolled_on"`
	}
	err := tx.GetContext(ctx, &e, `SELECT id, village_code, enrolled_on FROM enrollments
		WHERE resident_id = ? AND source = ? AND source_id = ? FOR UPDATE`, residentID, source, sourceID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, database.Map(err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM enrollments WHERE id = ?`, e.ID); err != nil {
		return false, database.Map(err)
	}
	return true, bump(ctx, tx, e.Village, e.Day, -1)
}

func bump(ctx context.Context, tx *sqlx.Tx, village string, day time.Time, delta int) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO enrollment_daily (village_code, enrolled_on, enrolled) VALUES (?, ?, ?)
		ON DUPLICATE KEY UPDATE enrolled = enrolled + ?`, village, day, delta, delta)
	return database.Map(err)
}
