//go:build drills

package drills

// The harness: a private MariaDB for the whole run (started in TestMain, restartable), a private
// Redis per drill, the canbao binary built once, and canbao child processes with their logs.
// Nothing here ever connects to the machine's shared MariaDB (3306) or Redis (6379).

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/pii"
)

// Fixed secrets of the drills (production mode has no defaults).
var (
	jwtSecret = "drill-jwt-secret-0123456789abcdef-0123456789"
	piiKey    = base64.StdEncoding.EncodeToString([]byte("drill-pii-key-0123456789abcdef!!"))
)

// Set by TestMain.
var (
	root  string   // the run's scratch folder
	bin   string   // the canbao binary
	maria *mariaDB // the private MariaDB
)

func TestMain(m *testing.M) {
	code := func() int {
		for _, b := range []string{"mariadb-install-db", "mariadbd", "redis-server"} {
			if p := lookBin(b); !fileExists(p) {
				fmt.Fprintf(os.Stderr, "drills: %s not found: install mariadb-server and redis-server (make services does)\n", b)
				return 1
			}
		}
		// The drills' own pool notices MariaDB's restarts; its driver need not say so.
		_ = mysql.SetLogger(log.New(io.Discard, "", 0))
		var err error
		if root, err = os.MkdirTemp("", "canbao-drills-"); err != nil {
			fmt.Fprintln(os.Stderr, "drills:", err)
			return 1
		}
		fmt.Printf("drills: scratch folder %s\n", root)
		if bin, err = buildCanbao(root); err != nil {
			fmt.Fprintln(os.Stderr, "drills: build:", err)
			return 1
		}
		if maria, err = newMariaDB(filepath.Join(root, "mariadb")); err != nil {
			fmt.Fprintln(os.Stderr, "drills: mariadb:", err)
			return 1
		}
		defer maria.kill()
		return m.Run()
	}()
	if code == 0 && os.Getenv("DRILLS_KEEP") == "" {
		_ = os.RemoveAll(root)
	} else if root != "" {
		fmt.Printf("drills: logs and data kept in %s\n", root)
	}
	os.Exit(code)
}

// buildCanbao builds ./cmd/canbao once (DRILLS_BIN names a prebuilt binary instead).
func buildCanbao(dir string) (string, error) {
	if b := os.Getenv("DRILLS_BIN"); b != "" {
		return b, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(dir, "canbao")
	start := time.Now()
	cmd := exec.Command(goBin, "build", "-o", out, "./cmd/canbao")
	cmd.Dir = ".." // the module root: go test runs in drills/
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", err
	}
	fmt.Printf("drills: built %s in %s\n", out, time.Since(start).Round(time.Millisecond))
	return out, nil
}

// freePort asks the kernel for a free loopback port.
func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func lookBin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"} {
		if p := filepath.Join(d, name); fileExists(p) {
			return p
		}
	}
	return name
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// childAttr makes a child die with the test binary (a timed-out `go test` kills only us).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

// ---------------------------------------------------------------------------------------------
// MariaDB

// mariaDB is a private mariadbd on a free loopback port, root without password over TCP.
type mariaDB struct {
	dir, datadir string
	port         int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func newMariaDB(dir string) (*mariaDB, error) {
	m := &mariaDB{dir: dir, datadir: filepath.Join(dir, "data"), port: freePort()}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	install := exec.Command(lookBin("mariadb-install-db"), "--no-defaults", "--user=root", "--datadir="+m.datadir,
		"--auth-root-authentication-method=normal", "--skip-test-db")
	if out, err := install.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mariadb-install-db: %v\n%s", err, out)
	}
	start := time.Now()
	if err := m.start(); err != nil {
		return nil, err
	}
	fmt.Printf("drills: private MariaDB on 127.0.0.1:%d (datadir %s), up in %s\n", m.port, m.datadir, time.Since(start).Round(time.Millisecond))
	return m, nil
}

// dsn names database db on the private server.
func (m *mariaDB) dsn(db string) string {
	return fmt.Sprintf("root@tcp(127.0.0.1:%d)/%s?parseTime=true", m.port, db)
}

