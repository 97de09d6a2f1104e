package event

import (
	"context"
	"database/sql"
	"sort"
	"time"

	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/platform/database"
)

// Unknown is the group of people checked in whose account is not linked to the roster yet
// (they have not registered): their village, age and gender are not known.
const Unknown = "unknown"

// Figures are one group's counts.
type Figures struct {
	CheckedIn  int `json:"checked_in"`
	Registered int `json:"registered"`
	Enrolled   int `json:"enrolled"`
}

// VillageFigures are one village's counts.
type VillageFigures struct {
	Code string `json:"code"`
	Name string `json:"name"`
	Figures
}

// GroupFigures are one age band's or gender's counts.
type GroupFigures struct {
	Key string `json:"key"`
	Figures
}

// Stats are an event's figures: who checked in, and how many of them registered or enrolled
// within the attribution window after checking in (the event's conversions).
type Stats struct {
	EventID         int64 `json:"event_id"`
	AttributionDays int   `json:"attribution_days"`
	Figures
	ByVillage []VillageFigures `json:"by_village"`
	ByAgeBand []GroupFigures   `json:"by_age_band"`
	ByGender  []GroupFigures   `json:"by_gender"`
}

// Visit is one check-in, as attribution sees it.
type Visit struct {
	Event int64
	At    time.Time
}

// Attribution credits registrations and enrollments to events the way campaign conversions
// are credited (internal/enrollment): the latest check-in within the window before gets the
// credit, and a person counts once.
type Attribution struct {
	Loc  *time.Location
	Days int
}

