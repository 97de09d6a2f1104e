// Package servertest runs the whole API in-process against a fresh MariaDB database and a
// Redis key prefix of the test's own. Every answer it sees is checked against
// api/openapi.yaml and scanned for personal data, so each API test also tests the contract
// and the masking rules.
package servertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/configs"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/config"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/contract"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/dbtest"
	"github.com/canbao/canbao/internal/platform/logging"
	"github.com/canbao/canbao/internal/rules"
	"github.com/canbao/canbao/internal/server"
)

// Env is one running API with its own database and Redis prefix.
type Env struct {
	T       testing.TB
	DB      *sqlx.DB
	Redis   redis.UniversalClient
	Prefix  string
	Config  *config.Config
	Keyring *pii.Keyring
	Rules   *rules.Book
	Server  *server.Server
	Logs    *SafeBuffer

	// AllowPII lists route templates whose answers may carry full personal data (the audited
	// reveal endpoint); every other answer is scanned and fails the test if it has any.
	AllowPII map[string]bool
	// SkipContract turns the contract check off for a test that sends deliberately odd requests.
	SkipContract bool
}

var (
	validatorOnce sync.Once
	validator     *contract.Validator
	validatorErr  error
)

// recorder collects what the server answered in this test process (see contract.Recorder);
// with CANBAO_CONTRACT_OBSERVED set, each Env writes it out when its test ends.
var recorder = contract.NewRecorder(os.Getenv(contract.ObservedDirEnv))

// Contract is the shared validator of api/openapi.yaml.
func Contract(t testing.TB) *contract.Validator {
	validatorOnce.Do(func() { validator, validatorErr = contract.New() })
	if validatorErr != nil {
		t.Fatalf("servertest: contract: %v", validatorErr)
	}
	return validator
}

// Option adjusts the configuration before the server is built.
type Option func(*config.Config)

