package contract_test

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/canbao/canbao/internal/platform/contract"
)

// CoverageEnv names the directory of observations TestContractCoverage checks. make test sets
// it, after running every package's tests with CANBAO_CONTRACT_OBSERVED pointing there.
const CoverageEnv = "CANBAO_CONTRACT_COVERAGE"

// globalStatuses are documented once for every route (info.description), not per operation.
var globalStatuses = map[int]string{
	408: "REQUEST_TIMEOUT",
	500: "INTERNAL",
}

// exemption lets a declared answer go unobserved, for a reason. Empty Method/Path/Code/Header
// and zero Status match anything; Feature, when set, limits it to operations with that feature.
// With Somewhere, the answers it covers must still be observed on at least one operation: the
// exemption says the code path is shared, not that it is untested.
type exemption struct {
	Method, Path string
	Status       int
	Code, Header string
	Feature      func(*openapi3.Operation) bool
	Somewhere    bool
	Reason       string
}

func (e exemption) covers(o contract.Observation, op *openapi3.Operation) bool {
	return (e.Method == "" || e.Method == o.Method) && (e.Path == "" || e.Path == o.Path) &&
		(e.Status == 0 || e.Status == o.Status) && (e.Code == "" || e.Code == o.Code) &&
		(e.Header == "" || e.Header == o.Header) && (e.Code == "" || o.Header == "") &&
		(e.Feature == nil || e.Feature(op))
}

// exemptions: the declared answers the API tests cannot be expected to produce on every
// operation, each with its reason. Keep it short; prefer a test.
var exemptions = []exemption{
	// Shared code paths, declared uniformly by feature (TestErrorCodesFollowFeatures) and seen on
	// some operations.
	{Status: 401, Code: "TOKEN_INVALID", Feature: authenticated, Somewhere: true,
		Reason: "auth.Middleware answers it for any route with a token that is bad, expired or revoked"},
	{Status: 400, Code: "MALFORMED_JSON", Feature: jsonBody, Somewhere: true,
		Reason: "web.Decode answers it for every JSON body that does not parse"},
	{Status: 400, Code: "UNKNOWN_FIELD", Feature: jsonBody, Somewhere: true,
		Reason: "web.Decode answers it for every JSON body with a field the route does not take"},
	{Status: 400, Code: "DUPLICATE_KEY", Feature: jsonBody, Somewhere: true,
		Reason: "web.Decode answers it for every JSON body with a key given twice"},
	{Status: 413, Code: "BODY_TOO_LARGE", Feature: hasBody, Somewhere: true,
		Reason: "web.BodyLimit answers it for every route (64 KiB, uploads their own limit)"},
	{Status: 415, Code: "UNSUPPORTED_MEDIA_TYPE", Feature: jsonBody, Somewhere: true,
		Reason: "web.Decode answers it for every JSON route sent another Content-Type"},
	{Status: 400, Code: "PAGE_INVALID", Feature: paged, Somewhere: true,
		Reason: "web.ParsePage answers it for every list with a bad page or page_size"},
	{Status: 400, Code: "IDEMPOTENCY_KEY_INVALID", Feature: idempotent, Somewhere: true,
		Reason: "the idempotency middleware answers it on every route that takes Idempotency-Key"},
	{Status: 409, Code: "IDEMPOTENCY_KEY_IN_USE", Feature: idempotent,
		Reason: "the idempotency middleware answers it only while the first request with the key is still " +
			"running after a 10 s wait; internal/platform/idempotency tests the wait, not through the API"},
	{Status: 409, Header: "Retry-After", Feature: idempotent,
		Reason: "only IDEMPOTENCY_KEY_IN_USE carries it among the 409 answers (see the exemption above)"},
	{Status: 422, Code: "IDEMPOTENCY_KEY_REUSED", Feature: idempotent, Somewhere: true,
		Reason: "the idempotency middleware answers it on every route that takes Idempotency-Key"},
	{Header: "Idempotent-Replayed", Feature: idempotent, Somewhere: true,
		Reason: "the idempotency middleware replays any stored answer with it, on every route that takes Idempotency-Key"},
	{Method: "GET", Path: "/console/{filepath}",
		Reason: "servertest neither checks nor records the console's static files (kin-openapi routes no path " +
			"parameter holding slashes and decodes no text/html); internal/server/console_test.go tests their " +
			"200, 304, gzip and 404 answers itself"},
	{Status: 503, Code: "SERVICE_UNAVAILABLE", Somewhere: true,
		Reason: "web.Render answers it when MySQL or Redis (or WeChat) is down; the API tests run on healthy " +
			"services (make drills takes them down under real processes)"},
}

func authenticated(op *openapi3.Operation) bool { return op.Security == nil || len(*op.Security) > 0 }

func jsonBody(op *openapi3.Operation) bool {
	return op.RequestBody != nil && op.RequestBody.Value != nil && op.RequestBody.Value.Content.Get("application/json") != nil
}

func hasBody(op *openapi3.Operation) bool { return op.RequestBody != nil }

func paged(op *openapi3.Operation) bool {
	return op.Parameters.GetByInAndName("query", "page") != nil
}

func idempotent(op *openapi3.Operation) bool {
	return op.Parameters.GetByInAndName("header", "Idempotency-Key") != nil
}

