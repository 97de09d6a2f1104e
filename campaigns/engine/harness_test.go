package engine_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/campaigns/channels"
	"github.com/canbao/canbao/campaigns/channels/sms"
	"github.com/canbao/canbao/campaigns/channels/sms/smstest"
	"github.com/canbao/canbao/campaigns/counters"
	"github.com/canbao/canbao/campaigns/engine"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/config"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/logging"
	"github.com/canbao/canbao/internal/server/servertest"
	"github.com/canbao/canbao/internal/wechat"
	"github.com/canbao/canbao/internal/wechat/wechattest"
)

// The fakes' credentials and the approved subscribe-message template the tests use.
const (
	wxAppID     = "wx-canbao-e2e"
	wxSecret    = "wx-secret-e2e"
	smsKeyID    = "LTAI5tE2eKey"
	smsSecret   = "E2eSecret0123456789"
	wxTemplate  = "tmpl-canbao-reminder"
	smsSignName = "罗东镇劳保所"
)

// harness is one API (its own database and Redis prefix) with a fake WeChat and a fake SMS
// provider, and the bookkeeping the invariant checks need.
type harness struct {
	t     *testing.T
	env   *servertest.Env
	staff string
	wx    *wechattest.Server
	sms   *smstest.Server
	log   *slog.Logger

	jwtSecret, piiKey string // the env's secrets, for a child process

	mu      sync.Mutex
	byPhone map[string]int64 // phone → resident
	byOpen  map[string]int64 // openid → resident
	tags    map[string]int64 // the campaign tag carried in every WeChat message → campaign
	seq     atomic.Int64
}

var phoneSeq atomic.Int64

func newHarness(t *testing.T) *harness {
	t.Helper()
	waitOutsideLastMinute(t)
	h := &harness{t: t, byPhone: map[string]int64{}, byOpen: map[string]int64{}, tags: map[string]int64{}}
	h.env = servertest.New(t, func(c *config.Config) { h.jwtSecret, h.piiKey = c.JWT.Secret, c.PII.Key })
	h.wx = wechattest.NewServer(t, wxAppID, wxSecret)
	h.sms = smstest.NewServer(t, smsKeyID, smsSecret)
	h.log = logging.New(h.env.Logs, slog.LevelDebug)
	h.staff, _ = h.env.Staff(auth.RoleStaff, "")
	return h
}

// waitOutsideLastMinute: the all-day windows the tests use ("00:00"-"23:59", SMS 0-1439) end
// at 23:59 Asia/Shanghai; a test started just before that waits for the new day.
func waitOutsideLastMinute(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Now().In(loc)
	if now.Hour() == 23 && now.Minute() >= 58 {
		next := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 1, 0, loc)
		t.Logf("waiting %s for the all-day send window to reopen", time.Until(next).Round(time.Second))
		time.Sleep(time.Until(next))
	}
}

// testConfig is fastConfig with an SMS window covering the whole day and quick retries.
func testConfig() engine.Config {
	c := fastConfig()
	c.SMSWindow = [2]int{0, 1439}
	c.RetryBackoff = 200 * time.Millisecond
	return c
}

// newEngine builds an engine with the real WeChat and SMS clients pointed at the fakes. Their
// timeout is the engine's own cap on a send (10 s), so that a send a fake holds (Hold) is not
// given up while the test acts, however slow the machine.
func (h *harness) newEngine(cfg engine.Config, with ...func(*engine.Deps)) *engine.Engine {
	env := h.env
	wx := wechat.NewClient(wechat.Config{APIBase: h.wx.URL, AppID: wxAppID, Secret: wxSecret, Timeout: 10 * time.Second},
		env.Redis, env.Prefix, h.log)
	sc := sms.NewClient(sms.Config{APIBase: h.sms.URL, AccessKeyID: smsKeyID, AccessKeySecret: smsSecret, Timeout: 10 * time.Second}, h.log)
	d := engine.Deps{DB: env.DB, Redis: env.Redis, Prefix: env.Prefix, Keyring: env.Keyring, Rules: env.Rules,
		Location: env.Config.Location(), Log: h.log, Counters: env.Server.Counters,
		Channels: map[string]channels.Channel{
			campaigns.ChannelWeChat:    channels.WeChat{Client: wx},
			campaigns.ChannelSMS:       channels.SMS{Client: sc},
			campaigns.ChannelVisitTask: channels.VisitTask{DB: env.DB, Loc: env.Config.Location()},
			campaigns.ChannelLog:       channels.Log{Log: h.log},
		}}
	for _, f := range with {
		f(&d)
	}
	return engine.New(d, cfg)
}

