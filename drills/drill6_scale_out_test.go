//go:build drills

package drills

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/internal/auth"
)

// Drill 6: scale out, and lose one of each. Two API instances (`serve --no-engine`) and two
// engine instances (`serve --engine-only`, each with its own fake WeChat and SMS, so the drill
// can tell who sent what) share the database and Redis. Residents register people through
// both API instances (a balancer in front, as a load balancer would be) while a campaign
// dispatches through both engines. Mid-way one API instance and the engine holding the run's
// lease (the feeder) are SIGKILLed, with registrations in flight at the dead API instance. The
// clients fail over to the survivor and retry with their Idempotency-Key; the surviving engine
// takes the run's lease over when it expires, and the sends the dead engine had in flight
// retire as unknown after theirs.
//
// Then: every 201 a client got is its registration in MySQL, exactly once, and the database
// holds nothing else (accepted = rows); every person of the audience has one delivery and it is
// settled (sent, failed, skipped or unknown; nothing queued or sending); nobody was messaged
// twice, counted across all four fakes; only deliveries in sending at the kill ended unknown;
// and the stats the surviving API serves (Redis counters) equal a GROUP BY over the outbox.
//
// Redis: CANBAO_DRILL_REDIS_ADDRS (comma-separated; several addresses are a Redis Cluster's
// seed nodes) points the drill at an outside Redis, e.g. a local cluster; unset, the drill uses
// its private Redis, like the other drills: one redis-server, or with
// CANBAO_DRILL_REDIS_CLUSTER=1 (make drills-cluster) a private 3-master Redis Cluster.
func TestDrill6ScaleOutKillOneAPIAndOneEngine(t *testing.T) {
	drillStart := time.Now()
	e := newEnv(t, "d6_scale_out", middayZone())
	rdb := e.drillRedis()
	fa, varsA := newFakes(t, "A")
	fb, varsB := newFakes(t, "B")
	for _, f := range []*fakes{fa, fb} {
		// Slow providers: at the campaign's rate about ten sends are on the wire at any time,
		// so the kill catches some of the dead engine's.
		f.wechat.Delay(200 * time.Millisecond)
		f.sms.Delay(200 * time.Millisecond)
	}
	for _, v := range []map[string]string{varsA, varsB} {
		// A consumer that dies holding stream entries it never claimed leaves them queued; the
		// reconciler feeds them again after this (30 s by default).
		v["CANBAO_CAMPAIGNS_REQUEUE_AFTER"] = "10s"
	}
	villages := []string{"caicuo", "gaotang", "jingkeng"}
	a := e.prepareAudience(villages, 60, 5)
	a.injectFailures(fa, fb)
	expectedSends := 0
	for _, m := range a.members {
		if st, _ := a.expected(m); st == "sent" {
			expectedSends++
		}
	}

	// The API instances check a campaign's rate against the channels' limits: the same limits.
	apiVars := map[string]string{}
	for _, k := range []string{"CANBAO_CAMPAIGNS_SMS_RATE_PER_MINUTE", "CANBAO_CAMPAIGNS_WECHAT_RATE_PER_MINUTE"} {
		apiVars[k] = varsA[k]
	}
	apis := []*proc{e.serve("api-1", apiVars, "--no-engine"), e.serve("api-2", apiVars, "--no-engine")}
	engines := []*proc{e.serve("engine-A", varsA, "--engine-only"), e.serve("engine-B", varsB, "--engine-only")}
	engFakes := map[*proc]*fakes{engines[0]: fa, engines[1]: fb}
	engID := map[string]*proc{}
	for _, p := range engines {
		id := engineInstance(p)
		if id == "" {
			t.Fatalf("DRILL: %s logged no \"campaign engine starting\" with its instance id:\n%s", p.name, tail(p.out.String(), 20))
		}
		engID[id] = p
	}
	staff := e.staffToken(auth.RoleStaff)

	// The campaign: paced so that dispatch alone takes about 25 s, through both engines.
	rate := min(12000, max(600, len(a.members)*60/25))
	id := e.createCampaign(apis[0], staff, campaignSpec("演练：两个 API 两个引擎各强杀一个", villages, rate))
	e.scheduleCampaign(apis[1], staff, id)

	// The registration load, through a balancer over both API instances.
	const (
		nAccounts     = 600
		perAccount    = 3
		workers       = 32
		ratePerSec    = 60
		nSlow         = 4                 // slow uploads to api-1, in flight at the kill
		nBurst        = 48                // registrations fired at api-1 right before the kill
		feedAfterKill = 8 * time.Second   // new registrations keep coming this long after the kill
		budget        = 100 * time.Second // the load phase, retries included (a guard)
		maxTries      = 60
	)
	accounts, tokens := e.residentAccounts(nAccounts, "d6")
	ps := people("d6", accounts, tokens, perAccount)
	slow, burst, steady := ps[:nSlow], ps[nSlow:nSlow+nBurst], ps[nSlow+nBurst:]
	lb := &balancer{apis: apis, down: make([]atomic.Bool, len(apis))}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	e.logf("audience %d, ~%d sends expected, campaign %d at %d a minute; load: %d registrations (%d accounts × %d) from %d clients at %d a second over %s and %s, each retried with its Idempotency-Key on the other instance after a broken connection",
		len(a.members), expectedSends, id, rate, len(ps), nAccounts, perAccount, workers, ratePerSec, apis[0].name, apis[1].name)

	var (
		killedAtNs atomic.Int64 // 0 until the kill
		logMu      sync.Mutex
		tries      []d6try
	)
	killedAt := func() time.Time {
		if ns := killedAtNs.Load(); ns != 0 {
			return time.Unix(0, ns)
		}
		return time.Time{}
	}
	loadStart := time.Now()
	loadDeadline := loadStart.Add(budget)
	finals := make([]d6final, len(ps))
	register := func(p person, pref int, first io.Reader) d6final {
		f := d6final{outcome: "gave_up", start: time.Now()}
		for try := 1; try <= maxTries && time.Now().Before(loadDeadline); try++ {
			k, api := lb.pick(pref)
			var body io.Reader
			if try == 1 {
				body = first
			}
			at := postRegistration(client, "http://"+api.addr, p, try, true, body)
			logMu.Lock()
			tries = append(tries, d6try{attempt: at, api: k})
			logMu.Unlock()
			f.tries, f.api = try, k
			wait := time.Duration(0)
			switch {
			case at.status == 201:
				f.outcome, f.receipt = "created", at.receipt
			case at.status == 409 && at.code == "ALREADY_REGISTERED":
				f.outcome = "already"
			case at.status == 503, at.status == 429, at.status == 409 && at.code == "IDEMPOTENCY_KEY_IN_USE":
				secs, _ := strconv.Atoi(at.retryAfter)
				wait = time.Duration(max(secs, 1)) * time.Second
			case at.status == 0:
				// No answer: the client cannot know whether the request was accepted. Even
				// "connection refused" proves nothing: net/http replays a request carrying an
				// Idempotency-Key on a new connection when a reused one breaks, so a refused
				// dial may follow a first write that reached the server and committed (drill 6
				// saw exactly that). It retries on the other instance; a refused instance is
				// taken out of the balancer.
				if !f.cutOff {
					f.cutOff, f.firstBreak = true, at.end
				}
				if at.kind == "refused" {
					lb.markDown(k)
				}
				pref = k + 1
				wait = 100 * time.Millisecond
			case at.status >= 500:
				f.errors5xx++
				wait = time.Second
			default:
				f.outcome = "rejected"
			}
			if f.outcome != "gave_up" {
				break
			}
			time.Sleep(min(wait, 5*time.Second, time.Until(loadDeadline)))
		}
		f.end = time.Now()
		return f
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				finals[nSlow+nBurst+i] = register(steady[i], steady[i].n%2, nil)
			}
		}()
	}
	fed := nSlow + nBurst
	feederDone := make(chan struct{})
	go func() {
		defer close(feederDone)
		tick := time.NewTicker(time.Second / ratePerSec)
		defer tick.Stop()
		for i := range steady {
			<-tick.C
			if k := killedAt(); !k.IsZero() && time.Since(k) > feedAfterKill {
				break
			}
			jobs <- i
			fed++
		}
		close(jobs)
	}()

	// The kill, once the campaign is about a third through, both engines have sent and both
	// API instances have taken registrations.
	created := func() [2]int {
		logMu.Lock()
		defer logMu.Unlock()
		var n [2]int
		for _, tr := range tries {
			if tr.status == 201 {
				n[tr.api]++
			}
		}
		return n
	}
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n := created()
		if fa.total()+fb.total() >= expectedSends*3/10 && fa.total() > 0 && fb.total() > 0 && n[0] >= 20 && n[1] >= 20 {
			break
		}
		select {
		case <-feederDone:
			t.Fatalf("DRILL: the load ended before the kill (201s per instance %v; messages A %d, B %d of ~%d): %s",
				n, fa.total(), fb.total(), expectedSends, fmtCounts(e.statusCounts(id)))
		default:
		}
		if time.Now().After(deadline) {
			logMu.Lock()
			var as []attempt
			for _, tr := range tries {
				as = append(as, tr.attempt)
			}
			logMu.Unlock()
			for _, p := range apis {
				t.Logf("--- last lines of %s:\n%s", p.name, tail(p.out.String(), 10))
			}
			t.Fatalf("DRILL: not ready to kill after 90s: 201s per instance %v (registration attempts so far: %s); messages A %d, B %d of ~%d: %s",
				n, statusHistogram(as), fa.total(), fb.total(), expectedSends, fmtCounts(e.statusCounts(id)))
		}
	}
	// The engine to kill is the one holding the run's lease: it feeds the stream.
	var owner string
	if err := e.db.Get(&owner, `SELECT COALESCE(lease_owner, '') FROM campaign_runs WHERE campaign_id = ? AND status = 'dispatching'`, id); err != nil {
		t.Fatalf("the campaign's run is not dispatching: %v: %s", err, fmtCounts(e.statusCounts(id)))
	}
	victim := engID[owner]
	if victim == nil {
		t.Fatalf("DRILL: the run's lease owner %q is neither engine", owner)
	}
	survivor := engines[0]
	if victim == engines[0] {
		survivor = engines[1]
	}
	survivorID := engineInstance(survivor)
	deadAPI, liveAPI := apis[0], apis[1]
	// Slow uploads to api-1, in flight (headers sent, body coming) when it dies, and a burst of
	// registrations to api-1: the kill comes once every one of them is on the wire, so that
	// some are answered, some cut off before their commit and some, perhaps, after it.
	started := make([]chan struct{}, nSlow+nBurst)
	for i, p := range append(slices.Clone(slow), burst...) {
		started[i] = make(chan struct{})
		var body io.Reader = &slowReader{data: p.body(), piece: 16, pause: 150 * time.Millisecond}
		if i >= nSlow {
			body = bytes.NewReader(p.body())
		}
		wg.Add(1)
		go func(i int, p person, body io.Reader) {
			defer wg.Done()
			finals[i] = register(p, 0, &firstReadSignal{r: body, ch: started[i]})
		}(i, p, body)
	}
	for i := range started {
		select {
		case <-started[i]:
		case <-time.After(10 * time.Second):
			t.Fatalf("DRILL: registration %d of the kill's burst never went out", i)
		}
	}
	createdAtKill := created()
	killedAtNs.Store(time.Now().UnixNano())
	kill := killedAt()
	deadAPI.signal(syscall.SIGKILL)
	victim.signal(syscall.SIGKILL)
	for _, p := range []*proc{deadAPI, victim} {
		if !p.wait(10 * time.Second) {
			t.Fatalf("%s did not die of SIGKILL", p.name)
		}
	}
	// What the dead engine left behind: its rows can no longer change, and what its providers
	// get from now on can only be sends that were on the wire (in sending).
	msgsAtKill := [2]int{fa.total(), fb.total()}
	atKill := e.statusCounts(id)
	var sendingAtKill []int64
	if err := e.db.Select(&sendingAtKill, `SELECT id FROM deliveries WHERE campaign_id = ? AND status = 'sending'`, id); err != nil {
		t.Fatal(err)
	}
	e.logf("SIGKILL %s and %s (the run's lease owner) at +%s into the load: registrations 201 so far %s %d, %s %d; messages so far %s %d, %s %d of ~%d; outbox then: %s",
		deadAPI.name, victim.name, rel(loadStart, kill), apis[0].name, createdAtKill[0], apis[1].name, createdAtKill[1],
		engines[0].name, msgsAtKill[0], engines[1].name, msgsAtKill[1], expectedSends, fmtCounts(atKill))
	if len(sendingAtKill) == 0 {
		t.Logf("DRILL: nothing was in sending at the kill: the kill missed the engines' batches")
	}

	// Recovery of the engines: the survivor takes the run's lease over, the dead engine's sends
	// retire as unknown, the campaign completes.
	var takeover, retired, completed time.Time
	sendingLeft := func() int {
		if len(sendingAtKill) == 0 {
			return 0
		}
		q := `SELECT COUNT(*) FROM deliveries WHERE status = 'sending' AND id IN (?` + strings.Repeat(",?", len(sendingAtKill)-1) + `)`
		args := make([]any, len(sendingAtKill))
		for i, d := range sendingAtKill {
			args[i] = d
		}
		return e.count(q, args...)
	}
	lastLog := time.Now()
	for deadline := kill.Add(3 * time.Minute); completed.IsZero(); time.Sleep(100 * time.Millisecond) {
		var r struct {
			Owner  string `db:"owner"`
			Status string `db:"status"`
		}
		if err := e.db.Get(&r, `SELECT COALESCE(cr.lease_owner, '') AS owner, c.status FROM campaigns c
			JOIN campaign_runs cr ON cr.campaign_id = c.id WHERE c.id = ?`, id); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if takeover.IsZero() && r.Owner == survivorID {
			takeover = now
		}
		if retired.IsZero() && sendingLeft() == 0 {
			retired = now
		}
		if r.Status == "completed" {
			completed = now
		}
		if now.After(deadline) {
			for _, p := range []*proc{survivor, liveAPI} {
				t.Logf("--- last lines of %s:\n%s", p.name, tail(p.out.String(), 25))
			}
			t.Fatalf("campaign %d not completed 3 minutes after the kill (status %s, lease owner %s): %s", id, r.Status, r.Owner, fmtCounts(e.statusCounts(id)))
		}
		if now.Sub(lastLog) > 15*time.Second {
			e.logf("  … campaign %d %s at +%s after the kill: %s", id, r.Status, now.Sub(kill).Round(time.Second), fmtCounts(e.statusCounts(id)))
			lastLog = now
		}
	}
	e.logf("engines: %s took the run's lease over %s after the kill; the %d sends in flight at the kill settled %s after it; campaign completed %s after it",
		survivor.name, since(kill, takeover), len(sendingAtKill), since(kill, retired), since(kill, completed))
	if takeover.IsZero() {
		t.Errorf("INVARIANT: the campaign completed without %s ever holding the run's lease", survivor.name)
	}

	// The load ends; what the clients saw.
	<-feederDone
	wg.Wait()
	loadTook := time.Since(loadStart)
	var all []attempt
	perAPI := [2]map[string]int{{}, {}}
	refusedAfterKill, brokenAtKill, other5xx := 0, 0, 0
	for _, tr := range tries {
		all = append(all, tr.attempt)
		k := strconv.Itoa(tr.status)
		if tr.status == 0 {
			k = "transport:" + tr.kind
		}
		perAPI[tr.api][k]++
		switch {
		case tr.status == 0:
			if tr.kind == "refused" {
				refusedAfterKill++
			} else {
				brokenAtKill++
			}
			if tr.api != 0 || tr.end.Before(kill) {
				t.Errorf("INVARIANT: a request to %s failed at +%s (%s: %s), not at %s's kill", apis[tr.api].name, rel(loadStart, tr.end), tr.kind, tr.err, deadAPI.name)
			}
		case tr.status >= 500 && tr.status != 503:
			other5xx++
			if other5xx <= 5 {
				t.Errorf("INVARIANT: %d %s from %s (request %s at +%s): %s", tr.status, tr.code, apis[tr.api].name, tr.rid, rel(loadStart, tr.end), serverError(apis[tr.api], tr.rid))
			}
		}
	}
	e.logf("load done in %s: %d registrations sent (%d slow uploads and a burst of %d to %s at the kill), %d attempts: %s",
		loadTook.Round(time.Millisecond), fed, nSlow, nBurst, deadAPI.name, len(all), statusHistogram(all))
	e.logf("  %s answered %s; %s answered %s", apis[0].name, fmtCounts(perAPI[0]), apis[1].name, fmtCounts(perAPI[1]))
	example := map[string]string{}
	for _, tr := range tries {
		if tr.status == 0 && example[tr.kind] == "" {
			example[tr.kind] = tr.err
			e.logf("  transport error %s, e.g.: %s", tr.kind, tr.err)
		}
	}
	var firstFailover, lastResolved time.Time
	var longestWait time.Duration
	cutOff := 0
	for _, f := range finals {
		if !f.cutOff {
			continue
		}
		cutOff++
		if f.outcome == "created" || f.outcome == "already" {
			if firstFailover.IsZero() || f.end.Before(firstFailover) {
				firstFailover = f.end
			}
			if f.end.After(lastResolved) {
				lastResolved = f.end
			}
			longestWait = max(longestWait, f.end.Sub(f.firstBreak))
		}
	}
	e.logf("API: %d connections broke at the kill, %d attempts were refused (%d registrations left without an answer); the first cut-off registration was answered by %s %s after the kill, the last %s after it (the longest waited %s from its broken connection)",
		brokenAtKill, refusedAfterKill, cutOff, liveAPI.name, since(kill, firstFailover), since(kill, lastResolved), longestWait.Round(100*time.Millisecond))
	if cutOff == 0 {
		t.Errorf("DRILL: no registration was in flight at %s's kill", deadAPI.name)
	}

	// What the database holds against what the clients were told.
	rows, total := e.registrationsOf(accounts)
	byName := map[string]person{}
	for _, p := range ps {
		byName[p.name] = p
	}
	outcomes := map[string]int{}
	receipts := map[int64]int{}
	lost, twice, unexplained, alreadyUncut := 0, 0, 0, 0
	for i, f := range finals {
		if f.start.IsZero() {
			continue // never fed
		}
		p := ps[i]
		outcomes[f.outcome]++
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
			// Its first answer was lost with api-1 (committed there, the process died before
			// answering, and the key's record stayed unfinished); the retry, once the key's
			// lease ran out, found the registration.
			if !f.cutOff {
				alreadyUncut++
				t.Errorf("INVARIANT: %s was answered ALREADY_REGISTERED without a cut-off attempt before", p.name)
			}
			if len(got) != 1 || got[0].Account != p.account {
				t.Errorf("INVARIANT: %s was answered ALREADY_REGISTERED, the database has %v", p.name, got)
			}
		default:
			if len(got) > 0 {
				unexplained++
				t.Errorf("INVARIANT: %s ended %s after %d tries, yet the database has registration %d", p.name, f.outcome, f.tries, got[0].ID)
			}
		}
		if f.errors5xx > 0 {
			t.Errorf("INVARIANT: %s met %d × 5xx", p.name, f.errors5xx)
		}
	}
	for name := range rows {
		if _, ok := byName[name]; !ok {
			unexplained++
			t.Errorf("INVARIANT: the database has a registration for %s, whom no client registered", name)
		}
	}
	for r, n := range receipts {
		if n > 1 {
			t.Errorf("INVARIANT: registration %d was handed to %d different clients", r, n)
		}
	}
	accepted := outcomes["created"] + outcomes["already"]
	e.logf("registrations: sent %d, accepted %d (201 %d, ALREADY_REGISTERED after a cut-off %d), stored %d; lost 201s %d, stored twice %d, stored unannounced %d; clients ended: %s",
		fed, accepted, outcomes["created"], outcomes["already"], total, lost, twice, unexplained, fmtCounts(outcomes))
	if outcomes["already"] > 0 {
		e.logf("FINDING: %d registrations were committed by %s, which died before answering; their retries waited for the key's lease (409 IDEMPOTENCY_KEY_IN_USE) and then got 409 ALREADY_REGISTERED, not the first answer's 201",
			outcomes["already"], deadAPI.name)
	}
	if accepted != total {
		t.Errorf("INVARIANT: the clients were told of %d registrations, the database holds %d", accepted, total)
	}
	if accepted != fed {
		t.Errorf("INVARIANT: %d registrations sent, %d accepted (%d gave up, %d rejected)", fed, accepted, outcomes["gave_up"], outcomes["rejected"])
	}

	// The campaign: nothing lost, nothing sent twice, everything settled.
	oc := e.checkOutbox(id, a, fa, fb)
	inSending := map[int64]bool{}
	for _, d := range sendingAtKill {
		inSending[d] = true
	}
	var unknown []int64
	if err := e.db.Select(&unknown, `SELECT id FROM deliveries WHERE campaign_id = ? AND status = 'unknown'`, id); err != nil {
		t.Fatal(err)
	}
	for _, d := range unknown {
		if !inSending[d] {
			t.Errorf("INVARIANT: delivery %d ended unknown, but it was not in sending at the kill", d)
		}
	}
	vi, si := slices.Index(engines, victim), slices.Index(engines, survivor)
	vLate := engFakes[victim].total() - msgsAtKill[vi]
	sAfter := engFakes[survivor].total() - msgsAtKill[si]
	e.logf("deliveries: %d targeted, %s; %d were in sending at the kill, %d of them ended unknown (%d had reached a provider), the rest were the survivor's and settled; messages: %s %d (%d landed after its death: sends already on the wire), %s %d (%d after the kill)",
		len(a.members), fmtCounts(oc.byStatus), len(sendingAtKill), len(unknown), oc.unknownReachedProvider,
		victim.name, engFakes[victim].total(), vLate, survivor.name, engFakes[survivor].total(), sAfter)
	if vLate > len(sendingAtKill) {
		// Sends the dead process had on the wire may land just after the kill; no new one.
		t.Errorf("INVARIANT: %s's providers got %d messages after it died, more than the %d sends in flight", victim.name, vLate, len(sendingAtKill))
	}
	if sAfter == 0 {
		t.Errorf("DRILL: %s sent nothing after the kill", survivor.name)
	}

	// Stats (Redis counters, through the surviving API) equal the SQL GROUP BY.
	diff, s := e.compareStats(liveAPI, staff, id)
	e.logf("stats via %s: %s", liveAPI.name, statsLine(s))
	if diff != "" {
		t.Errorf("INVARIANT: stats differ from the outbox: %s", diff)
	} else {
		e.logf("stats via %s equal the SQL GROUP BY (targeted %d, sent %d, failed %d, skipped %d, unknown %d, reached %d)",
			liveAPI.name, s.Targeted, s.Sent, s.Failed, sum(s.Skipped), s.Unknown, s.Reached)
	}
	if s.Sent+s.Failed+s.Unknown+sum(s.Skipped) != s.Targeted {
		t.Errorf("INVARIANT: stats say sent %d + failed %d + skipped %d + unknown %d != targeted %d",
			s.Sent, s.Failed, sum(s.Skipped), s.Unknown, s.Targeted)
	}
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Errorf("the drill's Redis stopped answering: %v", err)
	}
	e.stopGracefully(liveAPI, 30*time.Second)
	e.stopGracefully(survivor, 30*time.Second)
	e.logf("drill took %s", time.Since(drillStart).Round(100*time.Millisecond))
}

