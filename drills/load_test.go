//go:build drills

package drills

// The registration load: residents (accounts with tokens) registering people through
// POST /api/v1/registrations, each attempt recorded with its outcome, and the checks of what
// the database holds against what the clients were told.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/canbao/canbao/internal/idcard"
)

// person is one registration a client wants to make (one Idempotency-Key).
type person struct {
	n        int
	account  int64
	token    string
	name     string
	idNumber string
	phone    string
	village  string
	key      string
}

var villagesForLoad = []string{"zhenxing", "luoxi", "weixin", "xinming", "luodong", "puxin"}

// chineseNumber writes n with the digits 零一二…九 (names may hold letters only).
func chineseNumber(n int) string {
	const digits = "零一二三四五六七八九"
	r := []rune(digits)
	var b strings.Builder
	for _, c := range strconv.Itoa(n) {
		b.WriteRune(r[c-'0'])
	}
	return b.String()
}

// people makes perAccount distinct people for each account (the limit is 3 a day).
func people(tag string, accounts []int64, tokens []string, perAccount int) []person {
	var out []person
	base := time.Date(1971, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, acc := range accounts {
		for j := 0; j < perAccount; j++ {
			n := len(out)
			g := idcard.Male
			if n%2 == 1 {
				g = idcard.Female
			}
			out = append(out, person{
				n: n, account: acc, token: tokens[i],
				name:     "演练" + chineseNumber(n),
				idNumber: idcard.Generate("110101", base.AddDate(0, 0, n), 7, g), // Beijing area: not in the Luodong roster
				phone:    fmt.Sprintf("1390%07d", n),
				village:  villagesForLoad[n%len(villagesForLoad)],
				key:      fmt.Sprintf("drill-%s-%d", tag, n),
			})
		}
	}
	return out
}

func (p person) body() []byte {
	b, _ := json.Marshal(map[string]any{
		"name": p.name, "id_number": p.idNumber, "phone": p.phone, "village_code": p.village,
		"employed": false, "land_expropriated": false, "scheme": "resident_pension", "tier": 200,
	})
	return b
}

// attempt is one HTTP request of a client and what it saw.
type attempt struct {
	person     int
	no         int
	rid        string // X-Request-Id sent
	start, end time.Time
	status     int    // 0 on a transport error
	code       string // error.code of an error answer
	retryAfter string
	receipt    int64 // id of a 201
	kind       string
	err        string
	slow       bool
}

// postRegistration sends one registration. withKey sends the Idempotency-Key; body, when not
// nil, replaces the request body (slow uploads).
func postRegistration(c *http.Client, url string, p person, no int, withKey bool, body io.Reader) attempt {
	a := attempt{person: p.n, no: no, rid: fmt.Sprintf("%s-a%d", p.key, no), start: time.Now()}
	if body == nil {
		body = bytes.NewReader(p.body())
	}
	req, _ := http.NewRequest("POST", url+"/api/v1/registrations", body)
	if sr, ok := body.(*slowReader); ok {
		req.ContentLength = int64(len(sr.data))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.token)
	req.Header.Set("X-Request-Id", a.rid)
	if withKey {
		req.Header.Set("Idempotency-Key", p.key)
	}
	resp, err := c.Do(req)
	a.end = time.Now()
	if err != nil {
		a.kind, a.err = transportKind(err), err.Error()
		return a
	}
	defer resp.Body.Close()
	b, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a.end = time.Now()
	if rerr != nil {
		a.kind, a.err = transportKind(rerr), "reading the answer: "+rerr.Error()
		return a
	}
	a.status = resp.StatusCode
	a.retryAfter = resp.Header.Get("Retry-After")
	if resp.StatusCode == http.StatusCreated {
		var r struct {
			ID int64 `json:"id"`
		}
		if json.Unmarshal(b, &r) != nil || r.ID == 0 {
			a.code = "BAD_RECEIPT"
		}
		a.receipt = r.ID
	} else {
		a.code = errorCode(b)
	}
	return a
}

// recorder collects attempts from many goroutines.
type recorder struct {
	mu       sync.Mutex
	attempts []attempt
}

func (r *recorder) add(a attempt) {
	r.mu.Lock()
	r.attempts = append(r.attempts, a)
	r.mu.Unlock()
}

func (r *recorder) all() []attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]attempt(nil), r.attempts...)
}

// dbRegistration is a registration row of a drill account.
type dbRegistration struct {
	ID      int64  `db:"id"`
	Account int64  `db:"account_id"`
	Name    string `db:"name"`
}

// registrationsOf reads the registrations of the given accounts, by name.
func (e *env) registrationsOf(accounts []int64) (byName map[string][]dbRegistration, total int) {
	e.t.Helper()
	byName = map[string][]dbRegistration{}
	var rows []dbRegistration
	q := `SELECT id, account_id, name FROM registrations WHERE account_id BETWEEN ? AND ?`
	if err := e.db.Select(&rows, q, accounts[0], accounts[len(accounts)-1]); err != nil {
		e.t.Fatal(err)
	}
	for _, r := range rows {
		byName[r.Name] = append(byName[r.Name], r)
	}
	return byName, len(rows)
}