// start runs an engine until the returned stop is called (or the test ends). Stopping must
// not take long: the engine stops taking work and finishes only what is in flight.
func (h *harness) start(cfg engine.Config) (stop func()) {
	stop, _ = h.run(h.newEngine(cfg))
	return stop
}

// startOnDemand starts an engine whose reconciler runs only when the test calls
// h.reconcile(e): the test, not a ticker, decides what the reconciler meets.
func (h *harness) startOnDemand(cfg engine.Config) *engine.Engine {
	e := h.newEngine(cfg)
	engine.ReconcileOnDemand(e)
	h.run(e)
	return e
}

// waitCounted waits until a campaign's live counters have caught up with the outbox (a worker
// counts a delivery just after committing it), so that a reconciler round the test runs next
// settles them with no count still on its way.
func (h *harness) waitCounted(id int64) {
	h.t.Helper()
	h.waitFor("the counters to catch up with the outbox", 15*time.Second, func() bool {
		return reflect.DeepEqual(normalize(h.stats(id)), normalize(h.sqlStats(id)))
	})
}

// reconcile runs one reconciler round of e.
func (h *harness) reconcile(e *engine.Engine) {
	h.t.Helper()
	if err := e.Reconcile(context.Background()); err != nil {
		h.t.Fatalf("reconcile: %v", err)
	}
}

// run runs e until stop is called (or the test ends). cancel only ends its context, as the
// first half of stop: the engine stops taking work; stop then waits for what was in flight.
func (h *harness) run(e *engine.Engine) (stop func(), cancel context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, context.Canceled) {
					h.t.Errorf("engine: %v", err)
				}
			case <-time.After(10 * time.Second):
				h.t.Errorf("engine %s did not stop within 10s of its context ending", e.ID())
			}
		})
	}
	h.t.Cleanup(stop)
	return stop, cancel
}

// village adds a village, so that a test can give a campaign an audience of its own.
func (h *harness) village(code string) string {
	h.env.Exec(`INSERT INTO villages (code, name, town, sort_order, created_at) VALUES (?, ?, '罗东镇', 9, ?)`,
		code, code+"村", database.Now())
	return code
}

// person is a roster person and how the channels can reach them.
type person struct {
	ID      int64
	Village string
	Phone   string
	OpenID  string
	Account int64
}

type personSpec struct {
	Village  string
	Phone    bool // give them a (unique) mobile number
	OpenID   bool // give them a mini-program account
	Consents int  // one-time consents for wxTemplate (with OpenID)
	Status   string
}

func (h *harness) person(s personSpec) person {
	h.t.Helper()
	p := person{Village: s.Village}
	if p.Village == "" {
		p.Village = "zhenxing"
	}
	if s.Phone {
		p.Phone = fmt.Sprintf("139%08d", phoneSeq.Add(1))
	}
	p.ID, _ = h.env.AddResident(servertest.ResidentSpec{Village: p.Village, Phone: p.Phone, Status: s.Status})
	if s.OpenID {
		p.OpenID = fmt.Sprintf("o-e2e-%d-%d", p.ID, time.Now().UnixNano())
		now := database.Now()
		res, err := h.env.DB.Exec(`INSERT INTO resident_accounts (openid, resident_id, created_at, last_login_at) VALUES (?, ?, ?, ?)`,
			p.OpenID, p.ID, now, now)
		if err != nil {
			h.t.Fatal(err)
		}
		p.Account, _ = res.LastInsertId()
		if s.Consents > 0 {
			h.env.Exec(`INSERT INTO subscription_consents (account_id, template_id, remaining, granted_total, updated_at) VALUES (?, ?, ?, ?, ?)`,
				p.Account, wxTemplate, s.Consents, s.Consents, now)
		}
	}
	h.mu.Lock()
	if p.Phone != "" {
		h.byPhone[p.Phone] = p.ID
	}
	if p.OpenID != "" {
		h.byOpen[p.OpenID] = p.ID
	}
	h.mu.Unlock()
	return p
}

