package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/canbao/canbao/bench/loadgen"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/seed/content"
)

const (
	policyConns       = 64
	registrationConns = 32
	mixedConns        = 64
	rawInsertConns    = 8
)

func (b *bench) apiURL() string { return "http://" + b.env.apiAddr }

// httpRun runs one load and records it on s (throughput, p50, p99).
func (b *bench) httpRun(ctx context.Context, r *result, s *side, base string, conns int, next func(int, *rand.Rand) (loadgen.Request, bool)) (loadgen.Result, error) {
	res, err := loadgen.Run(ctx, loadgen.Spec{BaseURL: base, Conns: conns, Warmup: b.opt.warmup, Duration: b.opt.duration, Next: next})
	if err != nil {
		return res, err
	}
	if res.Requests == 0 {
		return res, fmt.Errorf("no request completed against %s: %s", base, res.FirstErr)
	}
	if float64(res.Errors) > 0.05*float64(res.Requests) {
		return res, fmt.Errorf("%d of %d requests failed against %s; first: %s", res.Errors, res.Requests, base, res.FirstErr)
	}
	if res.Errors > 0 {
		r.note("%s: %d of %d requests failed (not counted in the throughput) %v; first: %s", s.What, res.Errors, res.Requests, res.ErrByName, res.FirstErr)
		b.log.Warn("failed requests", "target", s.What, "errors", res.Errors, "first", res.FirstErr)
	}
	s.add(res.RPS)
	s.P99Runs = append(s.P99Runs, ms(res.P99))
	s.P50Ms = ms(res.P50) // the last run's; replaced by the median below
	b.log.Info("load", "target", s.What, "result", res.String())
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// settleHTTP fills the medians, including p50 over the runs.
func settleHTTP(s *side, p50s []float64) {
	s.settle()
	if len(p50s) > 0 {
		s.P50Ms = median(p50s)
	}
}

// slugs are the published explainers the demo seed loads.
func slugs() ([]string, error) {
	arts, err := content.Articles()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(arts))
	for i, a := range arts {
		out[i] = a.Slug
	}
	return out, nil
}

// policy: GET /api/v1/policies/{slug} at 64 connections against a bare Gin JSON handler.
func (b *bench) policy(ctx context.Context) ([]result, error) {
	ss, err := slugs()
	if err != nil {
		return nil, err
	}
	slug := ss[0]
	path := "/api/v1/policies/" + slug
	var article map[string]any
	if err := b.env.call(ctx, http.MethodGet, path, "", nil, http.StatusOK, &article); err != nil {
		return nil, err
	}
	body, _ := json.Marshal(article)
	jsonFile := b.env.workDir + "/policy.json"
	if err := os.WriteFile(jsonFile, body, 0o600); err != nil {
		return nil, err
	}
	bare, bareURL, err := b.env.startBare(ctx, "policy", "-json", jsonFile)
	if err != nil {
		return nil, err
	}
	defer bare.stop()

	r := result{ID: "policy_get", Workload: fmt.Sprintf("`GET /api/v1/policies/{slug}`, %d connections, %s per repeat", policyConns, b.opt.duration),
		RatioDef: "canbao req/s ÷ baseline req/s", Goal: "≥ 0.6, and p99 ≤ 2× baseline p99", Repeats: b.opt.repeats}
	r.Canbao = side{What: "canbao", Unit: "req/s"}
	r.Baseline = side{What: "bare Gin JSON handler", Unit: "req/s"}
	r.note("the article is %q (%d bytes of JSON), answered from canbao's warm cache; the bare handler answers the same fields with c.JSON", slug, len(body))
	get := func(int, *rand.Rand) (loadgen.Request, bool) {
		return loadgen.Request{Name: "policy", Method: http.MethodGet, Path: path, Expect: http.StatusOK}, true
	}
	var p50c, p50b []float64
	for rep := range b.opt.repeats {
		r.Load1 = append(r.Load1, load1())
		base := func() error {
			res, err := b.httpRun(ctx, &r, &r.Baseline, bareURL, policyConns, get)
			p50b = append(p50b, ms(res.P50))
			return err
		}
		if rep%2 == 1 { // alternate which side goes first
			if err := base(); err != nil {
				return nil, err
			}
		}
		stopPerf := b.perf(ctx, rep, "policy", b.api.pid())
		c0 := b.counters(ctx)
		res, err := b.httpRun(ctx, &r, &r.Canbao, b.apiURL(), policyConns, get)
		b.recordCounters(&r.Canbao, rep, c0, float64(res.Sent), "request")
		stopPerf()
		if err != nil {
			return nil, err
		}
		p50c = append(p50c, ms(res.P50))
		if rep%2 == 0 {
			if err := base(); err != nil {
				return nil, err
			}
		}
	}
	settleHTTP(&r.Canbao, p50c)
	settleHTTP(&r.Baseline, p50b)
	r.Ratio = r.Canbao.Value / r.Baseline.Value
	r.Met = r.Ratio >= 0.6 && r.Canbao.P99Ms <= 2*r.Baseline.P99Ms
	r.note("p99 canbao %.2f ms vs baseline %.2f ms (%.1f×)", r.Canbao.P99Ms, r.Baseline.P99Ms, r.Canbao.P99Ms/r.Baseline.P99Ms)
	return []result{r}, nil
}

