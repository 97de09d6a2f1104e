package registration_test

// BenchmarkFloor finds the floor of a registration (issue #13): what the database alone costs
// for the statements one registration issues, against the bench's baseline, at the bench's
// concurrency, with no HTTP and no Go logic.
//
//	go test -run '^$' -bench Floor -benchtime 3000x ./internal/registration/
//
// Sub-benchmarks, each with 8 goroutines over a pool of at most 8 connections, every operation
// a distinct person of the roster from a distinct account:
//
//	raw            the bench baseline: a prepared single-row INSERT into a PK-only table, autocommit
//	statements     exactly a registration's SQL as prepared statements: the plain lookup of the
//	               person, then BEGIN, the registration INSERT, the account UPDATE, the audit
//	               INSERT, COMMIT
//	statements_withlock, statements_nolink
//	               the same with the resident's lock by primary key (FOR UPDATE) that registrations
//	               took before, and without the account UPDATE
//	register       Service.Register called directly (validation, Redis limit, encryption, the above),
//	               without the group commit
//	register_batched
//	               the same with the group commit (batch.go): concurrent registrations share statements
//	…_nofk         the same after the foreign keys of registrations (and the account's to
//	               residents) are dropped
//
// The figures are rows (registrations) a second; the parent logs the ratios.

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/configs"
	"github.com/canbao/canbao/internal/account"
	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/dbtest"
	"github.com/canbao/canbao/internal/platform/ratelimit"
	"github.com/canbao/canbao/internal/registration"
	"github.com/canbao/canbao/internal/rules"
	"github.com/canbao/canbao/internal/village"
)

const floorConns = 8

type floorPerson struct {
	residentID, accountID int64
	number                string
	village               string
}

type floorEnv struct {
	db      *sqlx.DB
	kr      *pii.Keyring
	svc     *registration.Service
	seq     int
	openSeq int
}

// people adds n unenrolled people aged about 50 to the roster, and n new accounts.
func (e *floorEnv) people(b *testing.B, n int) []floorPerson {
	b.Helper()
	ctx := context.Background()
	now := database.Now()
	out := make([]floorPerson, 0, n)
	y, m, d := time.Now().Date()
	for start := 0; start < n; start += 500 {
		end := min(n, start+500)
		var q strings.Builder
		q.WriteString(`INSERT INTO residents (id_number_enc, id_number_bidx, pii_key_id, name, gender, birth_date,
			village_code, employed, land_expropriated, status, source, created_at, updated_at) VALUES `)
		var args []any
		var numbers []string
		for i := start; i < end; i++ {
			k := e.seq
			e.seq++
			// 500 sequence numbers a day, days back from 50 years: distinct ID numbers.
			birth := time.Date(y-50, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -(k/500)-1)
			number := idcard.Generate("350583", birth, k%500, idcard.Male)
			enc, kid, err := e.kr.Encrypt(number, pii.AADResidentIDNumber)
			if err != nil {
				b.Fatal(err)
			}
			if i > start {
				q.WriteByte(',')
			}
			q.WriteString("(?,?,?,?,?,?,?,0,0,'unenrolled','seed',?,?)")
			args = append(args, enc, e.kr.BlindIndex(pii.IndexIDNumber, number), kid, "测试居民", idcard.Male, birth, "zhenxing", now, now)
			numbers = append(numbers, number)
		}
		res, err := e.db.ExecContext(ctx, q.String(), args...)
		if err != nil {
			b.Fatal(err)
		}
		first, _ := res.LastInsertId()
		var aq strings.Builder
		aq.WriteString("INSERT INTO resident_accounts (openid, created_at, last_login_at) VALUES ")
		var aargs []any
		for i := range numbers {
			if i > 0 {
				aq.WriteByte(',')
			}
			aq.WriteString("(?,?,?)")
			e.openSeq++
			aargs = append(aargs, fmt.Sprintf("floor-%09d", e.openSeq), now, now)
		}
		ares, err := e.db.ExecContext(ctx, aq.String(), aargs...)
		if err != nil {
			b.Fatal(err)
		}
		firstAcc, _ := ares.LastInsertId()
		for i, num := range numbers { // InnoDB gives a multi-row INSERT consecutive ids (auto_increment_lock_mode 1/2, one statement)
			out = append(out, floorPerson{residentID: first + int64(i), accountID: firstAcc + int64(i), number: num, village: "zhenxing"})
		}
	}
	return out
}

