// Package contract checks HTTP exchanges against api/openapi.yaml, so that API tests
// prove the server answers what the mini-program and the console were promised.
//
// Typical use in a handler test:
//
//	v, err := contract.New()
//	...
//	rec := httptest.NewRecorder()
//	engine.ServeHTTP(rec, httptest.NewRequest(method, target, bytes.NewReader(body)))
//	if err := v.Check(req, body, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
//		t.Error(err)
//	}
package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/canbao/canbao/api"
)

// Validator checks HTTP exchanges against api/openapi.yaml. It is safe for concurrent
// use by parallel tests.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
	routes [][2]string
	roles  map[[2]string][]string
}

// New loads api.OpenAPI and validates the document. An error means the contract itself is
// broken, not an exchange.
func New() (*Validator, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("contract: load api/openapi.yaml: %w", err)
	}
	ctx := context.Background()
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("contract: validate api/openapi.yaml: %w", err)
	}
	closeObjects(doc)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("contract: route api/openapi.yaml: %w", err)
	}
	v := &Validator{doc: doc, router: router, roles: make(map[[2]string][]string)}
	for _, path := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(path)
		for method, op := range item.Operations() {
			key := [2]string{strings.ToUpper(method), path}
			v.routes = append(v.routes, key)
			roles, err := operationRoles(op)
			if err != nil {
				return nil, fmt.Errorf("contract: %s %s: %w", key[0], path, err)
			}
			v.roles[key] = roles
		}
	}
	slices.SortFunc(v.routes, func(a, b [2]string) int {
		if c := strings.Compare(a[1], b[1]); c != 0 {
			return c
		}
		return strings.Compare(a[0], b[0])
	})
	return v, nil
}

// closeObjects makes every object schema that names its properties and says nothing about
// others closed (additionalProperties: false) in the validator's copy of the spec, so that an
// answer with a field the spec does not name fails the check: every field the server answers
// must be documented. Members of an allOf stay open (closing one would refuse the others'
// fields), and so do schemas that say what extra properties may hold.
func closeObjects(doc *openapi3.T) {
	var all []*openapi3.Schema
	inAllOf := map[*openapi3.Schema]bool{}
	seen := map[*openapi3.Schema]bool{}
	var walk func(*openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		all = append(all, s)
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		walk(s.AdditionalProperties.Schema)
		walk(s.Not)
		for _, sub := range s.AllOf {
			if sub.Value != nil {
				inAllOf[sub.Value] = true
			}
			walk(sub)
		}
		for _, group := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf} {
			for _, sub := range group {
				walk(sub)
			}
		}
	}
	for _, s := range doc.Components.Schemas {
		walk(s)
	}
	for _, path := range doc.Paths.InMatchingOrder() {
		for _, op := range doc.Paths.Value(path).Operations() {
			for _, p := range op.Parameters {
				if p.Value != nil {
					walk(p.Value.Schema)
				}
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for _, mt := range op.RequestBody.Value.Content {
					walk(mt.Schema)
				}
			}
			for _, r := range op.Responses.Map() {
				if r.Value == nil {
					continue
				}
				for _, mt := range r.Value.Content {
					walk(mt.Schema)
				}
			}
		}
	}
	closed := false
	for _, s := range all {
		if len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil && !inAllOf[s] {
			s.AdditionalProperties.Has = &closed
		}
	}
}

// operationRoles reads the x-roles extension of an operation.
func operationRoles(op *openapi3.Operation) ([]string, error) {
	raw, ok := op.Extensions["x-roles"]
	if !ok {
		return nil, errors.New("no x-roles")
	}
	list, ok := raw.([]any)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("x-roles is %T, want a non-empty list", raw)
	}
	roles := make([]string, 0, len(list))
	for _, r := range list {
		s, ok := r.(string)
		if !ok {
			return nil, fmt.Errorf("x-roles holds %T, want strings", r)
		}
		roles = append(roles, s)
	}
	return roles, nil
}