// registrant is one registration ready to send: its body and its account's token.
type registrant struct {
	body     []byte
	token    string
	onRoster bool
}

// residentTokens creates n resident accounts with multi-row INSERTs and signs a token for each.
func (b *bench) residentTokens(ctx context.Context, n int) ([]string, error) {
	prefix := fmt.Sprintf("bench-%d-%d-", time.Now().UnixNano(), b.accountNo)
	b.accountNo++
	now := database.Now()
	for start := 0; start < n; start += 1000 {
		end := min(n, start+1000)
		var q strings.Builder
		q.WriteString("INSERT INTO resident_accounts (openid, created_at, last_login_at) VALUES ")
		args := make([]any, 0, 3*(end-start))
		for i := start; i < end; i++ {
			if i > start {
				q.WriteByte(',')
			}
			q.WriteString("(?,?,?)")
			args = append(args, fmt.Sprintf("%s%07d", prefix, i), now, now)
		}
		if _, err := b.env.db.ExecContext(ctx, q.String(), args...); err != nil {
			return nil, err
		}
	}
	var ids []int64
	if err := b.env.db.SelectContext(ctx, &ids, "SELECT id FROM resident_accounts WHERE openid LIKE ? ORDER BY openid", prefix+"%"); err != nil {
		return nil, err
	}
	if len(ids) != n {
		return nil, fmt.Errorf("created %d accounts, want %d", len(ids), n)
	}
	tokens := make([]string, n)
	for i, id := range ids {
		tok, _, err := b.env.tokens.Issue(auth.Principal{Kind: auth.KindResident, ID: id, Role: auth.RoleResident, Version: 1})
		if err != nil {
			return nil, err
		}
		tokens[i] = tok
	}
	return tokens, nil
}

// takeRegistrants reserves n unused registrants, each with a new account: one registration
// per account and person. They are people on the roster (unenrolled, aged 45-55, not employed)
// while the reserved ones last, then new people of the same kind (added to the roster by the
// registration), which only happens at small -scale.
func (b *bench) takeRegistrants(ctx context.Context, n int) ([]registrant, error) {
	tokens, err := b.residentTokens(ctx, n)
	if err != nil {
		return nil, err
	}
	y, err := b.env.book.For(b.st.today.Year())
	if err != nil {
		return nil, err
	}
	tier := y.Tiers[0].Amount
	out := make([]registrant, n)
	for i := range out {
		var p person
		onRoster := b.regNext < len(b.st.registrants)
		if onRoster {
			p = b.st.registrants[b.regNext]
			b.regNext++
		} else {
			if b.extra == nil {
				b.extra = newPeople(b.env.kr, b.st.today, b.st.taken, b.st.villages, extraSlotBase)
			}
			for p = b.extra.Next(); !p.Registrant; p = b.extra.Next() {
			}
		}
		body, err := json.Marshal(map[string]any{"name": p.Name, "id_number": p.IDNumber, "phone": p.Phone, "village_code": p.Village,
			"employed": false, "land_expropriated": false, "scheme": "resident_pension", "tier": tier})
		if err != nil {
			return nil, err
		}
		out[i] = registrant{body: body, token: tokens[i], onRoster: onRoster}
	}
	return out, nil
}

