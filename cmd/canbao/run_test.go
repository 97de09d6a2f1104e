package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/dbtest"
)

// TestOperatorJourney runs the binary's commands as an operator would on a fresh database:
// migrate, seed demo, user create, serve; then logs in over real HTTP and shuts down cleanly.
func TestOperatorJourney(t *testing.T) {
	devEnv(t)
	ctx := context.Background()

	var out, errOut bytes.Buffer
	// serve refuses an unmigrated database and says what to run.
	if err := run(ctx, []string{"serve"}, nil, &out, &errOut); err == nil || !strings.Contains(err.Error(), "canbao migrate") {
		t.Fatalf("serve before migrate: %v", err)
	}
	if err := run(ctx, []string{"migrate"}, nil, &out, &errOut); err != nil {
		t.Fatalf("migrate: %v\n%s", err, errOut.String())
	}
	if err := run(ctx, []string{"migrate"}, nil, &out, &errOut); err != nil {
		t.Fatalf("migrate twice: %v", err)
	}
	out.Reset()
	if err := run(ctx, []string{"seed", "demo"}, nil, &out, &errOut); err != nil {
		t.Fatalf("seed: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "39042 residents") || !strings.Contains(out.String(), "zhenxing-admin") ||
		!strings.Contains(out.String(), "drive in progress: ") || !strings.Contains(out.String(), " 2 campaigns with ") {
		t.Fatalf("seed output: %s", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"seed", "demo"}, nil, &out, &errOut); err != nil || !strings.Contains(out.String(), "0 residents") ||
		!strings.Contains(out.String(), "drive in progress: already there, nothing added") {
		t.Fatalf("second seed: %v %s", err, out.String())
	}
	// user create: password on stdin; a weak one is refused and creates nothing.
	if err := run(ctx, []string{"user", "create", "--username", "ops", "--role", "admin"}, strings.NewReader("weak\n"), &out, &errOut); err == nil {
		t.Fatal("weak password accepted")
	}
	if err := run(ctx, []string{"user", "create", "--username", "ops", "--role", "admin"}, strings.NewReader("Town-Office-2019\n"), &out, &errOut); err != nil {
		t.Fatalf("user create: %v", err)
	}
	if err := run(ctx, []string{"user", "create", "--username", "vol9", "--role", "volunteer", "--village", "nowhere"}, strings.NewReader("Town-Office-2019\n"), &out, &errOut); err == nil || !strings.Contains(err.Error(), "village_code") {
		t.Fatalf("unknown village: %v", err)
	}

	// import roster: a person of the seeded roster newly insured, a new person, a bad row.
	csvPath := filepath.Join(t.TempDir(), "roster.csv")
	newID := idcard.Generate("350583", time.Date(1980, 5, 6, 0, 0, 0, 0, time.UTC), 3, idcard.Female)
	csv := "身份证号码,姓名,村居,参保状态\n" + newID + ",林小红,振兴村,未参保\n" + "123,坏数据,振兴村,未参保\n"
	if err := os.WriteFile(csvPath, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(ctx, []string{"import", "roster", csvPath}, nil, &out, &errOut); err != nil {
		t.Fatalf("import: %v", err)
	}
	if !strings.Contains(out.String(), "2 rows, 1 created") || !strings.Contains(out.String(), "1 failed") || strings.Contains(out.String(), newID) {
		t.Fatalf("import output: %s", out.String())
	}

	report := filepath.Join(t.TempDir(), "2019-09.xlsx")
	out.Reset()
	if err := run(ctx, []string{"report", "monthly", "--month", "2019-09", "--out", report}, nil, &out, &errOut); err != nil {
		t.Fatalf("report: %v", err)
	}
	if !strings.Contains(out.String(), "2019-09, as of 2019-09-30 (frozen)") {
		t.Fatalf("report output: %s", out.String())
	}
	if err := run(ctx, []string{"report", "monthly", "--month", "2019-9", "--out", report}, nil, &out, &errOut); err == nil {
		t.Fatal("a bad month was accepted")
	}

	sctx, stop := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	var serveErr bytes.Buffer
	go func() { done <- run(sctx, []string{"serve"}, nil, pw, &serveErr); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed nothing: %v %s", err, serveErr.String())
	}
	go io.Copy(io.Discard, pr) //nolint:errcheck
	base := strings.Fields(strings.TrimPrefix(line, "canbao serving on "))[0]

	get := func(path, token string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, body := get("/readyz", ""); code != 200 {
		t.Fatalf("readyz: %d %s", code, body)
	}
	code, body := get("/api/v1/villages", "")
	var villages struct {
		Items []struct{ Code, Name string }
		Total int
	}
	_ = json.Unmarshal(body, &villages)
	if code != 200 || villages.Total != 14 || villages.Items[0].Name != "振兴村" || villages.Items[13].Name != "银河新城" {
		t.Fatalf("villages: %d %s", code, body)
	}
	resp, err := http.Post(base+"/api/v1/auth/staff", "application/json", strings.NewReader(`{"username":"ops","password":"Town-Office-2019"}`))
	if err != nil {
		t.Fatal(err)
	}
	var sess struct{ Token string }
	_ = json.NewDecoder(resp.Body).Decode(&sess)
	resp.Body.Close()
	if resp.StatusCode != 200 || sess.Token == "" {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	if code, body := get("/api/v1/admin/users?page_size=100", sess.Token); code != 200 || !strings.Contains(string(body), `"zhenxing-vol"`) {
		t.Fatalf("users: %d %s", code, body)
	}

	// Dev mode with no AppID: a local WeChat stand-in accepts any login code, so a resident can
	// log in, register, and the registration shows up for review.
	post := func(path, token, body string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	var res struct {
		Token    string
		Resident struct{ ID int64 }
	}
	for i := 0; i < 2; i++ { // the same code text is the same resident, again and again
		code, body := post("/api/v1/auth/wechat", "", `{"code":"resident-1"}`)
		var r2 struct {
			Token    string
			Resident struct{ ID int64 }
		}
		_ = json.Unmarshal(body, &r2)
		if code != 200 || r2.Token == "" || (i == 1 && r2.Resident.ID != res.Resident.ID) {
			t.Fatalf("dev WeChat login %d: %d %s", i, code, body)
		}
		res = r2
	}
	regID := idcard.Generate("350583", time.Date(1985, 3, 4, 0, 0, 0, 0, time.UTC), 7, idcard.Male)
	code, body = post("/api/v1/registrations", res.Token, `{"name":"陈大明","id_number":"`+regID+`","phone":"13900001111","village_code":"zhenxing",`+
		`"employed":false,"land_expropriated":false,"scheme":"resident_pension","tier":200}`)
	if code != 201 {
		t.Fatalf("dev resident registration: %d %s", code, body)
	}
	if code, body := get("/api/v1/admin/registrations?status=submitted", sess.Token); code != 200 || !strings.Contains(string(body), "陈大明") {
		t.Fatalf("the registration is not up for review: %d %s", code, body)
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after SIGTERM-equivalent: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if pii.ContainsPII(serveErr.String()) || pii.ContainsPII(errOut.String()) {
		t.Fatal("logs contain personal data")
	}
	if !strings.Contains(serveErr.String(), `"msg":"stopped"`) {
		t.Fatalf("no orderly stop in the log: %s", serveErr.String())
	}
	_ = database.Now
}

func TestBadConfigurationStopsEveryCommand(t *testing.T) {
	t.Setenv("CANBAO_MODE", "production")
	t.Setenv("CANBAO_JWT_SECRET", "")
	t.Setenv("CANBAO_PII_KEY", "")
	for _, args := range [][]string{{"serve"}, {"migrate"}, {"seed", "demo"}} {
		err := run(context.Background(), args, nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "CANBAO_JWT_SECRET") || !strings.Contains(err.Error(), "CANBAO_PII_KEY") {
			t.Errorf("%v: %v", args, err)
		}
	}
	if err := run(context.Background(), []string{"frobnicate"}, nil, io.Discard, io.Discard); err == nil {
		t.Error("unknown command accepted")
	}
	if err := run(context.Background(), nil, nil, io.Discard, io.Discard); err == nil {
		t.Error("no command accepted")
	}
}

// startServe runs `canbao serve` until it prints its address; it returns the base URL and a
// stop function, or the error serve returned without ever serving.
func startServe(t *testing.T) (base string, stop func() error, logs *bytes.Buffer, err error) {
	t.Helper()
	sctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	logs = &bytes.Buffer{}
	go func() {
		err := run(sctx, []string{"serve"}, nil, pw, logs)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	line, rerr := bufio.NewReader(pr).ReadString('\n')
	if rerr != nil {
		cancel()
		return "", nil, logs, <-done
	}
	go io.Copy(io.Discard, pr) //nolint:errcheck
	base = strings.Fields(strings.TrimPrefix(line, "canbao serving on "))[0]
	return base, func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("serve did not stop")
		}
	}, logs, nil
}

// TestAnotherPIIKeyIsRefused: two dev checkouts against one database used to create two
// dev-secrets files and serve each other's ciphertexts as "0000**********0000". The second
// key is now refused at start by every command that touches personal data, naming the setting
// and the file, and /readyz fails when the stored key check stops matching.
func TestAnotherPIIKeyIsRefused(t *testing.T) {
	dsn, _, _ := devEnv(t)
	secretsA := filepath.Join(t.TempDir(), "a", "dev-secrets.yaml")
	secretsB := filepath.Join(t.TempDir(), "b", "dev-secrets.yaml")
	t.Setenv("CANBAO_DEV_SECRETS_FILE", secretsA)
	ctx := context.Background()

	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"migrate"}, nil, &out, &errOut); err != nil {
		t.Fatalf("migrate: %v\n%s", err, errOut.String())
	}
	db, err := database.Open(ctx, dsn, database.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO villages (code, name, town, sort_order, created_at) VALUES ('zhenxing','振兴村','罗东镇',1,?)`, database.Now()); err != nil {
		t.Fatal(err)
	}
	csvPath := filepath.Join(t.TempDir(), "roster.csv")
	number := func(seq int) string {
		return idcard.Generate("350583", time.Date(1980, 5, 6, 0, 0, 0, 0, time.UTC), seq, idcard.Female)
	}
	if err := os.WriteFile(csvPath, []byte("身份证号码,姓名,村居,参保状态\n"+number(3)+",林小红,振兴村,未参保\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"import", "roster", csvPath}, nil, &out, &errOut); err != nil {
		t.Fatalf("import with key A: %v", err)
	}
	residents := func() (n int) {
		if err := db.Get(&n, `SELECT COUNT(*) FROM residents`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if residents() != 1 {
		t.Fatalf("import wrote %d residents", residents())
	}

	// The second checkout: a fresh dev-secrets file, hence another PII key under the same id.
	t.Setenv("CANBAO_DEV_SECRETS_FILE", secretsB)
	if base, stop, _, err := startServe(t); err == nil {
		_ = stop()
		t.Fatalf("serve started on %s with another PII key", base)
	} else if !strings.Contains(err.Error(), "CANBAO_PII_KEY") || !strings.Contains(err.Error(), secretsB) {
		t.Fatalf("serve with another key: %v", err)
	}
	if err := os.WriteFile(csvPath, []byte("身份证号码,姓名,村居,参保状态\n"+number(4)+",林小青,振兴村,未参保\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"import", "roster", csvPath}, {"seed", "demo"}, {"migrate"}} {
		if err := run(ctx, args, nil, &out, &errOut); err == nil || !strings.Contains(err.Error(), "CANBAO_PII_KEY") {
			t.Fatalf("%v with another key: %v", args, err)
		}
	}
	if n := residents(); n != 1 {
		t.Fatalf("a refused command wrote residents: %d", n)
	}
	// Production names the variable the same way.
	t.Setenv("CANBAO_MODE", "production")
	t.Setenv("CANBAO_JWT_SECRET", strings.Repeat("j", 40))
	t.Setenv("CANBAO_PII_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	if _, stop, _, err := startServe(t); err == nil {
		_ = stop()
		t.Fatal("serve started with another production key")
	} else if !strings.Contains(err.Error(), "CANBAO_PII_KEY") || strings.Contains(err.Error(), "dev-secrets") {
		t.Fatalf("production serve with another key: %v", err)
	}

	// Back to the right key: serve starts and /readyz reports the key check.
	t.Setenv("CANBAO_MODE", "dev")
	t.Setenv("CANBAO_JWT_SECRET", "")
	t.Setenv("CANBAO_PII_KEY", "")
	t.Setenv("CANBAO_DEV_SECRETS_FILE", secretsA)
	base, stop, logs, err := startServe(t)
	if err != nil {
		t.Fatalf("serve with the right key: %v\n%s", err, logs.String())
	}
	readyz := func() (int, string) {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := readyz(); code != 200 || !strings.Contains(body, `"pii_key":"ok"`) {
		t.Fatalf("readyz: %d %s", code, body)
	}
	// The stored check value changes under the running instance (another key recorded it).
	if _, err := db.Exec(`UPDATE pii_key_checks SET check_value = UNHEX(REPEAT('ab', 32))`); err != nil {
		t.Fatal(err)
	}
	if code, body := readyz(); code != 503 || !strings.Contains(body, "CANBAO_PII_KEY") {
		t.Fatalf("readyz after the key check changed: %d %s", code, body)
	}
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// TestServePurgesExpiredIdempotencyKeys: nothing ever called the purge; serve now runs it in
// the background and stops it on shutdown.
func TestServePurgesExpiredIdempotencyKeys(t *testing.T) {
	dsn, _, _ := devEnv(t)
	ctx := context.Background()
	if err := run(ctx, []string{"migrate"}, nil, io.Discard, io.Discard); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	db, err := database.Open(ctx, dsn, database.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := database.Now()
	for i, exp := range []time.Time{now.Add(-time.Hour), now.Add(-time.Minute), now.Add(time.Hour)} {
		if _, err := db.Exec(`INSERT INTO idempotency_keys (scope_hash, request_hash, state, created_at, expires_at)
			VALUES (UNHEX(SHA2(?, 256)), UNHEX(SHA2(?, 256)), 'done', ?, ?)`, fmt.Sprint(i), fmt.Sprint(i), exp.Add(-24*time.Hour), exp); err != nil {
			t.Fatal(err)
		}
	}
	_, stop, logs, err := startServe(t)
	if err != nil {
		t.Fatalf("serve: %v", err)
	}
	// Wait on the state: the first pass runs as serve starts.
	var left int
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); <-tick.C {
		if err := db.Get(&left, `SELECT COUNT(*) FROM idempotency_keys`); err != nil {
			t.Fatal(err)
		}
		if left == 1 {
			break
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	var fresh int
	_ = db.Get(&fresh, `SELECT COUNT(*) FROM idempotency_keys WHERE expires_at > ?`, now)
	if left != 1 || fresh != 1 {
		t.Fatalf("keys left after serve started: %d (fresh %d), want only the fresh one\n%s", left, fresh, logs.String())
	}
}

// devEnv gives a test of the binary its own database and Redis prefix in dev mode: the
// variables serve, migrate and seed read (HTTP on a free port, dev secrets in a temporary
// file). A test sets another value after it where it needs one.
func devEnv(t *testing.T) (dsn string, rdb redis.UniversalClient, prefix string) {
	t.Helper()
	dsn = dbtest.DSN(t)
	rdb, prefix = dbtest.Redis(t)
	t.Setenv("CANBAO_MODE", "dev")
	t.Setenv("CANBAO_MYSQL_DSN", dsn)
	t.Setenv("CANBAO_REDIS_PREFIX", prefix)
	t.Setenv("CANBAO_REDIS_ADDR", dbtest.RedisConfigAddr())
	t.Setenv("CANBAO_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CANBAO_DEV_SECRETS_FILE", filepath.Join(t.TempDir(), "dev-secrets.yaml"))
	return dsn, rdb, prefix
}
