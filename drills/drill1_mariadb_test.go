//go:build drills

package drills

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Drill 1: MariaDB restarted under registration load. While 64 clients register people (each
// retrying on 503 after Retry-After, with its Idempotency-Key) and probes read every 100 ms, the
// private MariaDB is stopped twice, a clean shutdown (SIGTERM) then a crash (SIGKILL), kept down
// 4 s and started again, with a burst of registrations fired right at each stop. During the
// outages the API must answer 503 with Retry-After, never another 5xx; it must recover by itself
// within seconds; afterwards every 201 a client got is its registration in the database, nobody
// is registered twice, and the database holds no registration its client was not told about.
func TestDrill1MariaDBRestartUnderLoad(t *testing.T) {
	e := newEnv(t, "d1_mariadb_restart", "")
	srv := e.serve("api", nil, "--no-engine")

	const (
		nAccounts  = 400
		perAccount = 3
		workers    = 64
		ratePerSec = 80                // new registrations started per second
		downFor    = 4 * time.Second   // MariaDB stays down this long
		firstStop  = 3 * time.Second   // clean shutdown, into the load
		secondStop = 10 * time.Second  // SIGKILL, into the load
		budget     = 150 * time.Second // the whole load phase, retries included
		maxTries   = 40
		burst      = 96 // registrations fired at once right before each stop
	)
	accounts, tokens := e.residentAccounts(nAccounts, "d1")
	ps := people("d1", accounts, tokens, perAccount)
	e.logf("load: %d accounts × %d people = %d registrations: %d clients, %d new per second, plus a burst of %d fired 3 ms before each stop; each retried on 503 (honouring Retry-After) with its Idempotency-Key",
		nAccounts, perAccount, len(ps), workers, ratePerSec, burst)

	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	rec := &recorder{}
	type final struct {
		outcome string // created | already | gave_up | rejected
		receipt int64
		tries   int
		took    time.Duration
	}
	finals := make([]final, len(ps))
	loadStart := time.Now()
	deadline := loadStart.Add(budget)

	// Watch /readyz during the drill.
	readyStop := make(chan struct{})
	var readyMu sync.Mutex
	ready := map[int]int{}
	go func() {
		for {
			select {
			case <-readyStop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			resp, err := client.Get(srv.url("/readyz"))
			code := 0
			if err == nil {
				code = resp.StatusCode
				resp.Body.Close()
			}
			readyMu.Lock()
			ready[code]++
			readyMu.Unlock()
		}
	}()

	// Probes read through the API every 100 ms (GET /api/v1/registrations/mine), without
	// backing off, to see the outage and the recovery sharply.
	type probe struct {
		at     time.Time
		status int
		ra     string
		took   time.Duration
	}
	var probeMu sync.Mutex
	var probes []probe
	probeStop := make(chan struct{})
	var probeWG sync.WaitGroup
	for i := 0; i < 4; i++ {
		probeWG.Add(1)
		go func(tok string) {
			defer probeWG.Done()
			for {
				select {
				case <-probeStop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				start := time.Now()
				req, _ := http.NewRequest("GET", srv.url("/api/v1/registrations/mine"), nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				pr := probe{at: start}
				if resp, err := client.Do(req); err == nil {
					pr.status, pr.ra = resp.StatusCode, resp.Header.Get("Retry-After")
					resp.Body.Close()
				}
				pr.took = time.Since(start)
				probeMu.Lock()
				probes = append(probes, pr)
				probeMu.Unlock()
			}
		}(tokens[i])
	}

	// register takes one person through to a final answer, retrying as a client should.
	register := func(i int) {
		p := ps[i]
		start := time.Now()
		f := final{outcome: "gave_up"}
		for try := 1; try <= maxTries && time.Now().Before(deadline); try++ {
			a := postRegistration(client, "http://"+srv.addr, p, try, true, nil)
			rec.add(a)
			f.tries = try
			wait := time.Duration(0)
			switch {
			case a.status == 201:
				f.outcome, f.receipt = "created", a.receipt
			case a.status == 409 && a.code == "ALREADY_REGISTERED":
				f.outcome = "already"
			case a.status == 503, a.status == 409 && a.code == "IDEMPOTENCY_KEY_IN_USE", a.status == 429:
				secs, _ := strconv.Atoi(a.retryAfter)
				wait = time.Duration(max(secs, 1)) * time.Second
			case a.status >= 500 || a.status == 0:
				wait = time.Second
			default:
				f.outcome = "rejected"
			}
			if f.outcome != "gave_up" {
				break
			}
			time.Sleep(min(wait, 5*time.Second, time.Until(deadline)))
		}
		f.took = time.Since(start)
		finals[i] = f
	}
	// The steady load takes ps[:steady]; the rest are bursts fired right at each stop, so that
	// requests are mid-query when MariaDB goes away.
	steady := len(ps) - burst*2
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				register(i)
			}
		}()
	}
	fireBurst := func(k int) {
		for i := steady + k*burst; i < steady+(k+1)*burst; i++ {
			wg.Add(1)
			go func(i int) { defer wg.Done(); register(i) }(i)
		}
	}

	// The outages, on their own clock: a clean restart, then a crash (SIGKILL) and restart.
	type outage struct {
		sig                     syscall.Signal
		at                      time.Duration // into the load
		stopBegan, downAt, upAt time.Time
	}
	outages := []*outage{{sig: syscall.SIGTERM, at: firstStop}, {sig: syscall.SIGKILL, at: secondStop}}
	outageDone := make(chan error, 1)
	go func() {
		for k, o := range outages {
			time.Sleep(time.Until(loadStart.Add(o.at)))
			fireBurst(k)
			time.Sleep(3 * time.Millisecond)
			o.stopBegan = time.Now()
			if err := maria.stop(o.sig, 60*time.Second); err != nil {
				outageDone <- err
				return
			}
			o.downAt = time.Now()
			time.Sleep(downFor)
			if err := maria.start(); err != nil {
				outageDone <- err
				return
			}
			o.upAt = time.Now()
		}
		outageDone <- nil
	}()

	tick := time.NewTicker(time.Second / ratePerSec)
	for i := range ps[:steady] {
		<-tick.C
		jobs <- i
	}
	tick.Stop()
	close(jobs)
	if err := <-outageDone; err != nil {
		t.Fatalf("restarting MariaDB: %v", err)
	}
	for _, o := range outages {
		e.logf("MariaDB %s at +%s, down at +%s (stop took %s), started again, answering at +%s (down %s)",
			o.sig, rel(loadStart, o.stopBegan), rel(loadStart, o.downAt), o.downAt.Sub(o.stopBegan).Round(time.Millisecond),
			rel(loadStart, o.upAt), o.upAt.Sub(o.downAt).Round(time.Millisecond))
	}
	stopBegan, upAt := outages[0].stopBegan, outages[len(outages)-1].upAt
	wg.Wait()
	close(readyStop)
	close(probeStop)
	probeWG.Wait()
	loadTook := time.Since(loadStart)

	// The outages as the probes saw them.
	probeHist := map[string]int{}
	var slowest503 time.Duration
	for _, pr := range probes {
		k := strconv.Itoa(pr.status)
		if pr.status == 503 {
			slowest503 = max(slowest503, pr.took)
			if secs, err := strconv.Atoi(pr.ra); err != nil || secs < 1 {
				t.Errorf("INVARIANT: probe got 503 without a usable Retry-After (%q)", pr.ra)
			}
		}
		probeHist[k]++
	}
	e.logf("probes: %d reads: %s; slowest 503 took %s", len(probes), fmtCounts(probeHist), slowest503.Round(time.Millisecond))
	for _, o := range outages {
		var first503, firstOK time.Time
		n503, nOther := 0, 0
		for _, pr := range probes {
			if pr.at.Before(o.stopBegan) {
				continue
			}
			switch {
			case pr.status == 503 && (pr.at.Before(o.upAt) || firstOK.IsZero()):
				n503++
				if first503.IsZero() {
					first503 = pr.at
				}
			case pr.status == 200 && pr.at.After(o.upAt) && firstOK.IsZero():
				firstOK = pr.at
			case pr.status != 200 && pr.status != 503 && pr.at.Before(o.upAt.Add(5*time.Second)):
				nOther++
			}
		}
		e.logf("  %s outage: probes got 503 × %d from +%s; first 200 at +%s, %s after MariaDB answered again; other answers %d",
			o.sig, n503, rel(loadStart, first503), rel(loadStart, firstOK), firstOK.Sub(o.upAt).Round(time.Millisecond), nOther)
		if n503 == 0 {
			t.Errorf("DRILL: the probes saw no 503 during the %s outage", o.sig)
		}
		if firstOK.IsZero() || firstOK.Sub(o.upAt) > 10*time.Second {
			t.Errorf("INVARIANT: the API did not recover within 10s of MariaDB's return after %s (first 200 at +%s)", o.sig, rel(loadStart, firstOK))
		}
		if nOther > 0 {
			t.Errorf("INVARIANT: probes got %d answers other than 200/503 around the %s outage", nOther, o.sig)
		}
	}

	// What the clients saw.
	as := rec.all()
	e.logf("load done in %s: %d attempts: %s", loadTook.Round(time.Millisecond), len(as), statusHistogram(as))
	var n503, n503NoRA, n5xx, createdAfterUp, transport int
	var first503, last503 time.Time
	for _, a := range as {
		switch {
		case a.status == 503:
			n503++
			if first503.IsZero() || a.end.Before(first503) {
				first503 = a.end
			}
			if a.end.After(last503) {
				last503 = a.end
			}
			if secs, err := strconv.Atoi(a.retryAfter); err != nil || secs < 1 {
				n503NoRA++
				if n503NoRA <= 5 {
					t.Errorf("INVARIANT: 503 without a usable Retry-After (%q), request %s", a.retryAfter, a.rid)
				}
			}
		case a.status >= 500:
			n5xx++
			if n5xx <= 10 {
				t.Errorf("INVARIANT: %d %s during the drill (request %s at +%s; MariaDB stop at +%s, up at +%s): %s",
					a.status, a.code, a.rid, rel(loadStart, a.end), rel(loadStart, stopBegan), rel(loadStart, upAt),
					serverError(srv, a.rid))
			}
		case a.status == 201 && a.start.After(upAt):
			createdAfterUp++
		case a.status == 0:
			transport++
		}
	}
	e.logf("outage as the clients saw it: %d × 503 (all with Retry-After: %v) from +%s to +%s; %d other 5xx; %d transport errors; %d registrations created after MariaDB was back",
		n503, n503NoRA == 0, rel(loadStart, first503), rel(loadStart, last503), n5xx, transport, createdAfterUp)
	readyMu.Lock()
	e.logf("/readyz during the drill: %v (status → count)", ready)
	readyMu.Unlock()
	// A request cut off mid-flight leaves its Idempotency-Key in flight (the server could not
	// free it while MariaDB was down); retries with that key wait for its lease.
	inUse := map[int][2]time.Time{}
	for _, a := range as {
		if a.code == "IDEMPOTENCY_KEY_IN_USE" {
			w := inUse[a.person]
			if w[0].IsZero() || a.start.Before(w[0]) {
				w[0] = a.start
			}
			if a.end.After(w[1]) {
				w[1] = a.end
			}
			inUse[a.person] = w
		}
	}
	if len(inUse) > 0 {
		var longest time.Duration
		for n, w := range inUse {
			for _, a := range as {
				if a.person == n && a.status == 201 {
					longest = max(longest, a.end.Sub(w[0]))
				}
			}
		}
		e.logf("FINDING: %d registrations were cut off mid-request; their retries got 409 IDEMPOTENCY_KEY_IN_USE (each held ~10 s) until the dead attempt's key lease ran out; the longest waited %s from its first 409 to its 201",
			len(inUse), longest.Round(100*time.Millisecond))
	}
	if n503 == 0 {
		t.Errorf("DRILL: no 503 seen: the load did not overlap the outage")
	}
	if n5xx > 10 {
		t.Errorf("INVARIANT: %d answers in all were a 5xx other than 503", n5xx)
	}
	if createdAfterUp == 0 {
		t.Errorf("INVARIANT: no registration succeeded after MariaDB came back: no recovery")
	}
	if code, b, err := call("GET", srv.url("/readyz"), "", nil, nil); err != nil || code != 200 {
		t.Errorf("INVARIANT: /readyz after recovery: %d %v %s", code, err, b)
	}

	// What the database holds.
	rows, total := e.registrationsOf(accounts)
	outcomes := map[string]int{}
	receipts := map[int64]int{}
	var slowest time.Duration
	lost, twice, unexplained := 0, 0, 0
	for i, f := range finals {
		p := ps[i]
		outcomes[f.outcome]++
		slowest = max(slowest, f.took)
		got := rows[p.name]
		if len(got) > 1 {
			twice++
			t.Errorf("INVARIANT: %s (key %s) is in the database %d times: %v", p.name, p.key, len(got), got)
		}
		switch f.outcome {
		case "created":
			receipts[f.receipt]++
			if len(got) == 0 || got[0].ID != f.receipt || got[0].Account != p.account {
				lost++
				t.Errorf("INVARIANT: %s got 201 with registration %d, the database has %v", p.name, f.receipt, got)
			}
		case "already":
			// Its first answer was lost (503 or a broken connection after the commit); the
			// retry found the registration. It must be there, made by this account.
			if len(got) != 1 || got[0].Account != p.account {
				t.Errorf("INVARIANT: %s was answered ALREADY_REGISTERED, the database has %v", p.name, got)
			}
		default:
			if len(got) > 0 {
				unexplained++
				t.Errorf("INVARIANT: %s ended %s after %d tries, yet the database has registration %d", p.name, f.outcome, f.tries, got[0].ID)
			}
		}
	}
	for id, n := range receipts {
		if n > 1 {
			t.Errorf("INVARIANT: registration %d was handed to %d different clients", id, n)
		}
	}
	e.logf("database: %d registrations of the drill's accounts; clients ended: %s; 201s missing from the database %d, people registered twice %d, rows no client was told about %d; slowest registration took %s",
		total, fmtCounts(outcomes), lost, twice, unexplained, slowest.Round(time.Millisecond))
	if outcomes["created"]+outcomes["already"] != total {
		t.Errorf("INVARIANT: 2xx (%d) + resolved retries (%d) != rows (%d)", outcomes["created"], outcomes["already"], total)
	}
	if outcomes["gave_up"] > 0 || outcomes["rejected"] > 0 {
		t.Errorf("INVARIANT: %d registrations never got through after recovery (%d gave up, %d rejected)",
			outcomes["gave_up"]+outcomes["rejected"], outcomes["gave_up"], outcomes["rejected"])
	}
	var dup int
	if err := e.db.GetContext(context.Background(), &dup, `SELECT COUNT(*) FROM (SELECT resident_id FROM registrations
		GROUP BY year, resident_id HAVING COUNT(*) > 1) d`); err != nil {
		t.Fatal(err)
	}
	if dup > 0 {
		t.Errorf("INVARIANT: %d people have two registrations in one year", dup)
	}
	e.stopGracefully(srv, 30*time.Second)
}

func rel(t0, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Sub(t0).Round(10 * time.Millisecond).String()
}

// serverError finds what the server logged about a request id (its error), for the report.
func serverError(p *proc, rid string) string {
	for _, l := range p.logLines() {
		if l["request_id"] == rid && l["err"] != nil {
			return fmt.Sprint(l["err"])
		}
	}
	for _, line := range strings.Split(p.out.String(), "\n") {
		if strings.Contains(line, rid) && strings.Contains(line, "err") {
			return line
		}
	}
	return "(nothing logged)"
}