// start runs mariadbd and waits until it answers over TCP.
func (m *mariaDB) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	logf, err := os.OpenFile(filepath.Join(m.dir, "mariadbd.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(lookBin("mariadbd"), "--no-defaults", "--user=root", "--datadir="+m.datadir,
		"--port="+strconv.Itoa(m.port), "--bind-address=127.0.0.1", "--socket="+filepath.Join(m.dir, "mysqld.sock"),
		"--pid-file="+filepath.Join(m.dir, "mysqld.pid"), "--log-error="+filepath.Join(m.dir, "mariadbd.err"),
		"--skip-name-resolve", "--max-connections=400", "--innodb-buffer-pool-size=256M",
		"--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	m.cmd, m.done = cmd, done
	db, err := sql.Open("mysql", m.dsn(""))
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("mariadbd exited at start; see %s", filepath.Join(m.dir, "mariadbd.err"))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mariadbd not answering after 60s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends sig and waits for mariadbd to exit.
func (m *mariaDB) stop(sig syscall.Signal, timeout time.Duration) error {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("mariadbd did not exit within %s of %s; killed", timeout, sig)
	}
}

func (m *mariaDB) kill() {
	if m == nil {
		return
	}
	_ = m.stop(syscall.SIGTERM, 30*time.Second)
}

// ---------------------------------------------------------------------------------------------
// Redis

// drillRedisCluster is the variable that puts the drills on Redis Cluster: set to 1, each drill
// starts its own private 3-master cluster (startRedisCluster) instead of one redis-server.
const drillRedisCluster = "CANBAO_DRILL_REDIS_CLUSTER"

// clusterMode says whether this run's drills use a private Redis Cluster.
func clusterMode() bool { return os.Getenv(drillRedisCluster) == "1" }

// redisNode is one private redis-server (or sentinel) of a drill.
type redisNode struct {
	addr string
	dir  string
	port int
	argv []string // the arguments it was started with
	cmd  *exec.Cmd
	done chan struct{}
}

// kill SIGKILLs the node and waits until it is gone.
func (n *redisNode) kill() {
	_ = n.cmd.Process.Kill()
	<-n.done
}

// restart starts the node again on its port, in its folder, with its arguments (a cluster node
// finds its nodes.conf there and rejoins), and waits until it answers PING.
func (n *redisNode) restart(t *testing.T) {
	t.Helper()
	*n = *startRedisProcess(t, n.dir, n.port, n.argv)
}

// startRedisNode runs one private redis-server on port, in dir, without persistence, with extra
// arguments, waits until it answers PING and stops it when t ends.
func startRedisNode(t *testing.T, dir string, port int, extra ...string) *redisNode {
	t.Helper()
	argv := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", dir, "--daemonize", "no"}, extra...)
	return startRedisProcess(t, dir, port, argv)
}

// startRedisProcess runs redis-server with argv (which must make it listen on 127.0.0.1:port),
// logging to dir/redis.log, waits until it answers PING and stops it when t ends.
func startRedisProcess(t *testing.T, dir string, port int, argv []string) *redisNode {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(lookBin("redis-server"), argv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	done := make(chan struct{}) // this process's; restart overwrites the node with another's
	n := &redisNode{addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir, port: port, argv: argv, cmd: cmd, done: done}
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	c := redis.NewClient(&redis.Options{Addr: n.addr})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s not answering", n.addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return n
}

// startRedisCluster runs a private 3-master Redis Cluster (no replicas, no persistence) for one
// drill: three cluster-enabled redis-servers on free loopback ports (their cluster bus ports
// chosen free too), joined by redis-cli --cluster create, then polled until every node says
// cluster_state:ok and sees every master. The nodes stop when t ends.
func startRedisCluster(t *testing.T, dir string) []*redisNode {
	t.Helper()
	return startRedisClusterOf(t, dir, 3, 0)
}

// startRedisClusterOf runs a private Redis Cluster of masters masters, each with replicas
// replicas (redis-cli --cluster create assigns them), and waits until it is ok. The nodes are
// returned in the order they were started, masters and replicas mixed: ask CLUSTER NODES who is
// which.
func startRedisClusterOf(t *testing.T, dir string, masters, replicas int) []*redisNode {
	t.Helper()
	nodes := make([]*redisNode, masters*(1+replicas))
	addrs := make([]string, len(nodes))
	for i := range nodes {
		nd := filepath.Join(dir, fmt.Sprintf("redis-node%d", i+1))
		if err := os.MkdirAll(nd, 0o755); err != nil {
			t.Fatal(err)
		}
		nodes[i] = startRedisNode(t, nd, freePort(), "--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-port", strconv.Itoa(freePort()),
			"--cluster-node-timeout", "5000", "--repl-diskless-sync-delay", "0")
		addrs[i] = nodes[i].addr
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	if out, err := exec.Command(lookBin("redis-cli"), args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create %s: %v\n%s", strings.Join(addrs, " "), err, out)
	}
	waitClusterOK(t, addrs, masters, 30*time.Second)
	if replicas > 0 {
		// A replica that has not finished its first sync never takes over its master.
		waitFor(t, 30*time.Second, "every replica to sync with its master", func() bool {
			synced := 0
			for _, a := range addrs {
				c := redis.NewClient(&redis.Options{Addr: a})
				info, _ := c.Info(context.Background(), "replication").Result()
				_ = c.Close()
				if strings.Contains(info, "role:slave") && strings.Contains(info, "master_link_status:up") {
					synced++
				}
			}
			return synced == masters*replicas
		})
	}
	return nodes
}

// waitClusterOK polls every node of addrs until each says cluster_state:ok and sees masters
// masters, for at most d.
func waitClusterOK(t *testing.T, addrs []string, masters int, d time.Duration) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(d)
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		for {
			info, _ := c.ClusterInfo(ctx).Result()
			nodes, _ := c.ClusterNodes(ctx).Result()
			if strings.Contains(info, "cluster_state:ok") && strings.Count(nodes, "master") >= masters {
				break
			}
			if time.Now().After(deadline) {
				_ = c.Close()
				t.Fatalf("Redis Cluster node %s not ok after %s:\n%s\n%s", a, d, info, nodes)
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = c.Close()
	}
}

// startDrillRedis starts the drill's private Redis: a 3-master cluster in cluster mode, one node
// otherwise. It returns the address (list) for CANBAO_REDIS_ADDR, a client for the drill's own
// checks (a *redis.ClusterClient on a cluster) and the nodes.
func startDrillRedis(t *testing.T, dir string) (string, redis.UniversalClient, []*redisNode) {
	t.Helper()
	if !clusterMode() {
		n := startRedisNode(t, dir, freePort())
		return n.addr, redis.NewClient(&redis.Options{Addr: n.addr}), []*redisNode{n}
	}
	nodes := startRedisCluster(t, dir)
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.addr
	}
	return strings.Join(addrs, ","), redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs}), nodes
}