// used records that the first n of regs were sent, and gives back the unused people of the
// roster.
func (b *bench) used(regs []registrant, n int) {
	n = min(n, len(regs))
	b.registered += n
	for i, r := range regs {
		switch {
		case i < n && !r.onRoster:
			b.extraUsed++
		case i >= n && r.onRoster:
			b.regNext--
		}
	}
}

// registration: POST /api/v1/registrations at 32 connections, a distinct person and account
// each, against a raw prepared single-row INSERT at 8 connections.
func (b *bench) registration(ctx context.Context) ([]result, error) {
	r := result{ID: "registration_post", Workload: fmt.Sprintf("`POST /api/v1/registrations`, %d connections, distinct people on the roster, %s per repeat", registrationConns, b.opt.duration),
		RatioDef: "canbao req/s ÷ baseline rows/s", Goal: "≥ 0.5", Repeats: b.opt.repeats}
	r.Canbao = side{What: "canbao", Unit: "req/s"}
	r.Baseline = side{What: fmt.Sprintf("prepared single-row INSERT, %d connections", rawInsertConns), Unit: "rows/s"}
	if _, err := b.env.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS bench_raw (id BIGINT AUTO_INCREMENT PRIMARY KEY,
		a VARBINARY(96), b VARBINARY(96), c VARCHAR(64), d INT, e DATETIME(6))`); err != nil {
		return nil, err
	}
	expect := 3000.0 // registrations a second, until a repeat says better
	var p50c []float64
	var regs0 []registrant // the first repeat's, whose bodies the ceiling sends again
	for rep := range b.opt.repeats {
		r.Load1 = append(r.Load1, load1())
		need := int(expect*(b.opt.warmup+b.opt.duration).Seconds()*1.5) + 500
		regs, err := b.takeRegistrants(ctx, need)
		if err != nil {
			return nil, err
		}
		if regs0 == nil {
			regs0 = regs
		}
		base := func() error {
			rows, err := b.rawInsert(ctx)
			r.Baseline.add(rows)
			b.log.Info("raw insert", "rows_per_s", int(rows))
			return err
		}
		if rep%2 == 1 { // alternate which side goes first
			if err := base(); err != nil {
				return nil, err
			}
		}
		var next atomic.Int64
		stopPerf := b.perf(ctx, rep, "registration", b.api.pid())
		c0 := b.counters(ctx)
		res, err := b.httpRun(ctx, &r, &r.Canbao, b.apiURL(), registrationConns, func(int, *rand.Rand) (loadgen.Request, bool) {
			i := next.Add(1) - 1
			if i >= int64(len(regs)) {
				return loadgen.Request{}, false
			}
			return loadgen.Request{Name: "registration", Method: http.MethodPost, Path: "/api/v1/registrations", Body: regs[i].body,
				Token: regs[i].token, Expect: http.StatusCreated}, true
		})
		b.recordCounters(&r.Canbao, rep, c0, float64(res.Sent), "request")
		stopPerf()
		if err != nil {
			return nil, err
		}
		if res.Exhausted {
			r.note("repeat %d ran out of prepared registrants after %.1f s of measurement", rep+1, res.Elapsed.Seconds())
		}
		b.used(regs, int(next.Load()))
		expect = max(res.RPS, 100)
		p50c = append(p50c, ms(res.P50))
		if rep%2 == 0 {
			if err := base(); err != nil {
				return nil, err
			}
		}
	}
	settleHTTP(&r.Canbao, p50c)
	r.Baseline.settle()
	r.Ratio = r.Canbao.Value / r.Baseline.Value
	r.Met = r.Ratio >= 0.5
	if err := b.registrationCeiling(ctx, &r, regs0); err != nil {
		return nil, err
	}
	r.note("every registration is by a distinct person (unenrolled, 45-55, not employed) from a new account; %d registrations sent", b.registered)
	b.noteRegistrants(&r)
	return []result{r}, nil
}

// registrationCeiling measures, once after the repeats, a bare Gin handler making a
// registration's round trips without its write (canbao-bench bare -kind lookup: the body
// decoded, a Redis GET, a Redis script, the roster's point SELECT) at the workload's
// connections, and notes it as a fraction of the raw INSERT: what no registration on this
// machine can beat, however cheap its write.
func (b *bench) registrationCeiling(ctx context.Context, r *result, regs []registrant) error {
	if len(regs) == 0 {
		return nil
	}
	bare, url, err := b.env.startBare(ctx, "lookup", "-dsn", b.env.dsn(benchDB), "-conns", fmt.Sprint(b.env.cfg.MySQL.MaxOpenConns),
		"-redis", b.env.redis, "-prefix", benchRedisPrefix)
	if err != nil {
		return err
	}
	defer bare.stop()
	var ceiling side
	ceiling.What = "bare Gin: a registration's round trips without its write"
	res, err := b.httpRun(ctx, r, &ceiling, url, registrationConns, func(_ int, rnd *rand.Rand) (loadgen.Request, bool) {
		return loadgen.Request{Name: "ceiling", Method: http.MethodPost, Path: "/registration", Body: regs[rnd.IntN(len(regs))].body, Expect: http.StatusCreated}, true
	})
	if err != nil {
		return err
	}
	r.Baseline.extra("ceiling_req_per_s", res.RPS)
	b.log.Info("registration ceiling", "req_per_s", int(res.RPS), "of_raw", res.RPS/r.Baseline.Value)
	r.note("ceiling: a bare Gin handler making a registration's round trips but not its write (JSON body decoded, one Redis GET, one Redis script, the roster's point SELECT), %d connections: %.0f req/s, %.2f of the raw INSERT", registrationConns, res.RPS, res.RPS/r.Baseline.Value)
	return nil
}

// rawInsert is the registration baseline: a prepared single-row INSERT of a registration's
// width, autocommit, rawInsertConns at once, for warm-up + duration; it returns rows/s.
func (b *bench) rawInsert(ctx context.Context) (float64, error) {
	stmt, err := b.env.db.PreparexContext(ctx, `INSERT INTO bench_raw (a, b, c, d, e) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	encID, encPhone := make([]byte, 46), make([]byte, 39)
	for i := range encID {
		encID[i] = byte(i * 7)
	}
	start := time.Now()
	from, end := start.Add(b.opt.warmup), start.Add(b.opt.warmup+b.opt.duration)
	var (
		wg       sync.WaitGroup
		count    atomic.Int64
		firstErr atomic.Pointer[error]
	)
	for range rawInsertConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				now := time.Now()
				if !now.Before(end) || ctx.Err() != nil {
					return
				}
				if _, err := stmt.ExecContext(ctx, encID, encPhone, "陈美玲", 300, database.Now()); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				if t := time.Now(); !now.Before(from) && t.Before(end) {
					count.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		return 0, *p
	}
	return float64(count.Load()) / b.opt.duration.Seconds(), nil
}

