//go:build drills

package drills

import (
	"io"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/canbao/canbao/internal/auth"
)

// slowReader hands out a body in small pieces with pauses: a slow upload the server has
// accepted (headers read, handler running) long before the body is complete.
type slowReader struct {
	data  []byte
	piece int
	pause time.Duration
	sent  int
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.sent >= len(r.data) {
		return 0, io.EOF
	}
	if r.sent > 0 {
		time.Sleep(r.pause)
	}
	n := copy(p[:min(len(p), r.piece)], r.data[r.sent:])
	r.sent += n
	return n, nil
}

// Drill 5: SIGTERM during load drains in-flight work. `canbao serve` (API and engine, shutdown
// timeout 10 s) takes registrations from 48 clients (keep-alive and not, with and without
// Idempotency-Key), has slow uploads in progress and a campaign dispatching through slow
// providers when it gets SIGTERM. No client may see a broken connection for a request the
// server accepted (its access log or the database shows it); every 2xx is in the database and
// nothing else is; the slow uploads all succeed; the engine leaves no delivery in `sending`;
// the process exits 0 within the shutdown timeout. A restart then completes the campaign with
// nobody messaged twice.
func TestDrill5SIGTERMDrainsInFlight(t *testing.T) {
	e := newEnv(t, "d5_sigterm_drain", middayZone())
	f, vars := newFakes(t, "A")
	f.wechat.Delay(150 * time.Millisecond)
	f.sms.Delay(150 * time.Millisecond)
	villages := []string{"luoxi"}
	a := e.prepareAudience(villages, 60, 5)
	a.injectFailures(f)
	const shutdownTimeout = 10 * time.Second
	vars["CANBAO_HTTP_SHUTDOWN_TIMEOUT"] = shutdownTimeout.String()
	srv := e.serve("canbao-1", vars)
	staff := e.staffToken(auth.RoleStaff)
	id := e.createCampaign(srv, staff, campaignSpec("演练：SIGTERM 时在发送", villages, 3000))
	e.scheduleCampaign(srv, staff, id)
	for deadline := time.Now().Add(60 * time.Second); f.total() < 40; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the campaign is not sending: %s", fmtCounts(e.statusCounts(id)))
		}
	}

	const (
		nAccounts  = 160
		workers    = 48
		ratePerSec = 100
		termAfter  = 2 * time.Second
		nSlow      = 6
	)
	accounts, tokens := e.residentAccounts(nAccounts, "d5")
	ps := people("d5", accounts, tokens, 3)
	slow, fast := ps[:nSlow], ps[nSlow:]
	keepAlive := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	oneShot := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	e.logf("load: %d clients (half keep-alive, half one connection per request; half with Idempotency-Key), %d registrations a second, %d slow uploads (1.5 s each) spanning the SIGTERM; the campaign is sending (%d messages out)",
		workers, ratePerSec, nSlow, f.total())

	rec := &recorder{}
	start := time.Now()
	var termAt time.Time
	termed := make(chan struct{}) // closed once termAt is set
	var wg sync.WaitGroup
	// Slow uploads, started 0.8 s before SIGTERM.
	for i, p := range slow {
		wg.Add(1)
		go func(i int, p person) {
			defer wg.Done()
			time.Sleep(termAfter - 800*time.Millisecond + time.Duration(i)*20*time.Millisecond)
			body := &slowReader{data: p.body(), piece: 16, pause: 150 * time.Millisecond}
			at := postRegistration(oneShot, "http://"+srv.addr, p, 1, i%2 == 0, body)
			at.slow = true
			rec.add(at)
		}(i, p)
	}
	jobs := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := keepAlive
			if w%2 == 1 {
				c = oneShot
			}
			for i := range jobs {
				rec.add(postRegistration(c, "http://"+srv.addr, fast[i], 1, i%2 == 0, nil))
			}
		}(w)
	}
	go func() {
		time.Sleep(termAfter)
		termAt = time.Now()
		srv.signal(syscall.SIGTERM)
		close(termed)
	}()
	tick := time.NewTicker(time.Second / ratePerSec)
	fed := 0
	for i := range fast {
		<-tick.C
		if srv.exited() && time.Since(srv.exitedAt) > 300*time.Millisecond {
			break // gone for a while: the rest would only be refused
		}
		if time.Since(start) > 15*time.Second {
			break
		}
		jobs <- i
		fed++
	}
	tick.Stop()
	close(jobs)
	wg.Wait()
	<-termed
	if !srv.wait(shutdownTimeout + 5*time.Second) {
		t.Fatalf("canbao-1 still running %s after SIGTERM\n%s", shutdownTimeout+5*time.Second, tail(srv.out.String(), 30))
	}
	took := srv.exitedAt.Sub(termAt)
	e.logf("SIGTERM at +%s; canbao-1 exited with code %d %s later (shutdown timeout %s); %d registrations sent by the clients",
		rel(start, termAt), srv.exitCode(), took.Round(time.Millisecond), shutdownTimeout, fed+nSlow)
	if srv.exitCode() != 0 {
		t.Errorf("INVARIANT: exit code %d after SIGTERM\n%s", srv.exitCode(), tail(srv.out.String(), 20))
	}
	if took > shutdownTimeout+time.Second {
		t.Errorf("INVARIANT: exit took %s, longer than the shutdown timeout %s", took, shutdownTimeout)
	}

	// What the clients saw, against what the server logged and the database holds.
	as := rec.all()
	logged := map[string]int{} // request id -> status the access log says
	for _, l := range srv.logLines() {
		if l["msg"] == "http" {
			if rid, ok := l["request_id"].(string); ok {
				st, _ := l["status"].(float64)
				logged[rid] = int(st)
			}
		}
	}
	rows, total := e.registrationsOf(accounts)
	byN := map[int]person{}
	for _, p := range ps {
		byN[p.n] = p
	}
	var ok2xx, inFlight, brokenAccepted, brokenUnaccepted, refused, slowOK int
	for _, at := range as {
		p := byN[at.person]
		got := rows[p.name]
		if at.start.Before(termAt) && at.end.After(termAt) && at.status != 0 {
			inFlight++
		}
		switch {
		case at.status/100 == 2:
			ok2xx++
			if at.slow {
				slowOK++
			}
			if len(got) != 1 || got[0].ID != at.receipt {
				t.Errorf("INVARIANT: %s got %d with registration %d, the database has %v", p.name, at.status, at.receipt, got)
			}
		case at.status != 0:
			if len(got) > 0 {
				t.Errorf("INVARIANT: %s was answered %d %s, yet the database has registration %d", p.name, at.status, at.code, got[0].ID)
			}
		case at.kind == "refused":
			refused++
			if len(got) > 0 {
				t.Errorf("INVARIANT: %s: connection refused, yet the database has registration %d", p.name, got[0].ID)
			}
		default:
			st, inLog := logged[at.rid]
			if inLog || len(got) > 0 {
				brokenAccepted++
				t.Errorf("INVARIANT: %s: the client saw %s (%s) at +%s, but the server accepted the request (access log status %d: %v; rows %v)",
					p.name, at.kind, at.err, rel(start, at.end), st, inLog, got)
			} else {
				brokenUnaccepted++
			}
		}
		if at.slow && at.status/100 != 2 {
			t.Errorf("INVARIANT: a slow upload accepted before SIGTERM ended %d %s %s %s", at.status, at.code, at.kind, at.err)
		}
	}
	e.logf("clients: %d attempts: %s", len(as), statusHistogram(as))
	e.logf("in flight at SIGTERM and answered: %d (slow uploads answered 2xx: %d of %d); refused after the listener closed: %d; broken connections for requests the server never accepted: %d; for requests it had accepted: %d",
		inFlight, slowOK, nSlow, refused, brokenUnaccepted, brokenAccepted)
	e.logf("database: %d registrations, clients got %d × 2xx", total, ok2xx)
	if total != ok2xx {
		t.Errorf("INVARIANT: %d registrations in the database, %d 2xx answers", total, ok2xx)
	}
	if inFlight == 0 {
		t.Errorf("DRILL: no request was in flight at SIGTERM")
	}

	// The engine's in-flight sends finished: nothing left in sending, every provider message is
	// a sent delivery.
	atExit := e.statusCounts(id)
	e.logf("outbox at exit: %s; providers had accepted %d messages", fmtCounts(atExit), f.total())
	if atExit["sending"] != 0 {
		t.Errorf("INVARIANT: the engine exited with %d deliveries in sending (they will end unknown after the lease)", atExit["sending"])
	}
	if atExit["sent"] != f.total() {
		t.Errorf("INVARIANT: providers accepted %d messages, the outbox has %d sent", f.total(), atExit["sent"])
	}
	if atExit["queued"] == 0 {
		t.Logf("DRILL: the campaign had finished before the exit; the restart below has nothing to do")
	}

	// A restart finishes the campaign; nobody is messaged twice.
	second := e.serve("canbao-2", vars)
	e.waitCampaign(id, 3*time.Minute, second)
	oc := e.checkOutbox(id, a, f)
	if oc.byStatus["unknown"] != 0 {
		t.Errorf("INVARIANT: %d deliveries ended unknown: the SIGTERM cut sends short", oc.byStatus["unknown"])
	}
	if diff, _ := e.compareStats(second, staff, id); diff != "" {
		t.Errorf("INVARIANT: stats differ from the outbox: %s", diff)
	}
	e.stopGracefully(second, shutdownTimeout+5*time.Second)
}
