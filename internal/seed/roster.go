package seed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	residents "github.com/canbao/canbao/internal/roster"
)

// ReferenceDay is the date of the plan (罗政〔2019〕185号, 2019-07-18). Every synthetic
// resident is MinAge..MaxAge years old on it.
const ReferenceDay = "2019-07-18"

// ReferenceDate is ReferenceDay as a civil date (00:00 UTC).
var ReferenceDate = time.Date(2019, time.July, 18, 0, 0, 0, 0, time.UTC)

// Age bounds of the roster (inclusive): the plan counts people aged 16-59.
const (
	MinAge = 16
	MaxAge = 59
)

// AreaCode is the administrative division of 南安市, the first six digits of the synthetic ID numbers.
const AreaCode = "350583"

// Source is residents.source of every seeded row.
const Source = "seed"

// Statuses of residents.status.
const (
	StatusUnenrolled      = "unenrolled"
	StatusResidentPension = "resident_pension"
	StatusEmployeePension = "employee_pension"
	StatusExempt          = "exempt"
)

// The roster's random stream: the same numbers give the same people on every machine.
const (
	rosterSeedHi = 20190718
	rosterSeedLo = 185
)

// Shares of the synthetic roster, in percent.
const (
	employeeOfRestPercent     = 70 // of the unenrolled beyond the target: insured elsewhere; the rest are exempt
	employedUnenrolledPercent = 35
	employedEmployeePercent   = 60
	landExpropriatedPercent   = 5
	phonePercent              = 85
	exemptYoungPercent        = 70 // exempt people who are students or soldiers, aged 16-24
)

// idSeqLimit bounds the sequence numbers given to idcard.Generate (0..499 are distinct numbers).
const idSeqLimit = 500

// The roster is inserted rosterBatchRows rows per statement, through residents.InsertPeople.
const rosterBatchRows = 1000

// person is one synthetic resident before encryption.
type person struct {
	Name             string
	Gender           idcard.Gender
	Birth            time.Time
	Village          string
	Status           string
	Employed         bool
	LandExpropriated bool
	IDNumber         string
	Phone            string // "" when the person has no phone on file
	// EmployerName and EmployerCode are "" when the employer is not known (assignEmployers).
	EmployerName, EmployerCode string
}

// roster builds the synthetic people of the annex, village by village in annex order, from
// a fixed random stream: the same annex gives the same people, in the same order.
func roster(rows []AnnexRow) ([]person, error) {
	total := 0
	for _, row := range rows {
		total += row.Population
	}
	r := rand.New(rand.NewPCG(rosterSeedHi, rosterSeedLo))
	people := make([]person, 0, total)
	usedSeq := make(map[int64]struct{}, total)
	usedPhone := make(map[string]struct{}, total)
	for _, row := range rows {
		rest := row.Unenrolled - row.ExpansionTarget
		employee := (rest*employeeOfRestPercent + 50) / 100
		statuses := make([]string, 0, row.Population)
		statuses = appendN(statuses, StatusResidentPension, row.Enrolled)
		statuses = appendN(statuses, StatusUnenrolled, row.ExpansionTarget)
		statuses = appendN(statuses, StatusEmployeePension, employee)
		statuses = appendN(statuses, StatusExempt, rest-employee)
		r.Shuffle(len(statuses), func(i, j int) { statuses[i], statuses[j] = statuses[j], statuses[i] })

		for _, status := range statuses {
			p := person{Village: row.Code, Status: status}
			male := r.IntN(2) == 0
			p.Gender = idcard.Female
			if male {
				p.Gender = idcard.Male
			}
			p.Name = Name(r, male)
			p.Birth = birthForAge(r, drawAge(r, status))

			// A random sequence number, unique for the (birth date, gender): the ID numbers are unique.
			day := p.Birth.Unix() / 86400 * 2
			if male {
				day++
			}
			for tries := 0; ; tries++ {
				if tries > 10*idSeqLimit {
					return nil, fmt.Errorf("seed: roster: no free ID sequence number left for a birth date")
				}
				seq := r.IntN(idSeqLimit)
				key := day*idSeqLimit + int64(seq)
				if _, taken := usedSeq[key]; taken {
					continue
				}
				usedSeq[key] = struct{}{}
				p.IDNumber = idcard.Generate(AreaCode, p.Birth, seq, p.Gender)
				break
			}

			switch status {
			case StatusUnenrolled:
				p.Employed = r.IntN(100) < employedUnenrolledPercent
			case StatusEmployeePension:
				p.Employed = r.IntN(100) < employedEmployeePercent
			}
			p.LandExpropriated = r.IntN(100) < landExpropriatedPercent
			if r.IntN(100) < phonePercent {
				for {
					phone := fmt.Sprintf("1%d%09d", 3+r.IntN(7), r.IntN(1_000_000_000))
					if _, taken := usedPhone[phone]; !taken {
						usedPhone[phone] = struct{}{}
						p.Phone = phone
						break
					}
				}
			}
			people = append(people, p)
		}
	}
	assignEmployers(people)
	return people, nil
}