// mixed: resident traffic, 80% GET (policies, the policy list, tiers, villages), 15% POST
// eligibility, 5% registrations, at 64 connections, against a bare Gin handler making one
// MariaDB point SELECT.
func (b *bench) mixed(ctx context.Context) ([]result, error) {
	ss, err := slugs()
	if err != nil {
		return nil, err
	}
	r := result{ID: "mixed", Workload: fmt.Sprintf("mixed resident traffic (80%% GET policies/tiers/villages, 15%% POST eligibility, 5%% registrations), %d connections, %s per repeat", mixedConns, b.opt.duration),
		RatioDef: "canbao req/s ÷ baseline req/s", Goal: "≥ 1.0", Repeats: b.opt.repeats}
	r.Canbao = side{What: "canbao", Unit: "req/s"}
	r.Baseline = side{What: "bare Gin handler, one point SELECT", Unit: "req/s"}
	bare, bareURL, err := b.env.startBare(ctx, "select", "-dsn", b.env.dsn(benchDB), "-conns", fmt.Sprint(b.env.cfg.MySQL.MaxOpenConns))
	if err != nil {
		return nil, err
	}
	defer bare.stop()

	// Eligibility questions: people of the roster (any valid number may ask), asked by signed-in residents.
	g := newPeople(b.env.kr, b.st.today, nil, []string{"x"}, 0)
	askers, err := b.residentTokens(ctx, 256)
	if err != nil {
		return nil, err
	}
	var questions [][]byte
	for i := range 4096 {
		q, _ := json.Marshal(map[string]any{"id_number": g.IDAt(uint64(i) * 977), "employed": i%3 == 0, "land_expropriated": i%20 == 0})
		questions = append(questions, q)
	}
	listPaths := []string{"/api/v1/policies", "/api/v1/tiers", "/api/v1/villages"}
	expect := 5000.0
	var p50c, p50b []float64
	for rep := range b.opt.repeats {
		r.Load1 = append(r.Load1, load1())
		need := int(expect*0.05*(b.opt.warmup+b.opt.duration).Seconds()*1.5) + 300
		regs, err := b.takeRegistrants(ctx, need)
		if err != nil {
			return nil, err
		}
		var next atomic.Int64
		gen := func(_ int, rnd *rand.Rand) (loadgen.Request, bool) {
			switch x := rnd.IntN(100); {
			case x < 35:
				return loadgen.Request{Name: "policy", Method: http.MethodGet, Path: "/api/v1/policies/" + ss[rnd.IntN(len(ss))], Expect: http.StatusOK}, true
			case x < 80:
				p := listPaths[(x-35)/15]
				return loadgen.Request{Name: p, Method: http.MethodGet, Path: p, Expect: http.StatusOK}, true
			case x < 95:
				return loadgen.Request{Name: "eligibility", Method: http.MethodPost, Path: "/api/v1/eligibility", Body: questions[rnd.IntN(len(questions))],
					Token: askers[rnd.IntN(len(askers))], Expect: http.StatusOK}, true
			default:
				i := next.Add(1) - 1
				if i >= int64(len(regs)) {
					return loadgen.Request{}, false
				}
				return loadgen.Request{Name: "registration", Method: http.MethodPost, Path: "/api/v1/registrations", Body: regs[i].body,
					Token: regs[i].token, Expect: http.StatusCreated}, true
			}
		}
		villages := b.st.villages
		base := func() error {
			res, err := b.httpRun(ctx, &r, &r.Baseline, bareURL, mixedConns, func(_ int, rnd *rand.Rand) (loadgen.Request, bool) {
				return loadgen.Request{Name: "village", Method: http.MethodGet, Path: "/village/" + villages[rnd.IntN(len(villages))], Expect: http.StatusOK}, true
			})
			p50b = append(p50b, ms(res.P50))
			return err
		}
		if rep%2 == 1 { // alternate which side goes first
			if err := base(); err != nil {
				return nil, err
			}
		}
		stopPerf := b.perf(ctx, rep, "mixed", b.api.pid())
		c0 := b.counters(ctx)
		res, err := b.httpRun(ctx, &r, &r.Canbao, b.apiURL(), mixedConns, gen)
		b.recordCounters(&r.Canbao, rep, c0, float64(res.Sent), "request")
		stopPerf()
		if err != nil {
			return nil, err
		}
		if res.Exhausted {
			r.note("repeat %d ran out of prepared registrants", rep+1)
		}
		b.used(regs, int(next.Load()))
		expect = max(res.RPS, 100)
		p50c = append(p50c, ms(res.P50))
		if rep == 0 {
			r.Canbao.extra("requests_by_kind_repeat1", res.ByName)
			r.Canbao.extra("mean_ms_by_kind_repeat1", res.MeanMs)
		}
		if rep%2 == 0 {
			if err := base(); err != nil {
				return nil, err
			}
		}
	}
	settleHTTP(&r.Canbao, p50c)
	settleHTTP(&r.Baseline, p50b)
	r.Ratio = r.Canbao.Value / r.Baseline.Value
	r.Met = r.Ratio >= 1.0
	b.noteRegistrants(&r)
	r.note("GETs: 35%% a policy explainer (random of %d), 15%% each the policy list, the tiers and the villages (%d); eligibility by signed-in residents; the baseline's pool has %d connections like canbao's",
		len(ss), len(b.st.villages), b.env.cfg.MySQL.MaxOpenConns)
	return []result{r}, nil
}

// noteRegistrants says whether registrants were on the roster.
func (b *bench) noteRegistrants(r *result) {
	if b.extraUsed == 0 {
		r.note("all registrants so far were people already on the roster (%d of %d reserved ones taken)", b.regNext, len(b.st.registrants))
	} else {
		r.note("the %d reserved people of the roster ran out: %d registrants so far were new people, added to the roster by their registration", len(b.st.registrants), b.extraUsed)
	}
}

// recordCounters stores, for the first repeat, the server counters per operation since c0.
func (b *bench) recordCounters(s *side, rep int, c0 serverCounters, ops float64, unit string) {
	if rep != 0 || ops <= 0 {
		return
	}
	s.extra("server_counters_per_"+unit+"_repeat1", perOp(c0, b.counters(context.Background()), ops))
}