// d6try is one attempt and the API instance it went to.
type d6try struct {
	attempt
	api int
}

// d6final is where one registration ended.
type d6final struct {
	outcome    string // created | already | gave_up | rejected; "" if never fed
	receipt    int64
	tries, api int
	cutOff     bool // a connection broke after the request went out: its fate was unknown to the client
	firstBreak time.Time
	errors5xx  int
	start, end time.Time
}

// balancer spreads requests over the API instances, as a load balancer would: each
// registration has a preferred instance, and an instance that refused a connection is taken
// out.
type balancer struct {
	apis []*proc
	down []atomic.Bool
}

func (b *balancer) pick(pref int) (int, *proc) {
	n := len(b.apis)
	for k := 0; k < n; k++ {
		if i := (pref + k) % n; !b.down[i].Load() {
			return i, b.apis[i]
		}
	}
	return pref % n, b.apis[pref%n]
}

func (b *balancer) markDown(i int) { b.down[i].Store(true) }

// firstReadSignal closes ch when the client starts sending the body: the request is on the
// wire.
type firstReadSignal struct {
	r    io.Reader
	ch   chan struct{}
	once sync.Once
}

func (f *firstReadSignal) Read(p []byte) (int, error) {
	f.once.Do(func() { close(f.ch) })
	return f.r.Read(p)
}