func appendN(s []string, v string, n int) []string {
	for range n {
		s = append(s, v)
	}
	return s
}

// drawAge returns an age in MinAge..MaxAge shaped by status: the enrolled skew older (the
// resident pension is what older villagers have), the unenrolled younger, people insured through
// work are of working age, and most of the exempt are students or soldiers.
func drawAge(r *rand.Rand, status string) int {
	var x float64 // in [0, 1): position in the age span
	switch status {
	case StatusResidentPension:
		if x = r.Float64(); r.IntN(2) == 0 {
			x = max(x, r.Float64())
		}
	case StatusUnenrolled:
		if x = r.Float64(); r.IntN(2) == 0 {
			x = min(x, r.Float64())
		}
	case StatusEmployeePension:
		x = (r.Float64() + r.Float64()) / 2
	default: // exempt
		if r.IntN(100) < exemptYoungPercent {
			return MinAge + r.IntN(9) // 16..24
		}
		x = r.Float64()
	}
	return MinAge + int(x*float64(MaxAge-MinAge+1))
}

// birthForAge returns a random birth date of someone exactly age full years old on ReferenceDate.
func birthForAge(r *rand.Rand, age int) time.Time {
	latest := ReferenceDate.AddDate(-age, 0, 0)     // birthday on the reference date
	earliest := ReferenceDate.AddDate(-age-1, 0, 1) // one day short of age+1
	days := int(latest.Sub(earliest).Hours()/24) + 1
	return earliest.AddDate(0, 0, r.IntN(days))
}

// rosterBatch is one multi-row INSERT of residents, filled by an encryption worker.
type rosterBatch struct {
	people []person
	rows   []residents.Imported
	err    error
	done   chan struct{}
}

// insertRoster encrypts the people in parallel and inserts them in one transaction with
// multi-row INSERTs of rosterBatchRows rows, in order: either every row is there or none.
func insertRoster(ctx context.Context, db *sqlx.DB, kr *pii.Keyring, people []person) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	now := database.Now()
	keyID := kr.ActiveKeyID()
	var batches []*rosterBatch
	for start := 0; start < len(people); start += rosterBatchRows {
		end := min(start+rosterBatchRows, len(people))
		batches = append(batches, &rosterBatch{people: people[start:end], done: make(chan struct{})})
	}

	// Encryption workers fill batches in any order; the inserter below takes them in order.
	work := make(chan *rosterBatch)
	var wg sync.WaitGroup
	for range max(2, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				b.rows, b.err = encryptBatch(kr, keyID, b.people)
				close(b.done)
			}
		}()
	}
	go func() {
		defer close(work)
		for _, b := range batches {
			select {
			case work <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer wg.Wait()

	err := database.InTx(ctx, db, func(tx *sqlx.Tx) error {
		for _, b := range batches {
			select {
			case <-b.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			if b.err != nil {
				return b.err
			}
			if err := residents.InsertPeople(ctx, tx, Source, b.rows, now); err != nil {
				if database.IsDuplicate(err) {
					return errors.New("seed: roster: a seeded ID number is already in residents " +
						"(did another seed run at the same time, or was the roster imported?); reset the database and seed again")
				}
				return fmt.Errorf("seed: roster: insert: %w", err)
			}
		}
		return nil
	})
	cancel()
	return err
}

// encryptBatch returns the rows of people: ID number and phone encrypted under the active key
// and bound to their columns, with their blind indexes.
func encryptBatch(kr *pii.Keyring, keyID string, people []person) ([]residents.Imported, error) {
	rows := make([]residents.Imported, 0, len(people))
	for i := range people {
		p := &people[i]
		idEnc, kid, err := kr.Encrypt(p.IDNumber, pii.AADResidentIDNumber)
		if err != nil {
			return nil, fmt.Errorf("seed: roster: encrypt: %w", err)
		}
		if kid != keyID {
			return nil, errors.New("seed: roster: the active key changed while seeding")
		}
		var phoneEnc, phoneBidx []byte // NULL without a phone
		if p.Phone != "" {
			ct, _, err := kr.Encrypt(p.Phone, pii.AADResidentPhone)
			if err != nil {
				return nil, fmt.Errorf("seed: roster: encrypt: %w", err)
			}
			phoneEnc, phoneBidx = ct, kr.BlindIndex(pii.IndexPhone, p.Phone)
		}
		rows = append(rows, residents.Imported{IDEnc: idEnc, IDBidx: kr.BlindIndex(pii.IndexIDNumber, p.IDNumber),
			PhoneEnc: phoneEnc, PhoneBidx: phoneBidx, KeyID: keyID, Name: p.Name, Gender: string(p.Gender),
			Birth: p.Birth, Village: p.Village, Employed: p.Employed, Land: p.LandExpropriated, Status: p.Status,
			EmployerName: sql.NullString{String: p.EmployerName, Valid: p.EmployerName != ""},
			EmployerCode: sql.NullString{String: p.EmployerCode, Valid: p.EmployerCode != ""}})
	}
	return rows, nil
}