func (h *harness) people(n int, s personSpec) []person {
	out := make([]person, n)
	for i := range out {
		out[i] = h.person(s)
	}
	return out
}

// consents is what the ledger says a person has left.
func (h *harness) consents(p person) int {
	return h.env.Count(`SELECT COALESCE(SUM(remaining), 0) FROM subscription_consents WHERE account_id = ? AND template_id = ?`, p.Account, wxTemplate)
}

// campaignSpec is what a test varies in a campaign; the rest is a valid default.
type campaignSpec struct {
	Channels []string
	Segment  map[string]any // default: every unenrolled person
	Rate     int            // rate_per_minute; 0: the configured default
	Cap      *[2]int        // frequency cap {max, per_days}
	Window   [2]string      // default: all day
	Start    time.Time      // default: a minute ago
	End      *time.Time
}

// campaign creates a campaign through the API and returns its id, still a draft.
func (h *harness) campaign(s campaignSpec) int64 {
	h.t.Helper()
	tag := fmt.Sprintf("c%d", h.seq.Add(1))
	if s.Segment == nil {
		s.Segment = map[string]any{"statuses": []string{"unenrolled"}}
	}
	if s.Window == [2]string{} {
		s.Window = [2]string{"00:00", "23:59"}
	}
	if s.Start.IsZero() {
		s.Start = time.Now().Add(-time.Minute)
	}
	tmpl := map[string]any{"text": "{{name}}您好，请于{{deadline}}前参加{{scheme}}"}
	for _, ch := range s.Channels {
		switch ch {
		case campaigns.ChannelWeChat:
			tmpl["wechat"] = map[string]any{"template_id": wxTemplate, "page": "pages/enroll/index",
				"data": map[string]string{"thing1": "{{name}}请参保", "character_string2": tag}}
		case campaigns.ChannelSMS:
			tmpl["sms"] = map[string]any{"sign_name": smsSignName, "template_code": "SMS_123456789", "params": map[string]string{"name": "{{name}}"}}
		}
	}
	sched := map[string]any{"start_at": s.Start.Format(time.RFC3339), "window": map[string]string{"from": s.Window[0], "to": s.Window[1]}}
	if s.End != nil {
		sched["end_at"] = s.End.Format(time.RFC3339)
	}
	body := map[string]any{"name": "提醒 " + tag, "segment": s.Segment, "channels": s.Channels, "template": tmpl, "schedule": sched}
	if s.Rate > 0 {
		body["rate_per_minute"] = s.Rate
	}
	if s.Cap != nil {
		body["frequency_cap"] = map[string]int{"max": s.Cap[0], "per_days": s.Cap[1]}
	}
	w := h.env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/campaigns", Token: h.staff, Body: body})
	if w.Code != 201 {
		h.t.Fatalf("create campaign: %d %s", w.Code, w.Body)
	}
	var c struct{ ID int64 }
	w.JSON(h.t, &c)
	h.mu.Lock()
	h.tags[tag] = c.ID
	h.mu.Unlock()
	return c.ID
}

// act applies a lifecycle action (schedule, pause, resume, cancel) and returns the answer.
func (h *harness) act(id int64, action string) *servertest.Response {
	h.t.Helper()
	return h.env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/campaigns/" + itoa(id) + "/" + action, Token: h.staff})
}

// mustAct applies an action that must succeed.
func (h *harness) mustAct(id int64, action string) {
	h.t.Helper()
	if w := h.act(id, action); w.Code != 200 {
		h.t.Fatalf("%s campaign %d: %d %s", action, id, w.Code, w.Body)
	}
}

// scheduled creates a campaign and schedules it.
func (h *harness) scheduled(s campaignSpec) int64 {
	h.t.Helper()
	id := h.campaign(s)
	h.mustAct(id, "schedule")
	return id
}

func (h *harness) status(id int64) string {
	h.t.Helper()
	var s string
	if err := h.env.DB.Get(&s, `SELECT status FROM campaigns WHERE id = ?`, id); err != nil {
		h.t.Fatal(err)
	}
	return s
}

// count counts a campaign's deliveries in a status ("" for all).
func (h *harness) count(id int64, status string) int {
	h.t.Helper()
	if status == "" {
		return h.env.Count(`SELECT COUNT(*) FROM deliveries WHERE campaign_id = ?`, id)
	}
	return h.env.Count(`SELECT COUNT(*) FROM deliveries WHERE campaign_id = ? AND status = ?`, id, status)
}