// engineInstance is the engine instance id a canbao process logged at start ("" if none).
func engineInstance(p *proc) string {
	for _, l := range p.logLines() {
		if l["msg"] == "campaign engine starting" {
			if id, ok := l["instance"].(string); ok {
				return id
			}
		}
	}
	return ""
}

func since(t0, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Sub(t0).Round(100 * time.Millisecond).String()
}

// ---------------------------------------------------------------------------------------------
// The drill's Redis. Every Redis access of this drill goes through drillRedis's client, a
// redis.UniversalClient: a *redis.Client for one address, a *redis.ClusterClient for several.

// drillRedisAddrs is the variable naming an outside Redis for the drill: one address, or a
// Redis Cluster's seed nodes, comma-separated.
const drillRedisAddrs = "CANBAO_DRILL_REDIS_ADDRS"

// drillRedis points e's canbao processes at the Redis of CANBAO_DRILL_REDIS_ADDRS, under a key
// prefix of their own (an outside Redis may be shared; its keys are deleted at the end), or,
// when that is unset, leaves them on the private Redis newEnv started (one redis-server, or a
// private 3-master cluster with CANBAO_DRILL_REDIS_CLUSTER=1). It returns a
// client for the drill's own checks.
func (e *env) drillRedis() redis.UniversalClient {
	e.t.Helper()
	addrs := splitAddrs(os.Getenv(drillRedisAddrs))
	outside := len(addrs) > 0
	if outside {
		e.redisAddr = strings.Join(addrs, ",")
		e.prefix = fmt.Sprintf("canbao-drill:%s:%d:", e.name, time.Now().UnixNano())
	} else {
		addrs = splitAddrs(e.redisAddr) // newEnv's private node, or its cluster's masters (CANBAO_DRILL_REDIS_CLUSTER=1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := universalClient(ctx, addrs)
	if err != nil {
		e.t.Fatalf("drill Redis %s: %v", e.redisAddr, err)
	}
	kind := "single node"
	if _, ok := c.(*redis.ClusterClient); ok {
		kind = "cluster"
	}
	if outside {
		e.logf("Redis from %s: %s (%s), key prefix %s", drillRedisAddrs, e.redisAddr, kind, e.prefix)
	}
	e.t.Cleanup(func() {
		if outside {
			if n, err := deletePrefixed(c, e.prefix); err != nil {
				e.t.Logf("deleting the drill's keys (%s*) from %s: %v", e.prefix, e.redisAddr, err)
			} else {
				e.t.Logf("deleted the drill's %d keys (%s*) from %s", n, e.prefix, e.redisAddr)
			}
		}
		_ = c.Close()
	})
	return c
}

// universalClient connects to addrs: a cluster client for several addresses, or for one node
// that says it is in cluster mode; a single-node client otherwise.
func universalClient(ctx context.Context, addrs []string) (redis.UniversalClient, error) {
	c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs})
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, err
	}
	if _, ok := c.(*redis.ClusterClient); ok {
		return c, nil
	}
	info, err := c.Info(ctx, "cluster").Result()
	if err != nil || !strings.Contains(info, "cluster_enabled:1") {
		return c, nil // a single node (or one too old to say): as it is
	}
	_ = c.Close()
	c = redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs, IsClusterMode: true})
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func splitAddrs(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

// deletePrefixed deletes the keys under prefix, one DEL per key (no CROSSSLOT), on every
// master of a cluster.
func deletePrefixed(c redis.UniversalClient, prefix string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n atomic.Int64
	scan := func(ctx context.Context, node redis.UniversalClient) error {
		it := node.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for it.Next(ctx) {
			if err := node.Del(ctx, it.Val()).Err(); err != nil {
				return err
			}
			n.Add(1)
		}
		return it.Err()
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error { return scan(ctx, node) })
	} else {
		err = scan(ctx, c)
	}
	return int(n.Load()), err
}