// Routes lists every (METHOD, path template) in the spec, e.g. ("GET",
// "/api/v1/policies/{slug}"), sorted by path then method.
func (v *Validator) Routes() [][2]string {
	return slices.Clone(v.routes)
}

// Roles returns the x-roles of an operation (["public"] for routes without a token), or
// nil when the spec has no such operation.
func (v *Validator) Roles(method, pathTemplate string) []string {
	return slices.Clone(v.roles[[2]string{strings.ToUpper(method), pathTemplate}])
}

// Doc returns the loaded document, for tests that walk the contract. Do not modify it.
func (v *Validator) Doc() *openapi3.T { return v.doc }

// MismatchError says how an exchange departs from the contract.
type MismatchError struct {
	Method string
	Path   string // the request path as sent, without the query
	Status int
	Part   string // "route", "request", "response status" or "response"
	Err    error
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("contract: %s %s → %d: %s: %v", e.Method, e.Path, e.Status, e.Part, e.Err)
}

func (e *MismatchError) Unwrap() error { return e.Err }

// The options are shared and only read by kin-openapi.
var requestOptions, responseOptions = func() (*openapi3filter.Options, *openapi3filter.Options) {
	req := &openapi3filter.Options{
		AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc,
		MultiError:          true,
		SkipSettingDefaults: true,
	}
	req.WithCustomSchemaErrorFunc(shortSchemaError)
	resp := &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
	}
	resp.WithCustomSchemaErrorFunc(shortSchemaError)
	return req, resp
}()

// shortSchemaError says where and why in one line, with the offending value, instead of
// kin-openapi's default dump of the whole schema.
func shortSchemaError(err *openapi3.SchemaError) string {
	reason := err.Reason
	switch {
	case reason == "" && err.SchemaField == "not":
		// In api/openapi.yaml, "not" guards open objects against plain personal data.
		reason = "holds what the schema forbids (a plain id_number or phone?)"
	case reason == "":
		reason = fmt.Sprintf("does not match %q", err.SchemaField)
	}
	if err.Origin != nil && !strings.Contains(reason, err.Origin.Error()) {
		reason += ": " + err.Origin.Error()
	}
	value, _ := json.Marshal(err.Value)
	if len(value) > 160 {
		value = append(value[:157:157], "..."...)
	}
	return fmt.Sprintf("at %q: %s (got %s)", "/"+strings.Join(err.JSONPointer(), "/"), reason, value)
}