// waitFor polls cond every 20ms until it holds, failing the test after d.
func (h *harness) waitFor(what string, d time.Duration, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out after %s waiting for %s\n%s", d, what, h.describe())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stays fails the test if cond stops holding at any point during d.
func (h *harness) stays(what string, d time.Duration, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !cond() {
			h.t.Fatalf("%s stopped holding\n%s", what, h.describe())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitEnded waits until the campaign is completed or cancelled with nothing pending.
func (h *harness) waitEnded(id int64, d time.Duration) {
	h.t.Helper()
	h.waitFor(fmt.Sprintf("campaign %d to end", id), d, func() bool {
		s := h.status(id)
		return (s == campaigns.StatusCompleted || s == campaigns.StatusCancelled) &&
			h.env.Count(`SELECT COUNT(*) FROM deliveries WHERE campaign_id = ? AND status IN ('queued', 'sending')`, id) == 0 &&
			h.env.Count(`SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ? AND status IN ('snapshotting', 'dispatching')`, id) == 0
	})
}

// describe dumps the outbox, for failure messages.
func (h *harness) describe() string {
	var rows []struct {
		Campaign int64  `db:"campaign_id"`
		Status   string `db:"status"`
		Reason   string `db:"skip_reason"`
		Channel  string `db:"channel"`
		Code     string `db:"error_code"`
		N        int    `db:"n"`
	}
	err := h.env.DB.Select(&rows, `SELECT campaign_id, status, COALESCE(skip_reason, '') AS skip_reason, COALESCE(channel, '') AS channel,
		COALESCE(error_code, '') AS error_code, COUNT(*) AS n FROM deliveries GROUP BY campaign_id, status, skip_reason, channel, error_code`)
	if err != nil {
		return "outbox: " + err.Error()
	}
	var b strings.Builder
	b.WriteString("outbox (campaign status reason channel error n):\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "  %d %s %s %s %s %d\n", r.Campaign, r.Status, r.Reason, r.Channel, r.Code, r.N)
	}
	var cs []struct {
		ID     int64  `db:"id"`
		Status string `db:"status"`
	}
	_ = h.env.DB.Select(&cs, `SELECT id, status FROM campaigns ORDER BY id`)
	fmt.Fprintf(&b, "campaigns: %+v\n", cs)
	var runs []struct {
		ID       int64  `db:"id"`
		Campaign int64  `db:"campaign_id"`
		Status   string `db:"status"`
	}
	_ = h.env.DB.Select(&runs, `SELECT id, campaign_id, status FROM campaign_runs ORDER BY id`)
	fmt.Fprintf(&b, "runs: %+v\n", runs)
	var queries []string
	_ = h.env.DB.Select(&queries, `SELECT CONCAT(COALESCE(STATE, ''), ': ', LEFT(INFO, 80)) FROM information_schema.PROCESSLIST
		WHERE DB = DATABASE() AND COMMAND = 'Query' AND INFO NOT LIKE '%information_schema.PROCESSLIST%'`)
	fmt.Fprintf(&b, "statements running: %q\n", queries)
	return b.String()
}

// smsSentCount and wxSentCount are what the fakes accepted.
func (h *harness) smsSentCount() int { return len(h.sms.Sent()) }
func (h *harness) wxSentCount() int  { return len(h.wx.Sent()) }

// checkInvariants asserts, for every campaign of the test:
//   - once it ended (completed or cancelled): nothing queued or sending, and
//     sent + failed + skipped + unknown = targeted (the runs' snapshot count, the outbox rows
//     and the stats all agree);
//   - no phone number and no openid received two messages from one run, and what the fakes
//     received agrees with the outbox (every sent row reached the provider once; only an
//     unknown row may have reached it without being recorded);
//   - the stats endpoint equals a SQL GROUP BY over the outbox.
func (h *harness) checkInvariants() {
	h.t.Helper()
	var ids []int64
	if err := h.env.DB.Select(&ids, `SELECT id FROM campaigns WHERE status <> 'draft' ORDER BY id`); err != nil {
		h.t.Fatal(err)
	}
	for _, id := range ids {
		h.checkTotals(id)
		h.checkStats(id)
	}
	h.checkOnce()
}

func (h *harness) checkTotals(id int64) {
	h.t.Helper()
	s := h.status(id)
	if s != campaigns.StatusCompleted && s != campaigns.StatusCancelled {
		return
	}
	var c struct {
		Targeted, Total, Sent, Failed, Skipped, Unknown, Queued, Sending int
	}
	err := h.env.DB.Get(&c, `SELECT
		(SELECT COALESCE(SUM(targeted), 0) FROM campaign_runs WHERE campaign_id = ?) AS targeted,
		COUNT(*) AS total,
		COALESCE(SUM(status = 'sent'), 0) AS sent, COALESCE(SUM(status = 'failed'), 0) AS failed,
		COALESCE(SUM(status = 'skipped'), 0) AS skipped, COALESCE(SUM(status = 'unknown'), 0) AS unknown,
		COALESCE(SUM(status = 'queued'), 0) AS queued, COALESCE(SUM(status = 'sending'), 0) AS sending
		FROM deliveries WHERE campaign_id = ?`, id, id)
	if err != nil {
		h.t.Fatal(err)
	}
	if c.Queued != 0 || c.Sending != 0 {
		h.t.Errorf("campaign %d is %s with %d queued and %d sending", id, s, c.Queued, c.Sending)
	}
	if c.Sent+c.Failed+c.Skipped+c.Unknown != c.Targeted || c.Total != c.Targeted {
		h.t.Errorf("campaign %d: sent %d + failed %d + skipped %d + unknown %d != targeted %d (rows %d)",
			id, c.Sent, c.Failed, c.Skipped, c.Unknown, c.Targeted, c.Total)
	}
	if n := h.env.Count(`SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ? AND status NOT IN ('completed', 'cancelled')`, id); n != 0 {
		h.t.Errorf("campaign %d is %s but %d of its runs are not", id, s, n)
	}
}

// checkOnce compares what the fakes received with the outbox.
func (h *harness) checkOnce() {
	h.t.Helper()
	type key struct {
		run    int64
		person int64
	}
	// SMS: OutId is the delivery id.
	perRun := map[key]int{}
	smsTo := map[int64]int{}
	for _, m := range h.sms.Sent() {
		h.mu.Lock()
		pid, ok := h.byPhone[m.Phone]
		h.mu.Unlock()
		if !ok {
			h.t.Errorf("an SMS went to a number no test person has")
			continue
		}
		smsTo[pid]++
		var d struct {
			Run      int64 `db:"run_id"`
			Resident int64 `db:"resident_id"`
		}
		did, _ := strconv.ParseInt(m.OutID, 10, 64)
		if err := h.env.DB.Get(&d, `SELECT run_id, resident_id FROM deliveries WHERE id = ?`, did); err != nil {
			h.t.Errorf("SMS OutId %q: %v", m.OutID, err)
			continue
		}
		if d.Resident != pid {
			h.t.Errorf("delivery %d of resident %d was sent to resident %d's number", did, d.Resident, pid)
		}
		if perRun[key{d.Run, pid}]++; perRun[key{d.Run, pid}] == 2 {
			h.t.Errorf("resident %d got two SMS in run %d", pid, d.Run)
		}
	}
	// WeChat: the campaign's tag is in the message; each test campaign has one run here, or
	// one run at a time.
	wxTo := map[int64]int{}
	perCampaign := map[key]int{}
	for _, m := range h.wx.Sent() {
		h.mu.Lock()
		pid, ok := h.byOpen[m.ToUser]
		cid, okc := h.tags[m.Data["character_string2"]]
		h.mu.Unlock()
		if !ok || !okc {
			h.t.Errorf("a WeChat message to an unknown openid or campaign (%v %v)", ok, okc)
			continue
		}
		wxTo[pid]++
		if perCampaign[key{cid, pid}]++; perCampaign[key{cid, pid}] == 2 {
			h.t.Errorf("resident %d got two WeChat messages from campaign %d", pid, cid)
		}
	}
	for k, n := range perCampaign {
		runs := h.env.Count(`SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ?`, k.run)
		if n > runs {
			h.t.Errorf("resident %d got %d WeChat messages from campaign %d of %d runs", k.person, n, k.run, runs)
		}
	}
	// Every sent row reached its provider, once; unknown rows may or may not have.
	var rows []struct {
		Resident int64  `db:"resident_id"`
		Channel  string `db:"channel"`
		Sent     int    `db:"sent"`
		Unknown  int    `db:"unknown"`
	}
	if err := h.env.DB.Select(&rows, `SELECT resident_id, COALESCE(channel, '') AS channel, SUM(status = 'sent') AS sent,
		SUM(status = 'unknown') AS unknown FROM deliveries GROUP BY resident_id, channel`); err != nil {
		h.t.Fatal(err)
	}
	want := map[string]map[int64][2]int{"sms": {}, "wechat": {}} // channel → resident → [sent, sent+unknown]
	unknown := map[int64]int{}
	for _, r := range rows {
		unknown[r.Resident] += r.Unknown
		if m := want[r.Channel]; m != nil {
			v := m[r.Resident]
			v[0] += r.Sent
			m[r.Resident] = v
		}
	}
	for ch, got := range map[string]map[int64]int{"sms": smsTo, "wechat": wxTo} {
		ids := map[int64]bool{}
		for id := range got {
			ids[id] = true
		}
		for id := range want[ch] {
			ids[id] = true
		}
		for id := range ids {
			sent := want[ch][id][0]
			if got[id] < sent || got[id] > sent+unknown[id] {
				h.t.Errorf("resident %d: the %s fake received %d messages, the outbox says %d sent and %d unknown",
					id, ch, got[id], sent, unknown[id])
			}
		}
	}
}

// stats reads the stats endpoint.
func (h *harness) stats(id int64) counters.Stats {
	h.t.Helper()
	w := h.env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/campaigns/" + itoa(id) + "/stats", Token: h.staff})
	if w.Code != 200 {
		h.t.Fatalf("stats: %d %s", w.Code, w.Body)
	}
	var s counters.Stats
	w.JSON(h.t, &s)
	return s
}

// sqlStats computes a campaign's stats from the outbox and the conversions.
func (h *harness) sqlStats(id int64) counters.Stats {
	h.t.Helper()
	s := counters.Stats{Skipped: map[string]int64{}, ByVillage: map[string]counters.Slice{}, ByChannel: map[string]counters.Slice{}, ByDay: map[string]int64{},
		ConvertedByDay: map[string]int64{}}
	var rows []struct {
		Village string `db:"village_code"`
		Status  string `db:"status"`
		Reason  string `db:"skip_reason"`
		Channel string `db:"channel"`
		N       int64  `db:"n"`
	}
	if err := h.env.DB.Select(&rows, `SELECT village_code, status, COALESCE(skip_reason, '') AS skip_reason, COALESCE(channel, '') AS channel,
		COUNT(*) AS n FROM deliveries WHERE campaign_id = ? GROUP BY village_code, status, skip_reason, channel`, id); err != nil {
		h.t.Fatal(err)
	}
	slice := func(m map[string]counters.Slice, k string) counters.Slice {
		if m[k] == nil {
			m[k] = counters.Slice{}
		}
		return m[k]
	}
	for _, r := range rows {
		s.Targeted += r.N
		v := slice(s.ByVillage, r.Village)
		v["targeted"] += r.N
		switch r.Status {
		case "queued":
			s.Queued += r.N
		case "sending":
			s.Sending += r.N
		case "unknown":
			s.Unknown += r.N
		case "skipped":
			s.Skipped[r.Reason] += r.N
			v["skipped"] += r.N
		case "sent", "failed":
			if r.Status == "sent" {
				s.Sent += r.N
			} else {
				s.Failed += r.N
			}
			v[r.Status] += r.N
			if r.Channel != "" {
				slice(s.ByChannel, r.Channel)[r.Status] += r.N
			}
		default:
			h.t.Errorf("campaign %d: a delivery in status %q", id, r.Status)
		}
	}
	var sentAt []time.Time
	if err := h.env.DB.Select(&sentAt, `SELECT sent_at FROM deliveries WHERE campaign_id = ? AND status = 'sent'`, id); err != nil {
		h.t.Fatal(err)
	}
	for _, t := range sentAt {
		s.ByDay[t.In(h.env.Config.Location()).Format("20060102")]++
	}
	s.Reached = int64(h.env.Count(`SELECT COUNT(DISTINCT resident_id) FROM deliveries WHERE campaign_id = ? AND status = 'sent'`, id))
	var nb []time.Time // waiting for a window: queued, due later, no error code
	if err := h.env.DB.Select(&nb, `SELECT not_before FROM deliveries WHERE campaign_id = ? AND status = 'queued' AND not_before > ?
		AND error_code IS NULL ORDER BY not_before`, id, time.Now().UTC()); err != nil {
		h.t.Fatal(err)
	}
	if s.Waiting.ForWindow = int64(len(nb)); len(nb) > 0 {
		s.Waiting.Until = &nb[0]
	}
	var conv []struct {
		Village string `db:"village_code"`
		Channel string `db:"channel"`
		Day     string `db:"day"`
		N       int64  `db:"n"`
	}
	if err := h.env.DB.Select(&conv, `SELECT village_code, channel, DATE_FORMAT(converted_on, '%Y%m%d') AS day, COUNT(*) AS n
		FROM conversions WHERE campaign_id = ? GROUP BY village_code, channel, converted_on`, id); err != nil {
		h.t.Fatal(err)
	}
	for _, c := range conv {
		s.Converted += c.N
		s.ConvertedByDay[c.Day] += c.N
		slice(s.ByVillage, c.Village)["converted"] += c.N
		slice(s.ByChannel, c.Channel)["converted"] += c.N
	}
	return s
}

// normalize drops zero counters, so that a default 0 and a missing key compare equal.
func normalize(s counters.Stats) counters.Stats {
	drop := func(m map[string]int64) map[string]int64 {
		out := map[string]int64{}
		for k, v := range m {
			if v != 0 {
				out[k] = v
			}
		}
		return out
	}
	slices := func(m map[string]counters.Slice) map[string]counters.Slice {
		out := map[string]counters.Slice{}
		for k, v := range m {
			if d := drop(v); len(d) > 0 {
				out[k] = d
			}
		}
		return out
	}
	s.Skipped, s.ByDay, s.ConvertedByDay = drop(s.Skipped), drop(s.ByDay), drop(s.ConvertedByDay)
	s.Waiting.ForRetry = 0 // a backoff of a fraction of a second: not comparable across two reads
	if u := s.Waiting.Until; u != nil {
		t := u.UTC()
		s.Waiting.Until = &t
	}
	s.ByVillage, s.ByChannel = slices(s.ByVillage), slices(s.ByChannel)
	return s
}

// checkStats asserts that the stats endpoint equals the outbox. The live counters trail the
// outbox by a Redis round trip, so they get a moment to agree.
func (h *harness) checkStats(id int64) {
	h.t.Helper()
	var got, want counters.Stats
	for deadline := time.Now().Add(3 * time.Second); ; {
		got, want = normalize(h.stats(id)), normalize(h.sqlStats(id))
		if reflect.DeepEqual(got, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !reflect.DeepEqual(got, want) {
		h.t.Errorf("campaign %d: stats differ from the outbox:\n  api: %s\n  sql: %s", id, statsString(got), statsString(want))
	}
}

func statsString(s counters.Stats) string {
	m := func(x map[string]int64) string {
		keys := slicesSorted(maps.Keys(x))
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s=%d", k, x[k])
		}
		return "{" + strings.Join(parts, " ") + "}"
	}
	sl := func(x map[string]counters.Slice) string {
		keys := slicesSorted(maps.Keys(x))
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + m(x[k])
		}
		return "{" + strings.Join(parts, " ") + "}"
	}
	until := "-"
	if s.Waiting.Until != nil {
		until = s.Waiting.Until.Format(time.RFC3339)
	}
	return fmt.Sprintf("targeted=%d queued=%d sending=%d sent=%d failed=%d unknown=%d reached=%d converted=%d skipped=%s by_village=%s by_channel=%s by_day=%s converted_by_day=%s waiting=%d/%d until %s",
		s.Targeted, s.Queued, s.Sending, s.Sent, s.Failed, s.Unknown, s.Reached, s.Converted, m(s.Skipped), sl(s.ByVillage), sl(s.ByChannel), m(s.ByDay), m(s.ConvertedByDay),
		s.Waiting.ForWindow, s.Waiting.ForRetry, until)
}

func slicesSorted[K ~string](seq func(func(K) bool)) []K {
	var out []K
	for k := range seq {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
