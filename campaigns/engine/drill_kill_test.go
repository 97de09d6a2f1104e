package engine_test

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/dbtest"
	"github.com/canbao/canbao/internal/server/servertest"
)

// The canbao binary, built once for the package's tests and removed after them.
var binary struct {
	once sync.Once
	dir  string
	path string
	err  error
	out  []byte
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		_ = os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}

func canbaoBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		if binary.dir, binary.err = os.MkdirTemp("", "canbao-e2e-"); binary.err != nil {
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		binary.path = filepath.Join(binary.dir, "canbao")
		cmd := exec.Command(goTool, "build", "-o", binary.path, "./cmd/canbao")
		cmd.Dir = filepath.Join("..", "..") // the module root
		binary.out, binary.err = cmd.CombinedOutput()
	})
	if binary.err != nil {
		t.Fatalf("go build ./cmd/canbao: %v\n%s", binary.err, binary.out)
	}
	return binary.path
}

// child is `canbao serve --engine-only` running against the test's database, Redis prefix
// and fakes.
type child struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *servertest.SafeBuffer
	done chan struct{}
	err  error
}

// childAccount creates a MySQL account of the test's own, with every right on the test's
// database and none elsewhere, for the engine processes to connect as: the process list then
// tells their connections from the test's. It returns the DSN the processes use.
func (h *harness) childAccount() (dsn, user string) {
	h.t.Helper()
	var me struct {
		DB   string `db:"db"`
		Self string `db:"self"`
	}
	if err := h.env.DB.Get(&me, `SELECT DATABASE() AS db, CURRENT_USER() AS self`); err != nil {
		h.t.Fatal(err)
	}
	host := me.Self[strings.LastIndex(me.Self, "@")+1:] // the host pattern that let the test in
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	user, pass := "canbao_drill_"+hex.EncodeToString(b[:4]), hex.EncodeToString(b)
	account := "'" + user + "'@'" + strings.ReplaceAll(host, "'", "") + "'"
	if _, err := h.env.DB.Exec(`CREATE USER ` + account + ` IDENTIFIED BY '` + pass + `'`); err != nil {
		h.t.Fatalf("the kill drill needs its own MySQL account (CREATE USER, GRANT): %v", err)
	}
	h.t.Cleanup(func() { _, _ = h.env.DB.Exec(`DROP USER IF EXISTS ` + account) })
	if _, err := h.env.DB.Exec("GRANT ALL PRIVILEGES ON `" + me.DB + "`.* TO " + account); err != nil {
		h.t.Fatal(err)
	}
	cfg, err := mysql.ParseDSN(dbtest.ServerDSN())
	if err != nil {
		h.t.Fatal(err)
	}
	cfg.User, cfg.Passwd, cfg.DBName, cfg.ParseTime = user, pass, me.DB, true
	return cfg.FormatDSN(), user
}

func (h *harness) startChild(bin, dsn string) *child {
	h.t.Helper()
	var environ []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CANBAO_") {
			environ = append(environ, kv)
		}
	}
	environ = append(environ,
		"CANBAO_MODE=production",
		"CANBAO_JWT_SECRET="+h.jwtSecret,
		"CANBAO_PII_KEY="+h.piiKey,
		"CANBAO_MYSQL_DSN="+dsn,
		"CANBAO_REDIS_ADDR="+dbtest.RedisConfigAddr(),
		"CANBAO_REDIS_PREFIX="+h.env.Prefix,
		"CANBAO_WECHAT_API_BASE="+h.wx.URL,
		"CANBAO_WECHAT_APPID="+wxAppID,
		"CANBAO_WECHAT_SECRET="+wxSecret,
		"CANBAO_WECHAT_TIMEOUT=10s", // a send the fake holds is not given up while the test acts
		"CANBAO_SMS_API_BASE="+h.sms.URL,
		"CANBAO_SMS_ACCESS_KEY_ID="+smsKeyID,
		"CANBAO_SMS_ACCESS_KEY_SECRET="+smsSecret,
		"CANBAO_CAMPAIGNS_WORKERS=4",
		"CANBAO_HTTP_ADDR=127.0.0.1:0",
	)
	c := &child{t: h.t, out: &servertest.SafeBuffer{}, done: make(chan struct{})}
	c.cmd = exec.Command(bin, "serve", "--engine-only")
	c.cmd.Env = environ
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	dieWithTest(c.cmd)
	if err := c.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	h.t.Cleanup(func() {
		c.kill()
		if pii.ContainsPII(c.out.String()) {
			h.t.Errorf("the engine's log holds an ID number or phone number")
		}
		if h.t.Failed() {
			h.t.Logf("engine process output:\n%s", c.out.String())
		}
	})
	return c
}

func (c *child) running() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill() {
	if c.running() {
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-c.done
}

// waitForKilledConnections waits until MariaDB has dropped every connection of user, the
// killed engine's account. A process killed with SIGKILL may leave a statement, a COMMIT among
// them, executing in MariaDB, or sent but not yet read by the server (its connection then still
// shows as Sleep): the server runs it to the end before it reads the end of the connection and
// drops it. Reading the outbox before then read a delivery as `sending` that the dead engine's
// last COMMIT then marked `sent` (the old flake: "delivery 4, in flight at the kill, is not
// unknown").
func (h *harness) waitForKilledConnections(user string) {
	h.t.Helper()
	h.waitFor("MariaDB to drop the killed engine's connections", 30*time.Second, func() bool {
		return h.env.Count(`SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?`, user) == 0
	})
}

// term sends SIGTERM and waits up to d for a clean exit.
func (c *child) term(d time.Duration) {
	c.t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		if c.err != nil {
			c.t.Errorf("the engine exited with %v after SIGTERM", c.err)
		}
	case <-time.After(d):
		c.t.Errorf("the engine did not exit within %s of SIGTERM", d)
	}
}

