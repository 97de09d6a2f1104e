package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/config"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/server/servertest"
)

// TestRegistrationRejectsCaseFoldedAndDuplicateKeys sends the attack of issue #10 item 9: a
// second village_code spelled in another case (encoding/json would match it and let the last
// one win) and a plain duplicate key. Both are 400 with the key as field and store nothing.
func TestRegistrationRejectsCaseFoldedAndDuplicateKeys(t *testing.T) {
	env := servertest.New(t)
	resident, _ := env.Resident()
	y, m, d := time.Now().Date()
	id := idcard.Generate("350583", time.Date(y-50, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -3), 7, idcard.Male)
	body := func(villages string) string {
		return fmt.Sprintf(`{"name":"测试","id_number":%q,"phone":"13800001111",%s,"employed":false,`+
			`"land_expropriated":false,"scheme":"resident_pension","tier":100}`, id, villages)
	}
	for _, tc := range []struct {
		villages, code, field string
	}{
		{`"village_code":"zhenxing","Village_Code":"luoxi"`, "UNKNOWN_FIELD", "Village_Code"},
		{`"VILLAGE_CODE":"luoxi"`, "UNKNOWN_FIELD", "VILLAGE_CODE"},
		{`"village_code":"zhenxing","village_code":"luoxi"`, "DUPLICATE_KEY", "village_code"},
	} {
		w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/registrations", Token: resident, Body: body(tc.villages)})
		if w.Code != 400 || w.ErrorCode() != tc.code || w.ErrorField() != tc.field {
			t.Errorf("%s: %d %s, want 400 %s field %s", tc.villages, w.Code, w.Body, tc.code, tc.field)
		}
	}
	if n := env.Count(`SELECT COUNT(*) FROM registrations`); n != 0 {
		t.Fatalf("%d registrations stored from rejected bodies", n)
	}
	// The same body with one exact key is accepted, so the rejections above were about the keys.
	if w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/registrations", Token: resident,
		Body: body(`"village_code":"zhenxing"`)}); w.Code != 201 {
		t.Fatalf("control registration: %d %s", w.Code, w.Body)
	}
	if n := env.Count(`SELECT COUNT(*) FROM registrations WHERE village_code = 'zhenxing'`); n != 1 {
		t.Fatalf("control registration stored %d rows in zhenxing", n)
	}
}

// TestPersonalDataAnswersAreNotStored calls each route that answers personal data (roster,
// registrations, visits, tasks, exports, reveal, users), successfully, and wants
// Cache-Control: no-store on the answer.
func TestPersonalDataAnswersAreNotStored(t *testing.T) {
	env := servertest.New(t)
	env.AllowPII["/api/v1/admin/residents/:id/reveal"] = true
	admin, _ := env.Staff(auth.RoleAdmin, "")
	staff, _ := env.Staff(auth.RoleStaff, "")
	vadmin, _ := env.Staff(auth.RoleVillageAdmin, "zhenxing")
	vol, _ := env.Staff(auth.RoleVolunteer, "zhenxing")
	resident, _ := env.Resident()
	person, _ := env.AddResident(servertest.ResidentSpec{Village: "zhenxing", Phone: "13712340000"})
	env.Exec(`INSERT INTO visit_tasks (resident_id, village_code, source, due_on, status, open_slot, created_at)
		VALUES (?, 'zhenxing', 'staff', CURDATE(), 'open', ?, NOW(6))`, person, person)
	y, m, d := time.Now().Date()
	id := idcard.Generate("350583", time.Date(y-50, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -5), 9, idcard.Male)
	today := time.Now().Format(time.DateOnly)
	calls := []struct {
		method, path, token string
		body                any
		status              int
	}{
		{"POST", "/api/v1/registrations", resident, map[string]any{"name": "测试", "id_number": id, "phone": "13800001111",
			"village_code": "zhenxing", "employed": false, "land_expropriated": false, "scheme": "resident_pension", "tier": 100}, 201},
		{"GET", "/api/v1/registrations/mine", resident, nil, 200},
		{"GET", "/api/v1/admin/registrations", vadmin, nil, 200},
		{"GET", "/api/v1/admin/exports/registrations?from=" + today + "&to=" + today, staff, nil, 200},
		{"GET", "/api/v1/admin/residents", vadmin, nil, 200},
		{"POST", fmt.Sprintf("/api/v1/admin/residents/%d/reveal", person), vadmin, map[string]string{"reason": "核对信息"}, 200},
		{"POST", "/api/v1/admin/visits", vol, map[string]any{"client_id": uuid.NewString(), "resident_id": person,
			"visited_at": time.Now().Add(-time.Hour).Format(time.RFC3339), "outcome": "not_home"}, 201},
		{"GET", "/api/v1/admin/visits", vadmin, nil, 200},
		{"GET", "/api/v1/admin/visit-tasks", vol, nil, 200},
		{"GET", "/api/v1/admin/users", admin, nil, 200},
	}
	for _, c := range calls {
		w := env.Do(servertest.Request{Method: c.method, Path: c.path, Token: c.token, Body: c.body})
		if w.Code != c.status {
			t.Errorf("%s %s: %d %s", c.method, c.path, w.Code, w.Body)
			continue
		}
		if cc := w.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s %s: Cache-Control %q, want no-store", c.method, c.path, cc)
		}
	}
}