// flushRedis empties the drill's Redis: FLUSHALL on every master of a cluster, FLUSHDB on one
// node. It returns how many keys there were.
func (e *env) flushRedis(ctx context.Context) (int64, error) {
	if cc, ok := e.rdb.(*redis.ClusterClient); ok {
		var n atomic.Int64
		err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			k, err := node.DBSize(ctx).Result()
			if err != nil {
				return err
			}
			n.Add(k)
			return node.FlushAll(ctx).Err()
		})
		return n.Load(), err
	}
	n, _ := e.rdb.DBSize(ctx).Result()
	return n, e.rdb.FlushDB(ctx).Err()
}

// ---------------------------------------------------------------------------------------------
// One drill's environment

// env is one drill's world: its own database on the private MariaDB, its own Redis, the
// variables its canbao processes get, and handles to check the truth.
type env struct {
	t          *testing.T
	name, dir  string
	dbName     string
	redisAddr  string
	redisNodes []*redisNode // the private Redis's nodes: one, or a cluster's three masters
	prefix     string
	tz         string // business time zone handed to canbao
	db         *sqlx.DB
	rdb        redis.UniversalClient
	tokens     *auth.Tokens
	kr         *pii.Keyring
	loc        *time.Location
}

// newEnv makes a fresh database (migrate + seed demo, by the binary, in production mode) and a
// fresh Redis. tz is the business time zone ("" = Asia/Shanghai, the default).
func newEnv(t *testing.T, name, tz string) *env {
	t.Helper()
	return newEnvWithRedis(t, name, tz, startDrillRedis)
}

