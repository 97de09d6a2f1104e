package contract

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

// An Observation is one kind of answer an operation gives: a status with the Error.code of its
// body (Code is empty for answers without an error body), or a status with one response header
// (Header set, Code empty). The API tests record what the server answered; the spec declares
// what it may answer (Declared); Coverage compares the two both ways.
type Observation struct {
	Method string `json:"method"`
	Path   string `json:"path"` // the spec's path template, e.g. /api/v1/admin/campaigns/{id}
	Status int    `json:"status"`
	Code   string `json:"code,omitempty"`
	Header string `json:"header,omitempty"` // canonical form, e.g. Idempotent-Replayed
}

func (o Observation) String() string {
	s := fmt.Sprintf("%s %s %d", o.Method, o.Path, o.Status)
	if o.Code != "" {
		s += " " + o.Code
	}
	if o.Header != "" {
		s += " header " + o.Header
	}
	return s
}

func compareObservations(a, b Observation) int {
	return cmp.Or(strings.Compare(a.Path, b.Path), strings.Compare(a.Method, b.Method), cmp.Compare(a.Status, b.Status),
		strings.Compare(a.Code, b.Code), strings.Compare(a.Header, b.Header))
}

// untrackedHeaders are answered on every route and documented once, in info.description (or
// are transport framing); every other response header must be declared by the response that
// carries it.
var untrackedHeaders = map[string]bool{
	"Content-Type":           true,
	"Content-Length":         true,
	"X-Content-Type-Options": true,
	"X-Request-Id":           true,
	"Connection":             true,
}

// ErrorCodesExtension is the operation extension that lists, per error status, the Error.code
// values the operation answers with.
const ErrorCodesExtension = "x-error-codes"

// Observe lists what one answer shows about the contract: its status with its error code and
// each tracked header it carries. It returns nil when the request matches no operation.
func (v *Validator) Observe(req *http.Request, status int, header http.Header, respBody []byte) []Observation {
	method, path, ok := v.operationOf(req)
	if !ok {
		return nil
	}
	out := []Observation{{Method: method, Path: path, Status: status, Code: errorCode(header, respBody)}}
	for name := range header {
		name = http.CanonicalHeaderKey(name)
		if !untrackedHeaders[name] {
			out = append(out, Observation{Method: method, Path: path, Status: status, Header: name})
		}
	}
	return out
}

// operationOf finds the spec operation of a request: method and path template.
func (v *Validator) operationOf(req *http.Request) (string, string, bool) {
	r := req.Clone(req.Context())
	r.URL = &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	route, _, err := v.router.FindRoute(r)
	if err != nil {
		return "", "", false
	}
	return strings.ToUpper(route.Method), route.Path, true
}

// errorCode is the Error.code of a JSON error body, or "".
func errorCode(header http.Header, body []byte) string {
	if ct := header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return ""
	}
	var b struct {
		Error *struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &b) != nil || b.Error == nil {
		return ""
	}
	return b.Error.Code
}

// ErrorCodes returns the x-error-codes of an operation: status → codes.
func (v *Validator) ErrorCodes(method, pathTemplate string) (map[int][]string, error) {
	item := v.doc.Paths.Value(pathTemplate)
	if item == nil {
		return nil, fmt.Errorf("no path %s", pathTemplate)
	}
	op := item.GetOperation(strings.ToUpper(method))
	if op == nil {
		return nil, fmt.Errorf("no operation %s %s", method, pathTemplate)
	}
	return operationErrorCodes(op)
}

func operationErrorCodes(op *openapi3.Operation) (map[int][]string, error) {
	raw, ok := op.Extensions[ErrorCodesExtension]
	if !ok {
		return map[int][]string{}, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s is %T, want a map of status to codes", ErrorCodesExtension, raw)
	}
	out := make(map[int][]string, len(m))
	for k, list := range m {
		status, err := strconv.Atoi(k)
		if err != nil || status < 400 || status > 599 {
			return nil, fmt.Errorf("%s: key %q is not an error status", ErrorCodesExtension, k)
		}
		items, ok := list.([]any)
		if !ok || len(items) == 0 {
			return nil, fmt.Errorf("%s: %s is %T, want a non-empty list", ErrorCodesExtension, k, list)
		}
		for _, it := range items {
			s, ok := it.(string)
			if !ok {
				return nil, fmt.Errorf("%s: %s holds %T, want strings", ErrorCodesExtension, k, it)
			}
			out[status] = append(out[status], s)
		}
	}
	return out, nil
}