// TestEveryAnswerCarriesSecurityHeaders wants X-Content-Type-Options: nosniff on every answer
// (each route with and without a token, unknown paths and methods, errors) and
// Cache-Control: no-store on every answer of every route not declared cacheable.
func TestEveryAnswerCarriesSecurityHeaders(t *testing.T) {
	env := servertest.New(t)
	env.SkipContract = true // empty bodies on purpose: only the headers are under test
	admin, _ := env.Staff(auth.RoleAdmin, "")
	check := func(r servertest.Request) *servertest.Response {
		t.Helper()
		w := env.Do(r)
		if got := w.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s (token %t): %d with X-Content-Type-Options %q", r.Method, r.Path, r.Token != "", w.Code, got)
		}
		return w
	}
	// The only routes that may be cached: public, personal-data-free answers.
	mayCache := map[string]bool{"/api/v1/villages": true, "/api/v1/tiers": true, "/api/v1/policies": true,
		"/api/v1/policies/:slug": true, "/console/*filepath": true}
	cacheable := 0
	for _, rt := range env.Server.Engine.Routes() {
		p, _ := env.Server.Router.Policy(rt.Method, rt.Path)
		if p.Cacheable {
			cacheable++
			if !mayCache[rt.Path] {
				t.Errorf("%s %s is cacheable; only %v may be", rt.Method, rt.Path, mayCache)
			}
			if !p.Public {
				t.Errorf("%s %s is cacheable but not public", rt.Method, rt.Path)
			}
		}
		path := strings.NewReplacer(":id", "1", ":slug", "x").Replace(rt.Path)
		answers := []*servertest.Response{check(servertest.Request{Method: rt.Method, Path: path})}
		if rt.Path != "/api/v1/auth/logout" {
			answers = append(answers, check(servertest.Request{Method: rt.Method, Path: path, Token: admin}))
		}
		for _, w := range answers {
			if cc := w.Header.Get("Cache-Control"); !p.Cacheable && cc != "no-store" {
				t.Errorf("%s %s: %d with Cache-Control %q, want no-store", rt.Method, rt.Path, w.Code, cc)
			}
		}
	}
	if cacheable != len(mayCache) {
		t.Errorf("%d cacheable routes, want %d", cacheable, len(mayCache))
	}
	check(servertest.Request{Method: "GET", Path: "/no/such/route"})
	check(servertest.Request{Method: "DELETE", Path: "/api/v1/villages"})
	check(servertest.Request{Method: "BREW", Path: "/api/v1/villages"})
	check(servertest.Request{Method: "POST", Path: "/api/v1/eligibility", Token: admin, Body: `{"x":`})
}

