package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canbao/canbao/internal/platform/errs"
)

type sample struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
	Flag  *bool  `json:"flag"`
}

func TestDecodeReader(t *testing.T) {
	cases := []struct {
		body  string
		code  errs.Code
		field string
	}{
		{`{"name":"a","count":1}`, "", ""},
		{``, errs.MalformedJSON, ""},
		{`{"name":`, errs.MalformedJSON, ""},
		{`{"name":"a"} {"name":"b"}`, errs.MalformedJSON, ""},
		{`{"name":"a"} x`, errs.MalformedJSON, ""},
		{`{"name":"a","status":"confirmed"}`, errs.UnknownField, "status"},
		{`{"count":"3"}`, errs.InvalidInput, "count"},
		{`[1,2]`, errs.InvalidInput, ""},
		{`{"name":"a"}   `, "", ""},
		// Keys match exactly once: no case folding, no last-duplicate-wins.
		{`{"name":"a","Name":"b"}`, errs.UnknownField, "Name"},
		{`{"NAME":"a"}`, errs.UnknownField, "NAME"},
		{`{"name":"a","name":"b"}`, errs.DuplicateKey, "name"},
		{`{"name":"a","count":1,"flag":true,"count":2}`, errs.DuplicateKey, "count"},
	}
	for _, tc := range cases {
		var s sample
		err := DecodeReader(strings.NewReader(tc.body), &s)
		if tc.code == "" {
			if err != nil {
				t.Errorf("%q: unexpected %v", tc.body, err)
			}
			continue
		}
		e, ok := errs.As(err)
		if !ok || e.Code != tc.code || e.Field != tc.field {
			t.Errorf("%q: got %v, want %s field %q", tc.body, err, tc.code, tc.field)
		}
		if ok && e.Message == "" {
			t.Errorf("%q: no Chinese message", tc.body)
		}
	}
}

type nested struct {
	Visits []struct {
		Outcome string `json:"outcome"`
	} `json:"visits"`
	Segment struct {
		Village string `json:"village"`
	} `json:"segment"`
	Labels map[string]string `json:"labels"`
	Extra  json.RawMessage   `json:"extra"`
	Any    any               `json:"any"`
	embedded
}

type embedded struct {
	Note string `json:"note"`
}

func TestDecodeReaderNested(t *testing.T) {
	cases := []struct {
		body  string
		code  errs.Code
		field string
	}{
		{`{"visits":[{"outcome":"a"},{"outcome":"b"}],"segment":{"village":"x"},"labels":{"a":"1","A":"2"},"note":"n","extra":{"k":1},"any":{"k":[1]}}`, "", ""},
		{`{"visits":[{"outcome":"a"},{"Outcome":"b"}]}`, errs.UnknownField, "visits[1].Outcome"},
		{`{"visits":[{"outcome":"a","outcome":"b"}]}`, errs.DuplicateKey, "visits[0].outcome"},
		{`{"segment":{"Village":"x"}}`, errs.UnknownField, "segment.Village"},
		{`{"labels":{"a":"1","a":"2"}}`, errs.DuplicateKey, "labels.a"},
		{`{"extra":{"k":1,"k":2}}`, errs.DuplicateKey, "extra.k"},
		{`{"any":[{"k":1,"k":2}]}`, errs.DuplicateKey, "any[0].k"},
		{`{"Note":"n"}`, errs.UnknownField, "Note"},
		{`{"note":"n","note":"m"}`, errs.DuplicateKey, "note"},
		{`{"Segment":{}}`, errs.UnknownField, "Segment"},
		{`{"labels":{"` + strings.Repeat("键", 60) + `":"1","` + strings.Repeat("键", 60) + `":"2"}}`, errs.DuplicateKey, "labels." + strings.Repeat("键", 40)},
	}
	for _, tc := range cases {
		var n nested
		err := DecodeReader(strings.NewReader(tc.body), &n)
		if tc.code == "" {
			if err != nil {
				t.Errorf("%s: unexpected %v", tc.body, err)
			}
			continue
		}
		e, ok := errs.As(err)
		if !ok || e.Code != tc.code || e.Field != tc.field || e.Message == "" {
			t.Errorf("%s: got %v, want %s field %q", tc.body, err, tc.code, tc.field)
		}
	}
}