// TestDrillEngineKilledMidBatch: the real binary (`canbao serve --engine-only`) is killed with
// SIGKILL mid-batch, with WeChat sends in flight, and started again. Nothing is sent twice: a
// send that was in flight is left `unknown` once its lease has run out (its consent stays
// spent), everything else completes once. The WeChat fake holds every send after the third, and
// the kill lands once every claimed delivery's send is held there (none is between its claim
// and its consent), with some of the campaign still queued.
//
// The engine's lease (2 min) and re-feed delay (30 s) are not configurable from outside the
// process, so the test moves the killed process's leases and feed stamps into the past —
// standing for the time a real restart would wait — instead of waiting for them.
func TestDrillEngineKilledMidBatch(t *testing.T) {
	t.Parallel()
	bin := canbaoBinary(t)
	h := newHarness(t)
	dsn, user := h.childAccount()
	ps := h.people(10, personSpec{OpenID: true, Consents: 1})
	id := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelWeChat}, Rate: 300})
	release := h.wx.Hold(3)

	first := h.startChild(bin, dsn)
	h.waitFor("three sent and a send held in flight", 30*time.Second, func() bool {
		if !first.running() {
			t.Fatalf("the engine exited: %v\n%s", first.err, first.out.String())
		}
		return h.count(id, "sent") == 3 && h.wx.Held() >= 1
	})
	// No claim from here on: a claim reads the campaign row under a shared lock, which this
	// exclusive lock holds off (as a pause's transaction does, without pausing). Every claimed
	// delivery then goes on to the fake, its consent spent, and is held there.
	freeze, err := h.env.DB.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = freeze.Rollback() }()
	if _, err := freeze.Exec(`SELECT id FROM campaigns WHERE id = ? FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}
	h.waitFor("every claimed send to be held in flight", 30*time.Second, func() bool { return h.count(id, "sending") == h.wx.Held() })
	first.kill()
	if err := freeze.Rollback(); err != nil {
		t.Fatal(err)
	}
	h.waitForKilledConnections(user)
	h.waitFor("the WeChat fake to see the killed engine's sends abandoned", 30*time.Second, func() bool { return h.wx.Held() == 0 })
	release()

	var states []struct {
		ID     int64  `db:"id"`
		Status string `db:"status"`
	}
	if err := h.env.DB.Select(&states, `SELECT id, status FROM deliveries WHERE campaign_id = ? ORDER BY id`, id); err != nil {
		t.Fatal(err)
	}
	var inFlight []int64
	by := map[string]int{}
	for _, s := range states {
		by[s.Status]++
		if s.Status == "sending" {
			inFlight = append(inFlight, s.ID)
		}
	}
	if len(states) != len(ps) || by["sent"] == 0 || by["queued"] == 0 || by["sent"]+by["queued"]+by["sending"] != len(ps) {
		t.Fatalf("after the kill: %v of %d deliveries, want sent, queued and sending only, some of each", by, len(ps))
	}
	if len(inFlight) == 0 {
		t.Fatalf("no delivery in sending after the kill, though a send was held in flight\n%s", h.describe())
	}
	// The time a restart waits: the claims' lease and the re-feed delay run out.
	past := database.Now().Add(-time.Hour)
	h.env.Exec(`UPDATE deliveries SET lease_until = ? WHERE campaign_id = ? AND status = 'sending'`, past, id)
	h.env.Exec(`UPDATE deliveries SET enqueued_at = ? WHERE campaign_id = ? AND status = 'queued' AND enqueued_at IS NOT NULL`, past, id)
	h.env.Exec(`UPDATE campaign_runs SET lease_until = ? WHERE campaign_id = ?`, past, id)

	second := h.startChild(bin, dsn)
	h.waitEnded(id, 30*time.Second)
	second.term(10 * time.Second)

	for _, d := range inFlight {
		if n := h.env.Count(`SELECT COUNT(*) FROM deliveries WHERE id = ? AND status = 'unknown' AND error_code = 'lease_expired'`, d); n != 1 {
			t.Errorf("delivery %d, in flight at the kill, is not unknown\n%s", d, h.describe())
		}
	}
	if n := h.count(id, "sent"); n != len(ps)-len(inFlight) {
		t.Errorf("%d sent, want %d\n%s", n, len(ps)-len(inFlight), h.describe())
	}
	for _, p := range ps {
		if n := h.consents(p); n != 0 {
			t.Errorf("resident %d has %d consents left: an unknown send's consent was given back or one was resent", p.ID, n)
		}
	}
	if s := h.status(id); s != campaigns.StatusCompleted {
		t.Errorf("campaign %s", s)
	}
	if s := h.stats(id); s.Unknown != int64(len(inFlight)) || s.Sent != int64(len(ps)-len(inFlight)) {
		t.Errorf("stats: %s", statsString(s))
	}
	h.checkInvariants()
}