func statusHistogram(as []attempt) string {
	h := map[string]int{}
	for _, a := range as {
		k := strconv.Itoa(a.status)
		if a.status == 0 {
			k = "transport:" + a.kind
		} else if a.code != "" {
			k += ":" + a.code
		}
		h[k]++
	}
	return fmtCounts(h)
}

// outageLoad is the registration load of the Redis outage drills (7, 8 and 9): 90 people of
// 30 resident accounts, a third registered before the outage (all must get a 201), a third
// during it (201 or 503, never a 500 or a hang) and a third after it (all 201), with the 503s
// retried after it with their Idempotency-Key. It remembers the receipt of each 201: a second
// 201 for a person must carry the first one's, and the database must hold each person once,
// under that receipt.
type outageLoad struct {
	e                     *env
	p                     *proc
	c                     *http.Client
	accounts              []int64
	ps                    []person
	before, during, after []person
	outage                []attempt     // the answers to during
	receipts              map[int]int64 // person → id of the 201 its client got
}

// newOutageLoad checks that p is ready (Redis and engine included) and registers the first
// third.
func newOutageLoad(e *env, p *proc, tag string) *outageLoad {
	e.t.Helper()
	o := &outageLoad{e: e, p: p, c: &http.Client{Timeout: 10 * time.Second}, receipts: map[int]int64{}}
	if code, checks := o.readiness(); code != http.StatusOK || checks["redis"] != "ok" || checks["engine"] != "ok" {
		e.t.Fatalf("before the outage /readyz answered %d %v", code, checks)
	}
	accounts, tokens := e.residentAccounts(30, tag)
	o.accounts, o.ps = accounts, people(tag, accounts, tokens, 3)
	o.before, o.during, o.after = o.ps[:30], o.ps[30:60], o.ps[60:]
	for _, p0 := range o.before {
		if a := o.register(p0, 1); a.status != http.StatusCreated {
			e.t.Fatalf("before the outage: %s answered %d %s %s", p0.name, a.status, a.code, a.err)
		}
	}
	return o
}

// register sends attempt no of p0's registration, with its Idempotency-Key.
func (o *outageLoad) register(p0 person, no int) attempt {
	a := postRegistration(o.c, "http://"+o.p.addr, p0, no, true, nil)
	if a.status == http.StatusCreated {
		if first, ok := o.receipts[p0.n]; ok && first != a.receipt {
			o.e.t.Errorf("%s: a second 201 with receipt %d, the first said %d", p0.name, a.receipt, first)
		}
		o.receipts[p0.n] = a.receipt
	}
	return a
}

// registerDuring registers the second third, during the outage, and returns the answers'
// histogram.
func (o *outageLoad) registerDuring() string {
	for _, p0 := range o.during {
		o.outage = append(o.outage, o.register(p0, 1))
	}
	for _, a := range o.outage {
		if a.status != http.StatusCreated && a.status != http.StatusServiceUnavailable {
			o.e.t.Errorf("during the outage a registration answered %d %s %s (want 201 or 503)", a.status, a.code, a.err)
		}
	}
	return statusHistogram(o.outage)
}

// finish retries the outage's refusals, registers the last third and checks the database; it
// returns how many were retried and how many rows are stored.
func (o *outageLoad) finish() (retried, stored int) {
	t := o.e.t
	t.Helper()
	for i, a := range o.outage {
		if a.status == http.StatusCreated {
			continue
		}
		retried++
		if b := o.register(o.during[i], 2); b.status != http.StatusCreated {
			t.Errorf("after the outage the retry of %s answered %d %s %s", o.during[i].name, b.status, b.code, b.err)
		}
	}
	for _, p0 := range o.after {
		if a := o.register(p0, 1); a.status != http.StatusCreated {
			t.Errorf("after the outage: %s answered %d %s %s", p0.name, a.status, a.code, a.err)
		}
	}
	byName, total := o.e.registrationsOf(o.accounts)
	for _, p0 := range o.ps {
		rows := byName[p0.name]
		switch {
		case len(rows) != 1:
			t.Errorf("%s is stored %d times, want once", p0.name, len(rows))
		case rows[0].ID != o.receipts[p0.n]:
			t.Errorf("%s is stored as %d, its client was told %d", p0.name, rows[0].ID, o.receipts[p0.n])
		}
	}
	if total != len(o.ps) {
		t.Errorf("%d registrations stored for %d people", total, len(o.ps))
	}
	return retried, total
}

// readiness asks p's /readyz and returns its status and checks.
func (o *outageLoad) readiness() (int, map[string]string) {
	t := o.e.t
	t.Helper()
	resp, err := o.c.Get(o.p.url("/readyz"))
	if err != nil {
		t.Fatalf("/readyz: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("/readyz answered %d %q: %v", resp.StatusCode, b, err)
	}
	return resp.StatusCode, r.Checks
}

// waitReadiness polls /readyz until it answers status, for at most d, and returns how long
// after since that was and the checks it gave.
func (o *outageLoad) waitReadiness(status int, since time.Time, d time.Duration, what string) (time.Duration, map[string]string) {
	o.e.t.Helper()
	var after time.Duration
	var checks map[string]string
	waitFor(o.e.t, d, what, func() bool {
		var code int
		code, checks = o.readiness()
		after = time.Since(since)
		return code == status
	})
	return after, checks
}