func FuzzDecodeReader(f *testing.F) {
	for _, s := range []string{`{"name":"a","count":1}`, `{"flag":true}`, `{`, `null`, `{"x":1}`, `"\u0000"`, `{"name":"a","name":"b"}`, `{"Name":"a"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var s sample
		err := DecodeReader(strings.NewReader(body), &s)
		if err == nil {
			return
		}
		e, ok := errs.As(err)
		if !ok {
			t.Fatalf("decode error is not a domain error: %v", err)
		}
		if st := errs.Status(e.Code); st != 400 && st != 413 {
			t.Fatalf("decode error maps to %d", st)
		}
	})
}

func newEngine(log *slog.Logger, h gin.HandlerFunc) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(RequestIDs(), Errors(log), Recover(log), Timeout(time.Second, nil), BodyLimit(64, nil))
	e.POST("/x", h)
	return e
}

func TestErrorRenderingAndLimits(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	e := newEngine(log, H(func(c *gin.Context) error {
		var s sample
		if err := Decode(c, &s); err != nil {
			return err
		}
		switch s.Name {
		case "panic":
			panic("boom")
		case "internal":
			return errors.New("db exploded")
		case "unavailable":
			return errs.Wrap(errs.Unavailable, errors.New("stats cache down"), "统计数据暂时不可用，请稍后再试")
		case "limited":
			err := errs.New(errs.RateLimited, "操作过于频繁")
			err.RetryAfter = 1500 * time.Millisecond
			return err
		}
		c.JSON(200, s)
		return nil
	}))
	do := func(body, ct string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		return w
	}
	type errBody struct{ Error ErrorDetail }
	check := func(w *httptest.ResponseRecorder, status int, code errs.Code) errBody {
		t.Helper()
		if w.Code != status {
			t.Fatalf("status %d want %d: %s", w.Code, status, w.Body)
		}
		var b errBody
		if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
			t.Fatalf("body %s: %v", w.Body, err)
		}
		if b.Error.Code != code || b.Error.Message == "" {
			t.Fatalf("error %+v want %s", b.Error, code)
		}
		if w.Header().Get("X-Request-Id") == "" {
			t.Fatal("no request id")
		}
		return b
	}
	if w := do(`{"name":"ok"}`, "application/json"); w.Code != 200 {
		t.Fatalf("ok: %d %s", w.Code, w.Body)
	}
	check(do(`{"name":"ok","x":1}`, "application/json"), 400, errs.UnknownField)
	check(do(`{"name":"ok"}`, "text/plain"), 415, errs.UnsupportedMediaType)
	check(do(`{"name":"`+strings.Repeat("a", 100)+`"}`, "application/json"), 413, errs.BodyTooLarge)
	b := check(do(`{"name":"internal"}`, "application/json"), 500, errs.Internal)
	if strings.Contains(b.Error.Message, "exploded") || b.Error.RequestID == "" {
		t.Fatalf("internal error leaked or lacks request id: %+v", b.Error)
	}
	if !strings.Contains(logs.String(), "db exploded") {
		t.Fatal("internal cause not logged")
	}
	check(do(`{"name":"panic"}`, "application/json"), 500, errs.Internal)
	w := do(`{"name":"limited"}`, "application/json")
	check(w, 429, errs.RateLimited)
	if w.Header().Get("Retry-After") != "2" {
		t.Fatalf("Retry-After %q, want 2 (rounded up)", w.Header().Get("Retry-After"))
	}
	// Every 503 says when to try again (api/openapi.yaml requires Retry-After), also when the
	// error did not set it.
	w = do(`{"name":"unavailable"}`, "application/json")
	check(w, 503, errs.Unavailable)
	if w.Header().Get("Retry-After") != "5" {
		t.Fatalf("503 Retry-After %q, want 5", w.Header().Get("Retry-After"))
	}
	// The body limit refuses before any route's middleware runs; its answer still stays out of
	// caches, as every error answer of the API.
	req := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(strings.Repeat("a", 100)))
	req.Header.Set("Content-Type", "application/json")
	w = httptest.NewRecorder()
	e.ServeHTTP(w, req)
	check(w, 413, errs.BodyTooLarge)
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("413 from the body limit: Cache-Control %q, want no-store", cc)
	}
}

func TestRequestIDEchoedOnlyWhenSane(t *testing.T) {
	e := newEngine(slog.New(slog.NewTextHandler(io.Discard, nil)), func(c *gin.Context) { c.Status(204) })
	for in, keep := range map[string]bool{"abcdef12-3456": true, "short": false, "bad id with spaces!": false} {
		req := httptest.NewRequest(http.MethodPost, "/x", nil)
		req.Header.Set("X-Request-Id", in)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		got := w.Header().Get("X-Request-Id")
		if (got == in) != keep || got == "" {
			t.Errorf("%q -> %q", in, got)
		}
	}
}

func TestParsePage(t *testing.T) {
	for q, want := range map[string]any{
		"":                     Page{1, 20},
		"page=3&page_size=100": Page{3, 100},
		"page=0":               errs.PageInvalid,
		"page_size=101":        errs.PageInvalid,
		"page=abc":             errs.PageInvalid,
	} {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest(http.MethodGet, "/?"+q, nil)
		p, err := ParsePage(c)
		if code, isErr := want.(errs.Code); isErr {
			if e, ok := errs.As(err); !ok || e.Code != code {
				t.Errorf("%q: %v", q, err)
			}
		} else if err != nil || p != want {
			t.Errorf("%q: %+v %v", q, p, err)
		}
	}
	if p := (Page{Number: 3, Size: 20}); p.Offset() != 40 {
		t.Fatal("offset")
	}
}

// deadlineWriter records the read deadlines http.ResponseController sets on it.
type deadlineWriter struct {
	*httptest.ResponseRecorder
	deadlines []time.Time
}

func (w *deadlineWriter) SetReadDeadline(t time.Time) error {
	w.deadlines = append(w.deadlines, t)
	return nil
}

func TestBodyDeadlinePerRoute(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.Use(Errors(log), BodyDeadline(200*time.Millisecond, map[string]time.Duration{"/upload": 3 * time.Minute}))
	var seen []time.Time // deadlines in force when the handler starts
	var w *deadlineWriter
	read := func(c *gin.Context) {
		seen = append([]time.Time(nil), w.deadlines...)
		_, _ = io.ReadAll(c.Request.Body)
		c.Status(204)
	}
	e.POST("/json", read)
	e.POST("/upload", read)
	e.GET("/get", read)
	for _, tc := range []struct {
		method, path string
		body         io.Reader
		limit        time.Duration // 0: no deadline at all
	}{
		{"POST", "/json", strings.NewReader(`{}`), 200 * time.Millisecond},
		{"POST", "/upload", strings.NewReader(`file`), 3 * time.Minute},
		{"GET", "/get", nil, 0},
	} {
		w = &deadlineWriter{ResponseRecorder: httptest.NewRecorder()}
		req := httptest.NewRequest(tc.method, tc.path, tc.body)
		before := time.Now()
		e.ServeHTTP(w, req)
		after := time.Now()
		if w.Code != 204 || len(w.deadlines) == 0 {
			t.Fatalf("%s: %d, deadlines %v", tc.path, w.Code, w.deadlines)
		}
		if last := w.deadlines[len(w.deadlines)-1]; !last.IsZero() {
			t.Errorf("%s: deadline %v still set after the body was read; want it lifted", tc.path, last)
		}
		if tc.limit == 0 {
			if len(seen) != 1 || !seen[0].IsZero() {
				t.Errorf("%s: deadlines %v, want only a lifted one", tc.path, seen)
			}
			continue
		}
		if len(seen) != 1 || seen[0].Before(before.Add(tc.limit)) || seen[0].After(after.Add(tc.limit)) {
			t.Errorf("%s: deadline %v, want now+%s", tc.path, seen, tc.limit)
		}
	}
}

// timeoutBody fails like a connection whose read deadline passed.
type timeoutBody struct{}

func (timeoutBody) Read([]byte) (int, error) { return 0, os.ErrDeadlineExceeded }

func TestBodyDeadlineAnswers408AndCloses(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.Use(Errors(log), BodyDeadline(time.Second, nil))
	// A handler that makes its own error of a failed read still answers 408.
	e.POST("/x", H(func(c *gin.Context) error {
		if _, err := io.ReadAll(c.Request.Body); err != nil {
			return errs.New(errs.InvalidInput, "读取失败")
		}
		return nil
	}))
	e.POST("/json", H(func(c *gin.Context) error { var s sample; return Decode(c, &s) }))
	for _, path := range []string{"/x", "/json"} {
		w := &deadlineWriter{ResponseRecorder: httptest.NewRecorder()}
		req := httptest.NewRequest("POST", path, io.NopCloser(timeoutBody{}))
		req.Header.Set("Content-Type", "application/json")
		e.ServeHTTP(w, req)
		if w.Code != 408 || !strings.Contains(w.Body.String(), `"REQUEST_TIMEOUT"`) || w.Header().Get("Connection") != "close" {
			t.Errorf("%s: %d %s %v, want 408 REQUEST_TIMEOUT with Connection: close", path, w.Code, w.Body, w.Header())
		}
	}
}