// run calls op for each of n items on floorConns goroutines and reports items a second.
func run(b *testing.B, n int, op func(i int) error) float64 {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	b.ResetTimer()
	start := time.Now()
	for range floorConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := op(i); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if p := firstErr.Load(); p != nil {
		b.Fatal(*p)
	}
	rate := float64(n) / elapsed.Seconds()
	b.ReportMetric(rate, "rows/s")
	return rate
}

func BenchmarkFloor(b *testing.B) {
	ctx := context.Background()
	db := dbtest.New(b)
	db.SetMaxOpenConns(floorConns)
	db.SetMaxIdleConns(floorConns)
	rdb, prefix := dbtest.Redis(b)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	kr, err := pii.NewKeyring("k1", map[string][]byte{"k1": key}, "k1")
	if err != nil {
		b.Fatal(err)
	}
	book, err := rules.Load(configs.Policy)
	if err != nil {
		b.Fatal(err)
	}
	now := database.Now()
	if _, err := db.Exec(`INSERT INTO villages (code, name, town, sort_order, created_at) VALUES ('zhenxing','振兴村','罗东镇',1,?)`, now); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE bench_raw (id BIGINT AUTO_INCREMENT PRIMARY KEY,
		a VARBINARY(96), b VARBINARY(96), c VARCHAR(64), d INT, e DATETIME(6))`); err != nil {
		b.Fatal(err)
	}
	svc := registration.NewService(registration.Deps{DB: db, Redis: rdb, Prefix: prefix, Keyring: kr, Rules: book,
		Location: shanghai, Limiter: ratelimit.New(rdb, prefix), Audit: audit.New(db), Enrollment: enrollment.New(shanghai, 30),
		Villages: village.NewCachedStore(db, rdb, prefix), PrivacyNoticeVersion: "2024-01"})
	e := &floorEnv{db: db, kr: kr, svc: svc}
	e.people(b, 20000) // a roster around the registrants, as the bench's

	rates := map[string]float64{}
	bench := func(name string, f func(b *testing.B) float64) {
		b.Run(name, func(b *testing.B) { rates[name] = f(b) })
	}
	raw := func(b *testing.B) float64 {
		stmt, err := db.PreparexContext(ctx, `INSERT INTO bench_raw (a, b, c, d, e) VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			b.Fatal(err)
		}
		defer stmt.Close()
		a, c := make([]byte, 46), make([]byte, 39)
		return run(b, b.N, func(i int) error {
			_, err := stmt.ExecContext(ctx, a, c, "k1", i, time.Now())
			return err
		})
	}
	statementsOf := func(withLock, withLink bool) func(b *testing.B) float64 {
		return func(b *testing.B) float64 {
			b.StopTimer()
			ps := e.people(b, b.N)
			prep := func(q string) *sqlx.Stmt {
				s, err := db.PreparexContext(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				return s
			}
			find := prep(registration.Queries.Get("resident-find-by-id-number"))
			// The resident's lock that registrations took until the lock went (commit "registration:
			// the person is read without a lock").
			lock := `SELECT id, village_code, status, name FROM residents WHERE id = ? AND id_number_bidx = ? FOR UPDATE`
			ins := registration.Queries.Get("registration-insert")
			link := account.Queries.Get("account-link-person")
			aud := audit.Queries.Get("audit-insert")
			idEnc, phoneEnc := make([]byte, 46), make([]byte, 39)
			year := time.Now().Year()
			bidx := make([][]byte, len(ps))
			for i, p := range ps {
				bidx[i] = kr.BlindIndex(pii.IndexIDNumber, p.number)
			}
			return run(b, len(ps), func(i int) error {
				p := ps[i]
				var found struct {
					ID      int64  `db:"id"`
					Village string `db:"village_code"`
					Status  string `db:"status"`
					Name    string `db:"name"`
				}
				if err := find.GetContext(ctx, &found, bidx[i]); err != nil {
					return err
				}
				id := found.ID
				return database.InTx(ctx, db, func(tx *sqlx.Tx) error {
					var r struct {
						ID      int64  `db:"id"`
						Village string `db:"village_code"`
						Status  string `db:"status"`
						Name    string `db:"name"`
					}
					if withLock {
						if err := tx.GetContext(ctx, &r, lock, id, bidx[i]); err != nil {
							return err
						}
					}
					res, err := tx.ExecContext(ctx, ins, p.accountID, id, id, year, "测试居民", idEnc, phoneEnc, "k1", p.village,
						false, false, "resident_pension", "village", "village", 300, "submitted", "2024-01", now, now)
					if err != nil {
						return err
					}
					rid, _ := res.LastInsertId()
					if withLink {
						if _, err := tx.ExecContext(ctx, link, id, p.accountID); err != nil {
							return err
						}
					}
					_, err = tx.ExecContext(ctx, aud, now, "resident", p.accountID, "resident", "127.0.0.1", "req", "registration.create",
						"registration", fmt.Sprint(rid), "success", "scheme=resident_pension")
					return err
				})
			})
		}
	}
	statements := statementsOf(false, true)
	var register func(b *testing.B) float64
	registerAs := func(batched bool) func(b *testing.B) float64 {
		return func(b *testing.B) float64 {
			registration.SetBatching(b, batched)
			return register(b)
		}
	}
	register = func(b *testing.B) float64 {
		b.StopTimer()
		ps := e.people(b, b.N)
		// The village cache and the first validation are warmed by one registration before the clock.
		tier, name, phone, scheme, no := 300, "测试居民", "13800001111", "resident_pension", false
		req := func(p floorPerson) registration.Request {
			num, v := p.number, p.village
			return registration.Request{Name: &name, IDNumber: &num, Phone: &phone, VillageCode: &v, Employed: &no,
				LandExpropriated: &no, Scheme: &scheme, Tier: &tier}
		}
		return run(b, len(ps), func(i int) error {
			p := ps[i]
			actx := audit.Context{ActorKind: "resident", ActorID: p.accountID, Role: "resident", IP: "127.0.0.1", RequestID: "req"}
			_, err := svc.Register(ctx, actx, p.accountID, req(p))
			return err
		})
	}
	// Each variant runs between two raw runs, and its ratio is to their mean: the machine is
	// shared and its speed drifts between sub-benchmarks.
	order := []string{}
	rawNo := 0
	variant := func(name string, f func(b *testing.B) float64) {
		if rawNo == 0 {
			bench("raw0", raw)
		}
		bench(name, f)
		rawNo++
		bench(fmt.Sprintf("raw%d", rawNo), raw)
		order = append(order, name)
	}
	variant("statements", statements)
	variant("register", registerAs(false))
	variant("register_batched", registerAs(true))
	variant("statements_withlock", statementsOf(true, true))
	variant("statements_nolink", statementsOf(false, false))
	for _, fk := range []string{"fk_registrations_account", "fk_registrations_resident", "fk_registrations_village"} {
		if _, err := db.Exec("ALTER TABLE registrations DROP FOREIGN KEY " + fk); err != nil {
			b.Fatal(err)
		}
	}
	variant("statements_nofk", statements)
	variant("register_nofk", registerAs(false))
	if _, err := db.Exec("ALTER TABLE resident_accounts DROP FOREIGN KEY fk_accounts_resident"); err != nil {
		b.Fatal(err)
	}
	variant("statements_nofk_acc", statements)
	variant("register_nofk_acc", registerAs(false))
	ratio := map[string]float64{}
	for i, k := range order {
		a := (rates[fmt.Sprintf("raw%d", i)] + rates[fmt.Sprintf("raw%d", i+1)]) / 2
		ratio[k] = rates[k] / a
		b.Logf("%-20s %6.0f/s  raw around it %6.0f/s  ratio %.3f", k, rates[k], a, ratio[k])
	}
	b.Logf("register_batched/register: %.2f", ratio["register_batched"]/ratio["register"])
	for _, s := range []string{"", "_nofk", "_nofk_acc"} {
		b.Logf("register/statements%s: %.2f", s, ratio["register"+s]/ratio["statements"+s])
	}
}
