package main

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/seed"
)

// Synthetic people. Every person comes from a slot number k: a fixed permutation of the slot
// space maps k to a birth date (aged 16-59 today), a gender and one of the 500 sequence numbers
// idcard.Generate distinguishes, so distinct slots give distinct, valid ID numbers (area
// 350583). Slots whose number the demo seed already holds are skipped. The roster growth uses
// slots from 0, each import repeat its own block, so nobody is made twice.

const (
	areaCode        = "350583"
	importSlotBase  = 4_000_000  // first slot of the import files
	importSlotBlock = 1_500_000  // slots per import repeat
	extraSlotBase   = 12_000_000 // registrants beyond the roster's reserved ones
	permMul         = 7_919_993  // multiplier of the slot permutation (coprime with the slot space)
)

// person is one synthetic resident.
type person struct {
	slot       uint64
	IDNumber   string
	Bidx       []byte
	Name       string
	Gender     idcard.Gender
	Birth      time.Time
	Village    string
	Status     string
	Employed   bool
	Land       bool
	Phone      string
	Registrant bool // reserved for the registration workloads: unenrolled, 45-55, not employed
}

// people generates synthetic residents from a slot onwards.
type people struct {
	kr       *pii.Keyring
	today    time.Time // civil date, UTC midnight
	earliest time.Time // the earliest birth date of someone aged 59 today
	days     uint64
	space    uint64
	taken    map[string]bool // blind indexes of the demo roster
	villages []string
	next     uint64
	rnd      *rand.Rand
}

func newPeople(kr *pii.Keyring, today time.Time, taken map[string]bool, villages []string, from uint64) *people {
	latest := today.AddDate(-16, 0, 0)   // 16 today
	earliest := today.AddDate(-60, 0, 1) // one day short of 60
	days := uint64(latest.Sub(earliest).Hours()/24) + 1
	space := days * 1000
	if gcd(permMul, space) != 1 {
		panic("people: permutation multiplier not coprime with the slot space")
	}
	return &people{kr: kr, today: today, earliest: earliest, days: days, space: space, taken: taken, villages: villages,
		next: from, rnd: rand.New(rand.NewPCG(from, 20261128))}
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// splitmix is a fixed hash of a slot, for the person's other attributes.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// idOf returns the ID number, gender and birth date of slot k.
func (g *people) idOf(k uint64) (string, idcard.Gender, time.Time) {
	p := (k * permMul) % g.space
	birth := g.earliest.AddDate(0, 0, int(p/1000))
	r := int(p % 1000)
	gender := idcard.Male
	if r >= 500 {
		gender = idcard.Female
	}
	return idcard.Generate(areaCode, birth, r%500, gender), gender, birth
}

// Next returns the next person.
func (g *people) Next() person {
	for {
		k := g.next
		g.next++
		if k >= g.space {
			panic("people: slot space exhausted")
		}
		id, gender, birth := g.idOf(k)
		bidx := g.kr.BlindIndex(pii.IndexIDNumber, id)
		if g.taken[string(bidx)] {
			continue
		}
		h := splitmix(k)
		p := person{slot: k, IDNumber: id, Bidx: bidx, Gender: gender, Birth: birth,
			Name: seed.Name(g.rnd, gender == idcard.Male), Village: g.villages[h%uint64(len(g.villages))]}
		age := idcard.AgeOn(birth, g.today)
		switch s := (h >> 16) % 100; {
		case s < 58:
			p.Status = "resident_pension"
		case s < 82:
			p.Status = "unenrolled"
		case s < 94:
			p.Status = "employee_pension"
		default:
			p.Status = "exempt"
		}
		p.Employed = (h>>24)%100 < 30
		p.Land = (h>>32)%100 < 5
		if (h>>40)%100 < 88 {
			p.Phone = fmt.Sprintf("1%d%09d", 3+(h>>48)%7, k%1_000_000_000)
		}
		if age >= 45 && age <= 55 && (h>>56)%2 == 0 {
			p.Registrant, p.Status, p.Employed, p.Land = true, "unenrolled", false, false
			if p.Phone == "" {
				p.Phone = fmt.Sprintf("139%08d", k%100_000_000)
			}
		}
		return p
	}
}

// IDAt returns the ID number of slot k without checking it against the demo roster (for
// eligibility questions, which any valid number may ask).
func (g *people) IDAt(k uint64) string {
	id, _, _ := g.idOf(k % g.space)
	return id
}

// statusLabel is the Chinese label of a status in a roster file.
var statusLabel = map[string]string{
	"unenrolled": "未参保", "resident_pension": "城乡居民养老保险", "employee_pension": "企业职工养老保险", "exempt": "不需参保",
}

func yesNo(b bool) string {
	if b {
		return "是"
	}
	return "否"
}

func genderLabel(g idcard.Gender) string {
	if g == idcard.Male {
		return "男"
	}
	return "女"
}