// New starts an API on a fresh database with two villages, zhenxing and luoxi.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	db := dbtest.New(t)
	rdb, prefix := dbtest.Redis(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cfg, err := config.Load(config.Options{Environ: func() []string {
		return []string{
			"CANBAO_MODE=production",
			"CANBAO_JWT_SECRET=" + base64.StdEncoding.EncodeToString(key) + "-servertest",
			"CANBAO_PII_KEY=" + base64.StdEncoding.EncodeToString(key),
			"CANBAO_REDIS_PREFIX=" + prefix,
			"CANBAO_REDIS_ADDR=" + dbtest.RedisConfigAddr(),
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(cfg)
	}
	kr, err := pii.NewKeyring("k1", map[string][]byte{"k1": key}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	book, err := rules.Load(configs.Policy)
	if err != nil {
		t.Fatal(err)
	}
	logs := &SafeBuffer{}
	log := logging.New(logs, slog.LevelDebug)
	srv, err := server.New(server.Deps{Config: cfg, DB: db, Redis: rdb, Keyring: kr, Rules: book, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{T: t, DB: db, Redis: rdb, Prefix: prefix, Config: cfg, Keyring: kr, Rules: book, Server: srv, Logs: logs,
		// /metrics holds only counters; its floats can look like phone numbers.
		AllowPII: map[string]bool{"/metrics": true}}
	e.Exec(`INSERT INTO villages (code, name, town, sort_order, created_at) VALUES
		('zhenxing','振兴村','罗东镇',1,?), ('luoxi','罗溪村','罗东镇',2,?)`, database.Now(), database.Now())
	t.Cleanup(func() {
		if err := recorder.Flush(); err != nil {
			t.Errorf("servertest: write the contract observations: %v", err)
		}
		if pii.ContainsPII(logs.String()) {
			t.Errorf("servertest: the logs contain an ID number or phone:\n%s", firstPIILine(logs.String()))
		}
	})
	return e
}

func firstPIILine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if pii.ContainsPII(l) {
			return l
		}
	}
	return ""
}

// Exec runs SQL on the test database or fails the test.
func (e *Env) Exec(q string, args ...any) {
	e.T.Helper()
	if _, err := e.DB.Exec(q, args...); err != nil {
		e.T.Fatalf("servertest: %s: %v", q, err)
	}
}

// Count runs a COUNT query.
func (e *Env) Count(q string, args ...any) int {
	e.T.Helper()
	var n int
	if err := e.DB.Get(&n, q, args...); err != nil {
		e.T.Fatalf("servertest: %s: %v", q, err)
	}
	return n
}

// Staff creates a staff user directly in the database and returns a valid access token.
func (e *Env) Staff(role auth.Role, village string) (token string, id int64) {
	e.T.Helper()
	name := fmt.Sprintf("u%s%d", strings.ReplaceAll(string(role), "_", ""), time.Now().UnixNano()%1e9)
	var v any
	if village != "" {
		v = village
	}
	now := database.Now()
	res, err := e.DB.Exec(`INSERT INTO staff_users (username, password_hash, role, village_code, password_changed_at, created_at, updated_at)
		VALUES (?, 'x', ?, ?, ?, ?, ?)`, name, role, v, now, now, now)
	if err != nil {
		e.T.Fatal(err)
	}
	id, _ = res.LastInsertId()
	tok, _, err := e.Server.Tokens.Issue(auth.Principal{Kind: auth.KindStaff, ID: id, Role: role, Village: village, Version: 1})
	if err != nil {
		e.T.Fatal(err)
	}
	return tok, id
}

// Resident creates a mini-program account and returns a valid access token.
func (e *Env) Resident() (token string, id int64) {
	e.T.Helper()
	now := database.Now()
	res, err := e.DB.Exec(`INSERT INTO resident_accounts (openid, created_at, last_login_at) VALUES (?, ?, ?)`,
		fmt.Sprintf("o-test-%d", time.Now().UnixNano()), now, now)
	if err != nil {
		e.T.Fatal(err)
	}
	id, _ = res.LastInsertId()
	tok, _, err := e.Server.Tokens.Issue(auth.Principal{Kind: auth.KindResident, ID: id, Role: auth.RoleResident, Version: 1})
	if err != nil {
		e.T.Fatal(err)
	}
	return tok, id
}

// Response is a recorded answer.
type Response struct {
	Code   int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v or fails the test.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("servertest: decode %s: %v", r.Body, err)
	}
}

// ErrorCode is the error code of an error answer ("" if none).
func (r *Response) ErrorCode() string {
	var b struct {
		Error struct{ Code, Field string }
	}
	_ = json.Unmarshal(r.Body, &b)
	return b.Error.Code
}

// ErrorField is the field of an error answer.
func (r *Response) ErrorField() string {
	var b struct {
		Error struct{ Code, Field string }
	}
	_ = json.Unmarshal(r.Body, &b)
	return b.Error.Field
}

// Request describes one call.
type Request struct {
	Method string
	Path   string
	Token  string
	Body   any // marshalled to JSON unless it is []byte or string
	Header map[string]string
	Remote string // client address, default 192.0.2.1:1234
}

// Do calls the API in-process, checks the exchange against the contract and scans the answer
// for personal data.
func (e *Env) Do(r Request) *Response {
	e.T.Helper()
	var body []byte
	switch b := r.Body.(type) {
	case nil:
	case []byte:
		body = b
	case string:
		body = []byte(b)
	default:
		var err error
		if body, err = json.Marshal(b); err != nil {
			e.T.Fatal(err)
		}
	}
	req := httptest.NewRequest(r.Method, r.Path, bytes.NewReader(body))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	req.RemoteAddr = "192.0.2.1:1234"
	if r.Remote != "" {
		req.RemoteAddr = r.Remote
	}
	w := httptest.NewRecorder()
	e.Server.Engine.ServeHTTP(w, req)
	resp := &Response{Code: w.Code, Header: w.Header(), Body: w.Body.Bytes()}

	route := e.route(r.Method, req.URL.Path)
	if !e.AllowPII[route] && pii.ContainsPII(string(resp.Body)) {
		e.T.Errorf("servertest: %s %s answered personal data in clear: %s", r.Method, r.Path, resp.Body)
	}
	if route != "" {
		check := httptest.NewRequest(r.Method, r.Path, bytes.NewReader(body))
		check.Header = req.Header.Clone()
		// Every real answer counts for the coverage of the contract, even when the exchange is
		// not checked here (the coverage check holds it against the spec in the end).
		recorder.Add(Contract(e.T).Observe(check, resp.Code, resp.Header, resp.Body)...)
		if !e.SkipContract {
			if err := Contract(e.T).Check(check, body, resp.Code, resp.Header, resp.Body); err != nil {
				e.T.Errorf("servertest: %v\nbody: %s", err, truncate(resp.Body))
			}
		}
	}
	return resp
}

func (e *Env) route(method, path string) string {
	for _, rt := range e.Server.Engine.Routes() {
		if rt.Method == method && matches(rt.Path, path) {
			return rt.Path
		}
	}
	return ""
}

func matches(tmpl, path string) bool {
	ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if strings.HasPrefix(ts[i], ":") && ps[i] != "" { // gin matches no empty parameter
			continue
		}
		if ts[i] != ps[i] {
			return false
		}
	}
	return true
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// SafeBuffer is a bytes.Buffer safe for concurrent writers (the logger).
type SafeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SafeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SafeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var _ io.Writer = (*SafeBuffer)(nil)

// Ctx is a background context for direct store calls in tests.
func Ctx() context.Context { return context.Background() }

// ResidentSpec describes a roster person for a test.
type ResidentSpec struct {
	Village  string // default zhenxing
	Status   string // default unenrolled
	Gender   idcard.Gender
	Age      int // default 50
	Phone    string
	Name     string
	Employed bool
	Land     bool
	// Employer and EmployerCode fill employer_name and employer_credit_code ("": NULL).
	Employer     string
	EmployerCode string
}

var residentSeq atomic.Int64

// AddResident puts a synthetic person on the roster, encrypted as the app does, and returns
// their id and ID number.
func (e *Env) AddResident(s ResidentSpec) (int64, string) {
	e.T.Helper()
	if s.Village == "" {
		s.Village = "zhenxing"
	}
	if s.Status == "" {
		s.Status = "unenrolled"
	}
	if s.Gender == "" {
		s.Gender = idcard.Male
	}
	if s.Age == 0 {
		s.Age = 50
	}
	if s.Name == "" {
		s.Name = "测试居民"
	}
	n := residentSeq.Add(1)
	y, m, d := time.Now().Date()
	birth := time.Date(y-s.Age, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -int(n%300)-1)
	number := idcard.Generate("350583", birth, int(n%100)+100*int((n/100)%5), s.Gender)
	enc, kid, err := e.Keyring.Encrypt(number, pii.AADResidentIDNumber)
	if err != nil {
		e.T.Fatal(err)
	}
	var phoneEnc, phoneIdx any
	if s.Phone != "" {
		pe, _, err := e.Keyring.Encrypt(s.Phone, pii.AADResidentPhone)
		if err != nil {
			e.T.Fatal(err)
		}
		phoneEnc, phoneIdx = pe, e.Keyring.BlindIndex(pii.IndexPhone, s.Phone)
	}
	now := database.Now()
	var empName, empCode any
	if s.Employer != "" {
		empName = s.Employer
	}
	if s.EmployerCode != "" {
		empCode = s.EmployerCode
	}
	res, err := e.DB.Exec(`INSERT INTO residents (id_number_enc, id_number_bidx, phone_enc, phone_bidx, pii_key_id, name, gender, birth_date,
		village_code, employed, land_expropriated, status, source, created_at, updated_at, employer_name, employer_credit_code)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'seed', ?, ?, ?, ?)`, enc, e.Keyring.BlindIndex(pii.IndexIDNumber, number), phoneEnc, phoneIdx,
		kid, s.Name, s.Gender, birth, s.Village, s.Employed, s.Land, s.Status, now, now, empName, empCode)
	if err != nil {
		e.T.Fatalf("servertest: add resident: %v", err)
	}
	id, _ := res.LastInsertId()
	return id, number
}

// InjectionProbes are filter values written to break out of a string literal or the statement,
// one of them deleting from table: a list endpoint must treat each as a plain value.
func InjectionProbes(table string) []string {
	return []string{
		`' OR '1'='1`,
		`luoxi' OR 1=1 -- `,
		`x'); DELETE FROM ` + table + `; -- `,
		`") OR 1=1 #`,
		`\' OR 1=1 /*`,
	}
}