func (a Attribution) day(t time.Time) time.Time {
	y, m, d := t.In(a.Loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ForRegistration is the event credited with a registration made at `at` by an account with
// these check-ins (0: none). A check-in counts if it came before the registration and the
// registration's day is at most Days days after the check-in's day.
func (a Attribution) ForRegistration(visits []Visit, at time.Time) int64 {
	var best Visit
	for _, v := range visits {
		if v.At.After(at) || a.day(at).After(a.day(v.At).AddDate(0, 0, a.Days)) {
			continue
		}
		if best.Event == 0 || v.At.After(best.At) {
			best = v
		}
	}
	return best.Event
}

// ForEnrollment is the event credited with an enrollment on day (a civil date as 00:00 UTC):
// the latest check-in whose day is at most Days days before it (enrollments have no time of
// day, so a check-in on the day itself counts, as a message sent that day does).
func (a Attribution) ForEnrollment(visits []Visit, day time.Time) int64 {
	var best Visit
	for _, v := range visits {
		vd := a.day(v.At)
		if day.Before(vd) || day.After(vd.AddDate(0, 0, a.Days)) {
			continue
		}
		if best.Event == 0 || v.At.After(best.At) {
			best = v
		}
	}
	return best.Event
}

type checkinRow struct {
	Account  int64          `db:"account_id"`
	At       time.Time      `db:"checked_in_at"`
	Resident sql.NullInt64  `db:"resident_id"`
	Village  sql.NullString `db:"village_code"`
	Gender   sql.NullString `db:"gender"`
	Birth    sql.NullTime   `db:"birth_date"`
}

// Stats computes an event's figures from the check-ins, registrations and enrollments as
// they are now.
func (s *Service) Stats(ctx context.Context, eventID int64) (Stats, error) {
	st := Stats{EventID: eventID, AttributionDays: s.d.AttributionDays, ByVillage: []VillageFigures{}, ByAgeBand: []GroupFigures{}, ByGender: []GroupFigures{}}
	var cs []checkinRow
	if err := s.d.DB.SelectContext(ctx, &cs, Queries.Get("checkins-of-event"), eventID); err != nil {
		return st, database.Map(err)
	}
	if len(cs) == 0 {
		return st, nil
	}
	attr := Attribution{Loc: s.d.Location, Days: s.d.AttributionDays}
	accounts := make([]any, len(cs))
	var residents []any
	since := cs[0].At
	for i, c := range cs {
		accounts[i] = c.Account
		if c.Resident.Valid {
			residents = append(residents, c.Resident.Int64)
		}
		if c.At.Before(since) {
			since = c.At
		}
	}
	visits := map[int64][]Visit{}
	var all []struct {
		Event   int64     `db:"event_id"`
		Account int64     `db:"account_id"`
		At      time.Time `db:"checked_in_at"`
	}
	if err := s.d.DB.SelectContext(ctx, &all, database.ExpandIn(Queries.Get("checkins-of-accounts"), len(accounts)), accounts...); err != nil {
		return st, database.Map(err)
	}
	for _, v := range all {
		visits[v.Account] = append(visits[v.Account], Visit{Event: v.Event, At: v.At})
	}
	registered := map[int64]bool{}
	var regs []struct {
		Account int64     `db:"account_id"`
		At      time.Time `db:"created_at"`
	}
	if err := s.d.DB.SelectContext(ctx, &regs, database.ExpandIn(Queries.Get("registrations-of-accounts"), len(accounts)), append(accounts, since)...); err != nil {
		return st, database.Map(err)
	}
	for _, r := range regs {
		if attr.ForRegistration(visits[r.Account], r.At) == eventID {
			registered[r.Account] = true
		}
	}
	enrolledOn := map[int64]time.Time{}
	if len(residents) > 0 {
		var ens []struct {
			Resident int64     `db:"resident_id"`
			Day      time.Time `db:"enrolled_on"`
		}
		if err := s.d.DB.SelectContext(ctx, &ens, database.ExpandIn(Queries.Get("enrollments-of-residents"), len(residents)), append(residents, attr.day(since))...); err != nil {
			return st, database.Map(err)
		}
		for _, e := range ens {
			enrolledOn[e.Resident] = e.Day
		}
	}
	names := map[string]string{}
	var vs []struct {
		Code string `db:"code"`
		Name string `db:"name"`
	}
	if err := s.d.DB.SelectContext(ctx, &vs, Queries.Get("village-names")); err != nil {
		return st, database.Map(err)
	}
	for _, v := range vs {
		names[v.Code] = v.Name
	}
	byVillage, byBand, byGender := map[string]*Figures{}, map[string]*Figures{}, map[string]*Figures{}
	bump := func(m map[string]*Figures, k string, reg, enr bool) {
		f := m[k]
		if f == nil {
			f = &Figures{}
			m[k] = f
		}
		f.CheckedIn++
		if reg {
			f.Registered++
		}
		if enr {
			f.Enrolled++
		}
	}
	countedResident := map[int64]bool{}
	for _, c := range cs {
		reg := registered[c.Account]
		enr := false
		village, band, gender := Unknown, Unknown, Unknown
		if c.Resident.Valid {
			id := c.Resident.Int64
			if d, ok := enrolledOn[id]; ok && !countedResident[id] && attr.ForEnrollment(visits[c.Account], d) == eventID {
				enr, countedResident[id] = true, true
			}
			village, gender = c.Village.String, c.Gender.String
			band = enrollment.AgeBand(c.Birth.Time, attr.day(c.At))
		}
		st.CheckedIn++
		if reg {
			st.Registered++
		}
		if enr {
			st.Enrolled++
		}
		bump(byVillage, village, reg, enr)
		bump(byBand, band, reg, enr)
		bump(byGender, gender, reg, enr)
	}
	for _, k := range sortedKeys(byVillage) {
		name := names[k]
		if k == Unknown {
			name = "未关联花名册（尚未登记）"
		}
		st.ByVillage = append(st.ByVillage, VillageFigures{Code: k, Name: name, Figures: *byVillage[k]})
	}
	for _, k := range sortedKeys(byBand) {
		st.ByAgeBand = append(st.ByAgeBand, GroupFigures{Key: k, Figures: *byBand[k]})
	}
	for _, k := range sortedKeys(byGender) {
		st.ByGender = append(st.ByGender, GroupFigures{Key: k, Figures: *byGender[k]})
	}
	return st, nil
}

// sortedKeys sorts the keys with "unknown" last.
func sortedKeys(m map[string]*Figures) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i] == Unknown) != (out[j] == Unknown) {
			return out[j] == Unknown
		}
		return out[i] < out[j]
	})
	return out
}

// MonthEvent is one event of a month, with its figures, for the monthly bulletin.
type MonthEvent struct {
	ID       int64     `json:"id"`
	Title    string    `json:"title"`
	Kind     string    `json:"kind"`
	Place    string    `json:"place"`
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"`
	Villages []string  `json:"village_codes"`
	Figures
}

// OfMonth lists the events that start in month (its first day, a civil date as 00:00 UTC) in
// the business time zone, with their figures as they are now.
func (s *Service) OfMonth(ctx context.Context, month time.Time) ([]MonthEvent, error) {
	loc := s.d.Location
	from := time.Date(month.Year(), month.Month(), 1, 0, 0, 0, 0, loc)
	var rows []row
	if err := s.d.DB.SelectContext(ctx, &rows, Queries.Get("events-starting-between"), from.UTC(), from.AddDate(0, 1, 0).UTC()); err != nil {
		return nil, database.Map(err)
	}
	evs, err := s.withVillages(ctx, rows)
	if err != nil {
		return nil, err
	}
	out := make([]MonthEvent, 0, len(evs))
	for _, e := range evs {
		st, err := s.Stats(ctx, e.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, MonthEvent{ID: e.ID, Title: e.Title, Kind: e.Kind, Place: e.Place, StartsAt: e.StartsAt, EndsAt: e.EndsAt,
			Villages: e.VillageCodes, Figures: st.Figures})
	}
	return out, nil
}