// Declared lists every answer the spec promises: each documented status of each operation (one
// entry per x-error-codes code of the status, or one without a code when it has none) and each header each
// response declares, but the untracked ones.
func (v *Validator) Declared() ([]Observation, error) {
	var out []Observation
	for _, r := range v.routes {
		op := v.doc.Paths.Value(r[1]).GetOperation(r[0])
		codes, err := operationErrorCodes(op)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", r[0], r[1], err)
		}
		for key, resp := range op.Responses.Map() {
			status, err := strconv.Atoi(key)
			if err != nil {
				return nil, fmt.Errorf("%s %s: response %q is not a status", r[0], r[1], key)
			}
			if len(codes[status]) == 0 {
				out = append(out, Observation{Method: r[0], Path: r[1], Status: status})
			}
			for _, c := range codes[status] {
				out = append(out, Observation{Method: r[0], Path: r[1], Status: status, Code: c})
			}
			if resp.Value == nil {
				continue
			}
			for name := range resp.Value.Headers {
				name = http.CanonicalHeaderKey(name)
				if !untrackedHeaders[name] {
					out = append(out, Observation{Method: r[0], Path: r[1], Status: status, Header: name})
				}
			}
		}
	}
	slices.SortFunc(out, compareObservations)
	return out, nil
}

// Compare holds observations against the declared answers, both ways. undeclared lists what
// was observed but is not in the spec: a status the operation does not document, an error code
// not in its x-error-codes for the status, a header its response does not declare. unobserved
// lists what the spec declares but no observation showed; a declared header counts as unobserved
// only when its status was observed without it (an unobserved status is reported by itself).
// Statuses in global (status → code) are documented once for all routes and skipped.
func Compare(v *Validator, declared, observed []Observation, global map[int]string) (undeclared, unobserved []Observation) {
	decl := make(map[Observation]bool, len(declared))
	for _, d := range declared {
		decl[d] = true
	}
	obs := make(map[Observation]bool, len(observed))
	statusSeen := map[Observation]bool{}
	for _, o := range observed {
		obs[o] = true
		statusSeen[Observation{Method: o.Method, Path: o.Path, Status: o.Status}] = true
	}
	for _, o := range observed {
		if _, ok := global[o.Status]; ok && (o.Header != "" || o.Code == global[o.Status]) {
			continue
		}
		if !decl[o] {
			undeclared = append(undeclared, o)
		}
	}
	for _, d := range declared {
		if obs[d] {
			continue
		}
		if d.Header != "" && !statusSeen[Observation{Method: d.Method, Path: d.Path, Status: d.Status}] {
			continue
		}
		unobserved = append(unobserved, d)
	}
	return undeclared, unobserved
}

// Recorder collects observations of one test process and, when it has a directory, appends the
// new ones to a file of its own there, so that a later step can check the union of every
// package's tests (see Coverage). It is safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	dir     string
	seen    map[Observation]bool
	flushed map[Observation]bool
}

// ObservedDirEnv names the directory the API tests of one run write their observations to
// (make test sets it); unset, observations are kept in memory only.
const ObservedDirEnv = "CANBAO_CONTRACT_OBSERVED"

// NewRecorder returns a recorder writing to dir ("" = memory only).
func NewRecorder(dir string) *Recorder {
	return &Recorder{dir: dir, seen: map[Observation]bool{}, flushed: map[Observation]bool{}}
}

// Add records observations.
func (r *Recorder) Add(obs ...Observation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range obs {
		r.seen[o] = true
	}
}

// Observed returns everything recorded so far, sorted.
func (r *Recorder) Observed() []Observation {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Observation, 0, len(r.seen))
	for o := range r.seen {
		out = append(out, o)
	}
	slices.SortFunc(out, compareObservations)
	return out
}

// Flush appends the observations not yet written to <dir>/observed-<pid>.jsonl.
func (r *Recorder) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dir == "" {
		return nil
	}
	var lines []byte
	for o := range r.seen {
		if r.flushed[o] {
			continue
		}
		b, err := json.Marshal(o)
		if err != nil {
			return err
		}
		lines = append(append(lines, b...), '\n')
		r.flushed[o] = true
	}
	if len(lines) == 0 {
		return nil
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(r.dir, fmt.Sprintf("observed-%d.jsonl", os.Getpid())), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(lines); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadObserved reads every observed-*.jsonl file in dir.
func ReadObserved(dir string) ([]Observation, error) {
	files, err := filepath.Glob(filepath.Join(dir, "observed-*.jsonl"))
	if err != nil {
		return nil, err
	}
	seen := map[Observation]bool{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
		for sc.Scan() {
			var o Observation
			if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			seen[o] = true
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	out := make([]Observation, 0, len(seen))
	for o := range seen {
		out = append(out, o)
	}
	slices.SortFunc(out, compareObservations)
	return out, nil
}
