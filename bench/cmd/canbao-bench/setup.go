package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
)

// The grown roster: the demo's 14 villages plus newVillages synthetic ones.
const (
	totalVillages  = 300
	villagePrefix  = "bv"
	growBatchRows  = 1000
	growInserters  = 3
	enrollEveryNth = 7 // one insured grown resident in enrollEveryNth has a new enrollment since the plan
)

// rosterState is what the workloads need to know about the prepared database.
type rosterState struct {
	residents   int
	villages    []string // every village code
	registrants []person // reserved unenrolled people, for registrations
	taken       map[string]bool
	today       time.Time
	nextSlot    uint64 // first slot not used by the roster
}

func (e *env) today() time.Time {
	y, m, d := time.Now().In(e.loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// prepare drops and rebuilds canbao_bench: migrate, seed demo, a staff account, then the
// roster grown to target residents in 300 villages.
func (e *env) prepare(ctx context.Context, target int, log *slog.Logger) (*rosterState, error) {
	if err := e.dropBenchDB(ctx); err != nil {
		return nil, fmt.Errorf("drop %s: %w", benchDB, err)
	}
	if n, err := e.clearRedis(ctx); err != nil {
		return nil, err
	} else if n > 0 {
		log.Info("removed Redis keys left by an earlier run", "keys", n)
	}
	for _, args := range [][]string{{"migrate"}, {"seed", "demo"}} {
		t := time.Now()
		if out, err := e.runCanbao(ctx, "", args...); err != nil {
			return nil, fmt.Errorf("canbao %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		log.Info("canbao "+strings.Join(args, " "), "s", since(t))
	}
	if out, err := e.runCanbao(ctx, benchAdminPassword+"\n", "user", "create", "--username", benchAdmin, "--role", "admin", "--name", "基准测试"); err != nil {
		return nil, fmt.Errorf("canbao user create: %w\n%s", err, out)
	}
	if err := e.openDB(ctx); err != nil {
		return nil, err
	}
	return e.grow(ctx, target, log)
}

// attach reads the state of a database prepared by an earlier run (-reuse).
func (e *env) attach(ctx context.Context, log *slog.Logger) (*rosterState, error) {
	if err := e.openDB(ctx); err != nil {
		return nil, err
	}
	st, err := e.baseState(ctx)
	if err != nil {
		return nil, err
	}
	// The grown people are the synthetic villages' rows of the first timestamp (the roster
	// imports of later workloads came after).
	var grown int
	if err := e.db.GetContext(ctx, &grown, `SELECT COUNT(*) FROM residents WHERE village_code LIKE 'bv%'
		AND created_at = (SELECT MIN(created_at) FROM residents WHERE village_code LIKE 'bv%')`); err != nil {
		return nil, err
	}
	// Regenerate the grown people to find the registrants again (deterministic).
	g := newPeople(e.kr, st.today, st.taken, st.villages[14:], 0)
	for range grown {
		p := g.Next()
		if p.Registrant {
			st.registrants = append(st.registrants, p)
		}
	}
	st.nextSlot = g.next
	if err := e.db.GetContext(ctx, &st.residents, `SELECT COUNT(*) FROM residents`); err != nil {
		return nil, err
	}
	// Registrants who registered in an earlier run cannot register again this year.
	var used []int64
	if err := e.db.SelectContext(ctx, &used, `SELECT COUNT(*) FROM registrations`); err == nil && len(used) == 1 && used[0] > 0 {
		log.Warn("reused database already holds registrations: those registrants are skipped", "registrations", used[0])
		var bidx [][]byte
		if err := e.db.SelectContext(ctx, &bidx, `SELECT r.id_number_bidx FROM registrations g JOIN residents r ON r.id = g.resident_id`); err != nil {
			return nil, err
		}
		done := map[string]bool{}
		for _, b := range bidx {
			done[string(b)] = true
		}
		kept := st.registrants[:0]
		for _, p := range st.registrants {
			if !done[string(p.Bidx)] {
				kept = append(kept, p)
			}
		}
		st.registrants = kept
	}
	log.Info("attached to the existing database", "residents", st.residents, "registrants", len(st.registrants))
	return st, nil
}

// baseState reads the demo roster's blind indexes and the village list.
func (e *env) baseState(ctx context.Context) (*rosterState, error) {
	st := &rosterState{today: e.today(), taken: map[string]bool{}}
	var bidx [][]byte
	if err := e.db.SelectContext(ctx, &bidx, `SELECT id_number_bidx FROM residents WHERE source = 'seed'`); err != nil {
		return nil, err
	}
	for _, b := range bidx {
		st.taken[string(b)] = true
	}
	var demo []string
	if err := e.db.SelectContext(ctx, &demo, `SELECT code FROM villages WHERE code NOT LIKE 'bv%' ORDER BY sort_order, code`); err != nil {
		return nil, err
	}
	st.villages = append(demo, synthVillages(totalVillages-len(demo))...)
	return st, nil
}

func synthVillages(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%03d", villagePrefix, i+1)
	}
	return out
}

// grow adds the synthetic villages, their plan rows, the residents up to target, and new
// enrollments for some of them.
func (e *env) grow(ctx context.Context, target int, log *slog.Logger) (*rosterState, error) {
	st, err := e.baseState(ctx)
	if err != nil {
		return nil, err
	}
	demoResidents := len(st.taken)
	add := max(0, target-demoResidents)
	synth := st.villages[len(st.villages)-(totalVillages-14):]
	if len(st.villages) != totalVillages {
		return nil, fmt.Errorf("expected 14 demo villages, found %d", len(st.villages)-len(synth))
	}
	now := database.Now()

	// Villages.
	var q strings.Builder
	var args []any
	q.WriteString(`INSERT INTO villages (code, name, town, sort_order, created_at) VALUES `)
	for i, code := range synth {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString("(?,?,?,?,?)")
		args = append(args, code, fmt.Sprintf("基准村%03d", i+1), "罗东镇", 100+i, now)
	}
	if _, err := e.db.ExecContext(ctx, q.String(), args...); err != nil {
		return nil, fmt.Errorf("villages: %w", err)
	}

	// Residents: generated in order, encrypted and inserted by a few connections at once.
	t := time.Now()
	g := newPeople(e.kr, st.today, st.taken, synth, 0)
	batches := make(chan []person, 4)
	go func() {
		defer close(batches)
		for left := add; left > 0; {
			n := min(left, growBatchRows)
			b := make([]person, n)
			for i := range b {
				b[i] = g.Next()
				if b[i].Registrant {
					st.registrants = append(st.registrants, b[i])
				}
			}
			left -= n
			select {
			case batches <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		inserted int
	)
	for range growInserters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := e.db.Connx(ctx)
			if err == nil {
				defer conn.Close()
				// Bulk load of data known to be unique and to reference existing villages. The
				// session goes back to the pool afterwards, so the checks are turned on again
				// (with them off, an INSERT into an empty table takes a table lock).
				defer func() {
					_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SET SESSION unique_checks = 1, foreign_key_checks = 1`)
				}()
				_, err = conn.ExecContext(ctx, `SET SESSION unique_checks = 0, foreign_key_checks = 0`)
			}
			for b := range batches {
				if err == nil {
					err = insertPeople(ctx, conn, e.kr, now, b)
				}
				if err == nil {
					mu.Lock()
					inserted += len(b)
					if inserted%100_000 < growBatchRows {
						log.Info("growing the roster", "inserted", inserted, "of", add, "s", since(t))
					}
					mu.Unlock()
				}
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("grow residents: %w", firstErr)
	}
	st.nextSlot = g.next
	log.Info("roster grown", "added", add, "registrants", len(st.registrants), "s", since(t),
		"rows_per_s", int(float64(add)/time.Since(t).Seconds()))

	// New enrollments since the plan for some insured people, spread over the drive's days,
	// and the daily aggregate and running totals the progress report reads, rebuilt from them.
	t = time.Now()
	days := int(st.today.Sub(time.Date(2019, 7, 18, 0, 0, 0, 0, time.UTC)).Hours() / 24)
	if _, err := e.db.ExecContext(ctx, `INSERT INTO enrollments (resident_id, village_code, scheme, source, source_id, enrolled_on, created_at)
		SELECT id, village_code, status, 'import', NULL, DATE_ADD('2019-07-18', INTERVAL (id * 7919) % ? DAY), ?
		FROM residents WHERE village_code LIKE 'bv%' AND status IN ('resident_pension', 'employee_pension') AND id % ? = 0`,
		days, now, enrollEveryNth); err != nil {
		return nil, fmt.Errorf("enrollments: %w", err)
	}
	if _, err := e.db.ExecContext(ctx, `DELETE FROM enrollment_daily`); err != nil {
		return nil, err
	}
	if _, err := e.db.ExecContext(ctx, `INSERT INTO enrollment_daily (village_code, enrolled_on, enrolled)
		SELECT village_code, enrolled_on, COUNT(*) FROM enrollments GROUP BY village_code, enrolled_on`); err != nil {
		return nil, fmt.Errorf("enrollment_daily: %w", err)
	}
	if _, err := e.db.ExecContext(ctx, `DELETE FROM enrollment_totals`); err != nil {
		return nil, err
	}
	if _, err := e.db.ExecContext(ctx, `INSERT INTO enrollment_totals (village_code, enrolled)
		SELECT village_code, SUM(enrolled) FROM enrollment_daily GROUP BY village_code`); err != nil {
		return nil, fmt.Errorf("enrollment_totals: %w", err)
	}
	// The synthetic villages' rows of the plan: baseline from their residents, target 62% of
	// the unenrolled, 2019 task 80% of it, 2020 all of it.
	var planID int64
	if err := e.db.GetContext(ctx, &planID, `SELECT id FROM plans ORDER BY id DESC LIMIT 1`); err != nil {
		return nil, err
	}
	if _, err := e.db.ExecContext(ctx, `INSERT INTO plan_targets (plan_id, village_code, population_16_59, enrolled_baseline, unenrolled_baseline, expansion_target)
		SELECT ?, village_code, COUNT(*), SUM(status = 'resident_pension'), SUM(status = 'unenrolled'), ROUND(SUM(status = 'unenrolled') * 0.62)
		FROM residents WHERE village_code LIKE 'bv%' GROUP BY village_code`, planID); err != nil {
		return nil, fmt.Errorf("plan_targets: %w", err)
	}
	if _, err := e.db.ExecContext(ctx, `INSERT INTO plan_tasks (plan_id, village_code, year, task)
		SELECT plan_id, village_code, 2019, ROUND(expansion_target * 0.8) FROM plan_targets WHERE plan_id = ? AND village_code LIKE 'bv%'
		UNION ALL SELECT plan_id, village_code, 2020, expansion_target FROM plan_targets WHERE plan_id = ? AND village_code LIKE 'bv%'`, planID, planID); err != nil {
		return nil, fmt.Errorf("plan_tasks: %w", err)
	}
	if _, err := e.db.ExecContext(ctx, `ANALYZE TABLE residents, enrollments, enrollment_daily, enrollment_totals, plan_targets, plan_tasks`); err != nil {
		return nil, err
	}
	if err := e.db.GetContext(ctx, &st.residents, `SELECT COUNT(*) FROM residents`); err != nil {
		return nil, err
	}
	log.Info("enrollments and plan rows of the synthetic villages", "s", since(t), "residents", st.residents)
	return st, nil
}

const residentInsertHead = `INSERT INTO residents (id_number_enc, id_number_bidx, phone_enc, phone_bidx, pii_key_id, name, gender,
	birth_date, village_code, employed, land_expropriated, status, source, created_at, updated_at) VALUES `

// insertPeople encrypts a batch with the app's keyring and writes it in one multi-row INSERT.
func insertPeople(ctx context.Context, conn *sqlx.Conn, kr *pii.Keyring, now time.Time, b []person) error {
	var q strings.Builder
	q.Grow(len(residentInsertHead) + len(b)*34)
	q.WriteString(residentInsertHead)
	args := make([]any, 0, len(b)*15)
	for i, p := range b {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
		idEnc, kid, err := kr.Encrypt(p.IDNumber, pii.AADResidentIDNumber)
		if err != nil {
			return err
		}
		var phoneEnc, phoneBidx any
		if p.Phone != "" {
			ct, _, err := kr.Encrypt(p.Phone, pii.AADResidentPhone)
			if err != nil {
				return err
			}
			phoneEnc, phoneBidx = ct, kr.BlindIndex(pii.IndexPhone, p.Phone)
		}
		args = append(args, idEnc, p.Bidx, phoneEnc, phoneBidx, kid, p.Name, string(p.Gender), p.Birth.Format(time.DateOnly),
			p.Village, p.Employed, p.Land, p.Status, "import", now, now)
	}
	_, err := conn.ExecContext(ctx, q.String(), args...)
	return err
}

func since(t time.Time) float64 {
	return float64(time.Since(t).Milliseconds()) / 1000
}