// TestContractCoverage checks the answers every API test of a run observed (make test) against
// api/openapi.yaml, both ways: everything observed is declared (status, error code per status,
// response headers), and everything declared was observed, but for the exemptions above.
func TestContractCoverage(t *testing.T) {
	dir := os.Getenv(CoverageEnv)
	if dir == "" {
		t.Skipf("%s is not set: run by make test after the API tests wrote their observations", CoverageEnv)
	}
	observed, err := contract.ReadObserved(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(observed) == 0 {
		t.Fatalf("no observations in %s: were the API tests run with %s=%s?", dir, contract.ObservedDirEnv, dir)
	}
	v := newValidator(t)
	declared, err := v.Declared()
	if err != nil {
		t.Fatal(err)
	}
	undeclared, unobserved := contract.Compare(v, declared, observed, globalStatuses)
	for _, o := range undeclared {
		t.Errorf("observed but not in api/openapi.yaml: %s", o)
	}
	op := func(o contract.Observation) *openapi3.Operation {
		return v.Doc().Paths.Value(o.Path).GetOperation(o.Method)
	}
	used := make([]bool, len(exemptions))
	seenSomewhere := make([]bool, len(exemptions))
	for _, o := range observed {
		for i, e := range exemptions {
			if e.covers(o, op(o)) {
				seenSomewhere[i] = true
			}
		}
	}
	missing := 0
	for _, o := range unobserved {
		exempt := false
		for i, e := range exemptions {
			if e.covers(o, op(o)) {
				used[i], exempt = true, true
			}
		}
		if !exempt {
			missing++
			t.Errorf("in api/openapi.yaml but no API test observed it: %s", o)
		}
	}
	for i, e := range exemptions {
		switch {
		case !used[i] && !e.Somewhere:
			t.Errorf("exemption %+v exempts nothing: drop it", e.Reason)
		case e.Somewhere && !seenSomewhere[i]:
			t.Errorf("exemption %q: no API test observed any answer it covers", e.Reason)
		}
	}
	t.Logf("%d observations, %d declared answers; %d observed but undeclared, %d declared but unobserved (%d exempt)",
		len(observed), len(declared), len(undeclared), len(unobserved), len(unobserved)-missing)
}

// The exemptions stay few and reasoned.
func TestExemptionsHaveReasons(t *testing.T) {
	for _, e := range exemptions {
		if len(strings.TrimSpace(e.Reason)) < 20 {
			t.Errorf("exemption %+v: give a reason", e)
		}
	}
	if n := len(exemptions); n > 30 {
		t.Errorf("%d exemptions: write tests instead", n)
	}
}

// Answers that come from shared code are declared uniformly, so that the exemptions of
// TestContractCoverage hold: every operation with the feature lists the code.
func TestErrorCodesFollowFeatures(t *testing.T) {
	v := newValidator(t)
	allRoles := []string{"admin", "resident", "staff", "village_admin", "volunteer"}
	for _, r := range v.Routes() {
		op := v.Doc().Paths.Value(r[1]).GetOperation(r[0])
		codes, err := v.ErrorCodes(r[0], r[1])
		if err != nil {
			t.Errorf("%s %s: %v", r[0], r[1], err)
			continue
		}
		want := func(status int, list ...string) {
			t.Helper()
			for _, c := range list {
				if !slices.Contains(codes[status], c) {
					t.Errorf("%s %s: x-error-codes %d lacks %s", r[0], r[1], status, c)
				}
			}
		}
		roles := v.Roles(r[0], r[1])
		if authenticated(op) {
			want(401, "UNAUTHENTICATED", "TOKEN_INVALID")
			if !sameSet(roles, allRoles) {
				want(403, "FORBIDDEN")
			}
		}
		if jsonBody(op) {
			want(400, "MALFORMED_JSON", "UNKNOWN_FIELD", "DUPLICATE_KEY", "INVALID_INPUT")
			want(415, "UNSUPPORTED_MEDIA_TYPE")
		}
		if hasBody(op) {
			want(413, "BODY_TOO_LARGE")
		}
		if paged(op) {
			want(400, "PAGE_INVALID")
		}
		if idempotent(op) {
			want(400, "IDEMPOTENCY_KEY_INVALID")
			want(409, "IDEMPOTENCY_KEY_IN_USE")
			want(422, "IDEMPOTENCY_KEY_REUSED")
		}
		// x-error-codes and the documented error statuses agree: an Error answer lists its
		// codes, and no codes stand for an undocumented status.
		for key, resp := range op.Responses.Map() {
			if resp.Value == nil || key < "400" {
				continue
			}
			mt := resp.Value.Content.Get("application/json")
			isError := mt != nil && mt.Schema != nil && mt.Schema.Ref == "#/components/schemas/Error"
			status, err := strconv.Atoi(key)
			if err != nil {
				t.Fatalf("%s %s: response %q", r[0], r[1], key)
			}
			if isError && len(codes[status]) == 0 {
				t.Errorf("%s %s: %s answers Error but x-error-codes lists no code for it", r[0], r[1], key)
			}
			if !isError && len(codes[status]) > 0 {
				t.Errorf("%s %s: x-error-codes lists codes for %s, whose answer is not Error", r[0], r[1], key)
			}
		}
		for status := range codes {
			if op.Responses.Status(status) == nil {
				t.Errorf("%s %s: x-error-codes lists %d, which is not documented", r[0], r[1], status)
			}
		}
		// Idempotent-Replayed is declared exactly on the routes that replay.
		for key, resp := range op.Responses.Map() {
			if resp.Value == nil {
				continue
			}
			_, has := resp.Value.Headers["Idempotent-Replayed"]
			if has && !idempotent(op) {
				t.Errorf("%s %s %s: Idempotent-Replayed on a route without Idempotency-Key", r[0], r[1], key)
			}
			if !has && idempotent(op) && key < "300" {
				t.Errorf("%s %s %s: a replayed success carries Idempotent-Replayed; declare it", r[0], r[1], key)
			}
		}
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