// Check validates the request and the recorded response against the contract; it returns a
// *MismatchError naming method, path, status and what did not match, or nil.
//
//   - The request must match an operation of the spec.
//   - A request that breaks the contract (bad parameter, body or header) is fine when the server
//     refused it with a 4xx answer (that is how bad-input tests look); any other answer to it is
//     an error: the server accepted what the contract forbids.
//   - The status must be documented for the operation, and the headers and body must match
//     that response (body decoded by Content-Type; an answer documented without content must
//     have an empty body). Objects are checked as closed: a field the spec does not name fails
//     (see closeObjects).
//   - An error answer's code must be listed in the operation's x-error-codes for its status, and
//     every response header but the few sent everywhere (see untrackedHeaders) must be declared
//     by the response.
//
// The other direction, that every declared answer is given, needs the observations of every
// API test: see Observe, Recorder and Compare.
//
// Security is not checked: authentication is the server's job. req is not modified, and its
// body is not read: pass the bytes sent as reqBody.
func (v *Validator) Check(req *http.Request, reqBody []byte, status int, header http.Header, respBody []byte) error {
	ctx := req.Context()
	mismatch := func(part string, err error) error {
		return &MismatchError{Method: req.Method, Path: req.URL.Path, Status: status, Part: part, Err: err}
	}

	// The router matches servers against the whole URL; keep only path and query, so that
	// requests built with an absolute URL (http://example.com/api/v1/...) match too.
	r := req.Clone(ctx)
	r.URL = &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	r.ContentLength = int64(len(reqBody))
	r.GetBody = nil
	if r.Header == nil {
		r.Header = http.Header{}
	}

	route, pathParams, err := v.router.FindRoute(r)
	if err != nil {
		return mismatch("route", fmt.Errorf("no such operation in api/openapi.yaml: %w", err))
	}

	reqInput := &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: pathParams,
		Route:      route,
		Options:    requestOptions,
	}
	if err := openapi3filter.ValidateRequest(ctx, reqInput); err != nil && (status < 400 || status >= 500) {
		return mismatch("request", fmt.Errorf("the request breaks the contract, yet the server answered %d (want a 4xx refusal): %w", status, err))
	}

	responses := route.Operation.Responses
	ref := responses.Status(status)
	if ref == nil {
		documented := slices.Sorted(maps.Keys(responses.Map()))
		return mismatch("response status", fmt.Errorf("status %d is not documented for %s %s (documented: %s)",
			status, route.Method, route.Path, strings.Join(documented, ", ")))
	}
	if ref.Value != nil && len(ref.Value.Content) == 0 && len(respBody) > 0 {
		return mismatch("response", fmt.Errorf("status %d is documented without a body, got %d bytes: %.200q",
			status, len(respBody), respBody))
	}

	if err := v.checkDeclared(route.Operation, ref.Value, status, header, respBody); err != nil {
		return mismatch("response", err)
	}

	// ValidateResponse trusts these statuses blindly; their headers still deserve a look.
	if status == http.StatusNotModified {
		return v.checkHeadersOnly(ref.Value, header, mismatch)
	}
	if header == nil {
		header = http.Header{}
	}
	respInput := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: reqInput,
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(respBody)),
		Options:                responseOptions,
	}
	if err := openapi3filter.ValidateResponse(ctx, respInput); err != nil {
		return mismatch("response", err)
	}
	return nil
}

// checkDeclared wants the error code of an error answer listed in the operation's
// x-error-codes for its status, and every tracked header of the answer declared by the
// response (Cache-Control, Idempotent-Replayed, Retry-After, ...; see untrackedHeaders).
func (v *Validator) checkDeclared(op *openapi3.Operation, resp *openapi3.Response, status int, header http.Header, body []byte) error {
	if code := errorCode(header, body); code != "" {
		codes, err := operationErrorCodes(op)
		if err != nil {
			return err
		}
		if !slices.Contains(codes[status], code) {
			return fmt.Errorf("error code %s is not in the operation's %s for %d (declared: %s)",
				code, ErrorCodesExtension, status, strings.Join(codes[status], ", "))
		}
	}
	var undeclared []string
	for name := range header {
		name = http.CanonicalHeaderKey(name)
		if untrackedHeaders[name] {
			continue
		}
		if resp == nil || !hasHeader(resp.Headers, name) {
			undeclared = append(undeclared, name)
		}
	}
	if len(undeclared) > 0 {
		slices.Sort(undeclared)
		return fmt.Errorf("response header(s) %s not declared for status %d", strings.Join(undeclared, ", "), status)
	}
	return nil
}

func hasHeader(headers openapi3.Headers, name string) bool {
	for k := range headers {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// checkHeadersOnly checks that the required headers of a documented response are present
// and that integer headers parse.
func (v *Validator) checkHeadersOnly(resp *openapi3.Response, header http.Header, mismatch func(string, error) error) error {
	if resp == nil {
		return nil
	}
	for name, h := range resp.Headers {
		if h.Value == nil {
			continue
		}
		val := header.Get(name)
		if val == "" {
			if h.Value.Required {
				return mismatch("response", fmt.Errorf("required header %q is missing", name))
			}
			continue
		}
		if s := h.Value.Schema; s != nil && s.Value != nil && s.Value.Type.Is("integer") {
			if _, err := strconv.ParseInt(val, 10, 64); err != nil {
				return mismatch("response", fmt.Errorf("header %q = %q is not an integer", name, val))
			}
		}
	}
	return nil
}