// TestMetricsLabelsStayBounded sends thousands of requests with made-up methods and paths
// through a real listener and wants /metrics to gain no series: methods outside the known set
// are "other", paths that match no route are "unmatched".
func TestMetricsLabelsStayBounded(t *testing.T) {
	env := servertest.New(t)
	ts := httptest.NewServer(env.Server.Engine)
	defer ts.Close()
	send := func(method, path string) {
		t.Helper()
		req, err := http.NewRequest(method, ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	known := map[string]bool{"other": true}
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE"} {
		known[m] = true
	}
	methodLabel := regexp.MustCompile(`method="([^"]*)"`)
	scrape := func() (map[string]bool, int) {
		t.Helper()
		resp, err := ts.Client().Get(ts.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		series := map[string]bool{}
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(line, "canbao_http_") {
				continue
			}
			key := line[:strings.LastIndexByte(line, ' ')]
			series[key] = true
			if m := methodLabel.FindStringSubmatch(key); m != nil && !known[m[1]] {
				t.Errorf("method label %.40q is outside the fixed set", m[1])
				known[m[1]] = true // report each once
			}
		}
		return series, len(b)
	}
	// One of each kind first, so the fixed series they belong to exist before the count.
	send("JUNK", "/api/v1/villages")
	send("GET", "/junk/path")
	send("JUNK", "/junk/path")
	scrape()
	before, sizeBefore := scrape()
	const n = 5000
	for i := range n {
		method := fmt.Sprintf("M%035d", i)
		switch i % 3 {
		case 0:
			send(method, "/api/v1/villages")
		case 1:
			send(method, fmt.Sprintf("/junk/%d", i))
		default:
			send("GET", fmt.Sprintf("/api/v1/junk-%d?x=%d", i, i))
		}
	}
	after, sizeAfter := scrape()
	var added []string
	for k := range after {
		if !before[k] {
			added = append(added, k)
		}
	}
	t.Logf("/metrics: %d bytes before, %d bytes after %d junk requests; %d series added", sizeBefore, sizeAfter, n, len(added))
	if len(added) > 0 {
		slices.Sort(added)
		t.Errorf("%d new series, e.g. %.200s", len(added), added[0])
	}
}

// TestSlowBodyIsCutOff trickles one byte of a JSON body and then stops: the server must answer
// 408 REQUEST_TIMEOUT at the (here tiny) body deadline and close the connection, instead of
// holding it until the client gives up. The client's remaining bytes wait on the answer.
func TestSlowBodyIsCutOff(t *testing.T) {
	env := servertest.New(t, func(c *config.Config) { c.HTTP.BodyTimeout = 200 * time.Millisecond })
	tok, _ := env.Staff(auth.RoleStaff, "")
	ts := httptest.NewServer(env.Server.Engine)
	defer ts.Close()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	release := make(chan struct{})
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		fmt.Fprintf(conn, "POST /api/v1/eligibility HTTP/1.1\r\nHost: canbao\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{", tok)
		<-release // the rest of the body only after the server has answered
		_, _ = conn.Write([]byte(strings.Repeat(" ", 99)))
	}()
	defer func() { close(release); <-wrote }()
	// A guard against hanging, not a wait: the answer is expected within the 200 ms deadline.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer to a trickled body after %s: %v", time.Since(start).Round(time.Millisecond), err)
	}
	body, _ := io.ReadAll(resp.Body)
	held := time.Since(start)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), `"REQUEST_TIMEOUT"`) {
		t.Errorf("trickled body: %d %s, want 408 REQUEST_TIMEOUT", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("408 lacks the usual headers: %v", resp.Header)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("connection still open after the cut (read: %v)", err)
	}
	t.Logf("trickled body answered %d after %s, connection closed", resp.StatusCode, held.Round(time.Millisecond))
}