// newEnvWithRedis is newEnv with the drill's own Redis, started by startRedis in the drill's
// folder.
func newEnvWithRedis(t *testing.T, name, tz string, startRedis func(t *testing.T, dir string) (string, redis.UniversalClient, []*redisNode)) *env {
	t.Helper()
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if tz == "" {
		tz = "Asia/Shanghai"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, name: name, dir: dir, dbName: "drill_" + name, prefix: "canbao:", tz: tz, loc: loc}
	e.redisAddr, e.rdb, e.redisNodes = startRedis(t, dir)
	t.Cleanup(func() { _ = e.rdb.Close() })
	if e.tokens, err = auth.NewTokens(jwtSecret, "canbao", 2*time.Hour, 30*time.Minute); err != nil {
		t.Fatal(err)
	}
	key, _ := pii.DecodeKey(piiKey)
	if e.kr, err = pii.NewKeyring("k1", map[string][]byte{"k1": key}, "k1"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	e.run("migrate")
	out := e.run("seed", "demo", "--baseline")
	e.logf("database %s on 127.0.0.1:%d, Redis %s, business time zone %s; migrate + seed demo (production mode) in %s: %s",
		e.dbName, maria.port, e.redisAddr, tz, time.Since(start).Round(time.Millisecond), strings.TrimSpace(lastLine(out)))
	if e.db, err = sqlx.Open("mysql", maria.dsn(e.dbName)); err != nil {
		t.Fatal(err)
	}
	e.db.SetMaxOpenConns(8)
	t.Cleanup(func() { _ = e.db.Close() })
	return e
}

func (e *env) logf(format string, args ...any) {
	e.t.Helper()
	e.t.Logf("["+e.name+"] "+format, args...)
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// environ is what every canbao process of the drill gets: nothing inherited but PATH, production
// mode with fixed secrets, the private services, and providers pointing at a closed loopback
// port unless a drill hands in a fake's URL.
func (e *env) environ(extra map[string]string) []string {
	vars := map[string]string{
		"PATH":                     os.Getenv("PATH"),
		"HOME":                     e.dir,
		"CANBAO_MODE":              "production",
		"CANBAO_MYSQL_DSN":         maria.dsn(e.dbName),
		"CANBAO_REDIS_ADDR":        e.redisAddr,
		"CANBAO_REDIS_PREFIX":      e.prefix,
		"CANBAO_JWT_SECRET":        jwtSecret,
		"CANBAO_PII_KEY":           piiKey,
		"CANBAO_BUSINESS_TIMEZONE": e.tz,
		"CANBAO_WECHAT_API_BASE":   "http://127.0.0.1:9",
		"CANBAO_WECHAT_APPID":      "wxdrill",
		"CANBAO_WECHAT_SECRET":     "drill-wechat-secret",
		"CANBAO_SMS_API_BASE":      "http://127.0.0.1:9",
		"CANBAO_SMS_ACCESS_KEY_ID": "drill-key", "CANBAO_SMS_ACCESS_KEY_SECRET": "drill-key-secret",
		// A short send lease so that sends stuck in a killed process retire as unknown quickly.
		"CANBAO_CAMPAIGNS_LEASE": "15s",
	}
	for k, v := range extra {
		vars[k] = v
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

// run runs a short canbao command to completion and returns its stdout.
func (e *env) run(args ...string) string {
	e.t.Helper()
	return e.runStdin("", args...)
}

func (e *env) runStdin(stdin string, args ...string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = e.environ(nil)
	cmd.Dir = e.dir
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		e.t.Fatalf("canbao %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), tail(stderr.String(), 40))
	}
	return stdout.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// count runs a COUNT-like query on the drill's database.
func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n sql.NullInt64
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.db.GetContext(ctx, &n, q, args...); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return int(n.Int64)
}

// staffToken creates a staff user with the binary (`canbao user create`) and mints its token.
func (e *env) staffToken(role auth.Role) string {
	e.t.Helper()
	username := "drill-" + strings.ReplaceAll(string(role), "_", "")
	e.runStdin("Tr1al#Pass-word-2026\n", "user", "create", "--username", username, "--role", string(role), "--name", "演练")
	var id int64
	if err := e.db.Get(&id, `SELECT id FROM staff_users WHERE username = ?`, username); err != nil {
		e.t.Fatal(err)
	}
	tok, _, err := e.tokens.Issue(auth.Principal{Kind: auth.KindStaff, ID: id, Role: role, Version: 1})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// residentAccounts inserts n mini-program accounts and mints a token for each.
func (e *env) residentAccounts(n int, tag string) (ids []int64, tokens []string) {
	e.t.Helper()
	now := time.Now().UTC()
	for i := 0; i < n; i++ {
		res, err := e.db.Exec(`INSERT INTO resident_accounts (openid, created_at, last_login_at) VALUES (?, ?, ?)`,
			fmt.Sprintf("o-%s-%05d", tag, i), now, now)
		if err != nil {
			e.t.Fatal(err)
		}
		id, _ := res.LastInsertId()
		tok, _, err := e.tokens.Issue(auth.Principal{Kind: auth.KindResident, ID: id, Role: auth.RoleResident, Version: 1})
		if err != nil {
			e.t.Fatal(err)
		}
		ids, tokens = append(ids, id), append(tokens, tok)
	}
	return ids, tokens
}

// ---------------------------------------------------------------------------------------------
// canbao processes

// logBuf keeps a process's output in memory (to search) and in a file (to read afterwards).
type logBuf struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	file *os.File
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if l.file != nil {
		_, _ = l.file.Write(p)
	}
	return len(p), nil
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// proc is one canbao child process.
type proc struct {
	name string
	addr string // HTTP address, "" for --engine-only
	cmd  *exec.Cmd
	out  *logBuf
	done chan struct{}
	// set when done is closed
	state    *os.ProcessState
	exitedAt time.Time
}

// serve starts `canbao serve args…` on a free port (unless --engine-only) and waits until it is
// ready.
func (e *env) serve(name string, extra map[string]string, args ...string) *proc {
	e.t.Helper()
	p := &proc{name: name, done: make(chan struct{}), out: &logBuf{}}
	vars := map[string]string{}
	for k, v := range extra {
		vars[k] = v
	}
	engineOnly := false
	for _, a := range args {
		engineOnly = engineOnly || a == "--engine-only"
	}
	if !engineOnly {
		p.addr = fmt.Sprintf("127.0.0.1:%d", freePort())
		vars["CANBAO_HTTP_ADDR"] = p.addr
	} else {
		vars["CANBAO_HTTP_ADDR"] = "127.0.0.1:9" // unused
	}
	f, err := os.OpenFile(filepath.Join(e.dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	p.out.file = f
	p.cmd = exec.Command(bin, append([]string{"serve"}, args...)...)
	p.cmd.Env = e.environ(vars)
	p.cmd.Dir = e.dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = childAttr()
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.state, p.exitedAt = p.cmd.ProcessState, time.Now()
		f.Close()
		close(p.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-p.done:
			e.t.Fatalf("%s exited at start: %v\n%s", name, p.state, tail(p.out.String(), 30))
		default:
		}
		if engineOnly {
			if strings.Contains(p.out.String(), "canbao engine running") {
				break
			}
		} else if resp, err := readyClient.Get("http://" + p.addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s not ready after 30s\n%s", name, tail(p.out.String(), 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.logf("started %s (pid %d) %s", name, p.cmd.Process.Pid, strings.Join(append([]string{"serve"}, args...), " "))
	return p
}

func (p *proc) url(path string) string { return "http://" + p.addr + path }

func (p *proc) signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

// wait waits up to d for the process to exit; false if it is still running.
func (p *proc) wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// exited reports, without waiting, whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) exitCode() int {
	if p.state == nil {
		return -1
	}
	return p.state.ExitCode()
}

// stopGracefully sends SIGTERM and checks the process exits 0 within d.
func (e *env) stopGracefully(p *proc, d time.Duration) {
	e.t.Helper()
	start := time.Now()
	p.signal(syscall.SIGTERM)
	if !p.wait(d) {
		e.t.Errorf("%s still running %s after SIGTERM\n%s", p.name, d, tail(p.out.String(), 20))
		return
	}
	if p.exitCode() != 0 {
		e.t.Errorf("%s exited with %d after SIGTERM\n%s", p.name, p.exitCode(), tail(p.out.String(), 20))
		return
	}
	e.logf("%s stopped by SIGTERM: exit 0 in %s", p.name, time.Since(start).Round(time.Millisecond))
}

// logLines returns the JSON log lines of a process, decoded.
func (p *proc) logLines() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.out.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var m map[string]any
		if json.Unmarshal(line, &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// ---------------------------------------------------------------------------------------------
// HTTP

var (
	apiClient   = &http.Client{Timeout: 30 * time.Second}
	readyClient = &http.Client{Timeout: 2 * time.Second}
)

// call makes one JSON request and decodes a JSON answer into out (when not nil and 2xx).
func call(method, url, token string, body any, out any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp.StatusCode, b, err
	}
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, b, fmt.Errorf("decode %s: %w", b, err)
		}
	}
	return resp.StatusCode, b, nil
}

// mustCall is call that fails the drill unless the answer has status want.
func (e *env) mustCall(method, url, token string, body any, want int, out any) []byte {
	e.t.Helper()
	code, b, err := call(method, url, token, body, out)
	if err != nil || code != want {
		e.t.Fatalf("%s %s: status %d (want %d), err %v: %s", method, url, code, want, err, b)
	}
	return b
}

// errorCode extracts error.code from an error answer.
func errorCode(b []byte) string {
	var eb struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(b, &eb)
	return eb.Error.Code
}

// transportKind classifies a client-side error: "refused" means the server never took the
// connection (nothing was accepted); the others mean a connection broke.
func transportKind(err error) string {
	var ne net.Error
	s := err.Error()
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET) || strings.Contains(s, "connection reset"):
		return "reset"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(s, "EOF"):
		return "eof"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case strings.Contains(s, "broken pipe"):
		return "broken_pipe"
	}
	return "other"
}

// waitFor polls cond every 100 ms until it holds, failing t after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", d, what)
		}
	}
}
