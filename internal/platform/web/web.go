// Package web holds the HTTP edge shared by every area: error rendering, strict JSON decoding,
// request ids, access logs, timeouts, body limits, pagination and metrics. Handlers stay thin:
// decode, call one service method, encode.
package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/canbao/canbao/internal/platform/errs"
)

// ErrorBody is the JSON shape of every error answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code      errs.Code `json:"code"`
	Message   string    `json:"message"`
	Field     string    `json:"field,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
}

// Handler is a gin handler that returns its error instead of writing it.
type Handler func(c *gin.Context) error

// H adapts a Handler: a returned error is attached to the context and rendered by Errors.
func H(h Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			_ = c.Error(err)
			c.Abort()
		}
	}
}

// Fail attaches err to the request and stops the chain; Errors renders it.
func Fail(c *gin.Context, err error) {
	_ = c.Error(err)
	c.Abort()
}

// Errors renders the last error a handler attached, once, in the one error shape of the API
// (docs/ERRORS.md). Internal errors are logged with their cause and shown as a generic message
// with the request id.
func Errors(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if len(c.Errors) == 0 || c.Writer.Written() {
			return
		}
		Render(c, log, c.Errors.Last().Err)
	}
}

// Render writes err as an error answer.
func Render(c *gin.Context, log *slog.Logger, err error) {
	e, ok := errs.As(err)
	if !ok {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			e = errs.Wrap(errs.Unavailable, err, "服务响应超时，请稍后再试")
			e.RetryAfter = 5 * time.Second
		case isUnavailable(err):
			e = errs.Wrap(errs.Unavailable, err, "服务暂时不可用，请稍后再试")
			e.RetryAfter = 5 * time.Second
		default:
			e = errs.Internalf("%w", err)
		}
	}
	status := errs.Status(e.Code)
	rid := RequestID(c)
	if status >= 500 {
		log.ErrorContext(c.Request.Context(), "request failed",
			"request_id", rid, "route", c.FullPath(), "code", string(e.Code), "err", errString(e))
	}
	retry := e.RetryAfter
	if retry <= 0 && status == http.StatusServiceUnavailable {
		retry = unavailableRetry // the contract promises Retry-After on every 503
	}
	if retry > 0 {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
	}
	body := ErrorBody{Error: ErrorDetail{Code: e.Code, Message: e.Message, Field: e.Field}}
	if status >= 500 {
		body.Error.RequestID = rid
	}
	c.AbortWithStatusJSON(status, body)
}

// unavailableRetry is the Retry-After of a 503 whose error does not say.
const unavailableRetry = 5 * time.Second

func errString(e *errs.Error) string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return string(e.Code)
}

// unavailableMarker is implemented by storage errors that mean "a backing service is down".
type unavailableMarker interface{ Unavailable() bool }

func isUnavailable(err error) bool {
	var u unavailableMarker
	return errors.As(err, &u) && u.Unavailable()
}

// Recover turns a panic into a 500 with the request id, and logs the panic.
func Recover(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				log.ErrorContext(c.Request.Context(), "panic", "request_id", RequestID(c), "route", c.FullPath(), "panic", fmt.Sprint(r))
				Render(c, log, errs.Internalf("panic: %v", r))
			}
		}()
		c.Next()
	}
}

// requestIDKey is shared with audit.RequestIDKey.
const requestIDKey = "canbao.request_id"

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// RequestIDs gives every request an id (the client's X-Request-Id if it is sane) and echoes it.
func RequestIDs() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-Id")
		if !requestIDPattern.MatchString(id) {
			id = uuid.NewString()
		}
		c.Set(requestIDKey, id)
		c.Header("X-Request-Id", id)
		c.Next()
	}
}

// SecurityHeaders sets X-Content-Type-Options: nosniff on every answer (errors, 404 and 405
// included), so no browser guesses a type other than the declared one.
func SecurityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("X-Content-Type-Options", "nosniff")
		c.Next()
	}
}

// RequestID is the id RequestIDs gave this request.
func RequestID(c *gin.Context) string { return c.GetString(requestIDKey) }

// AccessLog writes one line per request: route template (never the raw path or query, which
// may carry personal data), status, duration, request id and the caller's subject id.
func AccessLog(log *slog.Logger, subject func(*gin.Context) string) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		log.InfoContext(c.Request.Context(), "http",
			"method", c.Request.Method, "route", route, "status", c.Writer.Status(),
			"ms", float64(time.Since(start).Microseconds())/1000, "bytes", c.Writer.Size(),
			"request_id", RequestID(c), "subject", subject(c), "ip", c.ClientIP())
	}
}

// Timeout bounds every request's context; routes named in longer (uploads, by route template)
// get their own bound.
func Timeout(d time.Duration, longer map[string]time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		limit := d
		if l, ok := longer[c.FullPath()]; ok {
			limit = l
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), limit)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

// BodyDeadline bounds how long a request body may take to arrive: d on every route, or the
// route's own bound in longer (uploads, by route template). A body still arriving at its
// deadline fails the request with 408 REQUEST_TIMEOUT and the connection is closed, so a client
// trickling bytes cannot hold a connection and a handler. Once the body has been read, and for
// requests without one, the read deadline is lifted: the server's background read on the
// connection would otherwise cancel the context of a handler still working past it (handlers
// are bounded by Timeout).
func BodyDeadline(d time.Duration, longer map[string]time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		rc := http.NewResponseController(c.Writer)
		if c.Request.Body == nil || c.Request.Body == http.NoBody {
			_ = rc.SetReadDeadline(time.Time{})
			c.Next()
			return
		}
		limit := d
		if l, ok := longer[c.FullPath()]; ok {
			limit = l
		}
		if err := rc.SetReadDeadline(time.Now().Add(limit)); err != nil {
			c.Next() // no connection underneath (a test recorder): nothing to bound
			return
		}
		body := &deadlineBody{ReadCloser: c.Request.Body, rc: rc}
		c.Request.Body = body
		c.Next()
		if body.timedOut {
			// Whatever the handler made of the failed read, the answer is 408 and the
			// connection, with the rest of the body still in it, is not reused.
			c.Header("Connection", "close")
			if !c.Writer.Written() {
				Fail(c, errBodyTimeout)
			}
		}
	}
}

var errBodyTimeout = errs.New(errs.RequestTimeout, "请求内容传输超时，请检查网络后重试")

// deadlineBody reports a read past the deadline as REQUEST_TIMEOUT and lifts the deadline at
// the end of the body. Reads happen on the handler's goroutine.
type deadlineBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	done     bool
	timedOut bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var ne net.Error
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		if !b.done {
			b.done = true
			_ = b.rc.SetReadDeadline(time.Time{})
		}
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		b.timedOut = true
		return n, errBodyTimeout
	}
	return n, err
}

// BodyLimit caps request bodies; reading past the cap fails and Decode answers 413. Routes
// named in larger (upload endpoints, by route template) get their own cap.
func BodyLimit(limit int64, larger map[string]int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		max := limit
		if l, ok := larger[c.FullPath()]; ok {
			max = l
		}
		if c.Request.ContentLength > max {
			// This runs before the route's own middleware (which sets no-store on every route
			// but the public reference data): keep the refusal out of caches here.
			c.Header("Cache-Control", "no-store")
			Fail(c, errs.New(errs.BodyTooLarge, fmt.Sprintf("请求内容过大（上限 %d KB）", max/1024)))
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
		c.Next()
	}
}

// Decode reads exactly one JSON object into dst. Unknown fields, trailing data, wrong types and
// oversize bodies are errors with a Chinese message and, where known, the field.
func Decode(c *gin.Context, dst any) error {
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return errs.New(errs.UnsupportedMediaType, "请求内容须为 JSON（Content-Type: application/json）")
		}
	}
	return DecodeReader(c.Request.Body, dst)
}

// DecodeReader is Decode for any reader (also used by batch and fuzz tests). Keys match
// exactly: a key that names a field only when case is ignored is UNKNOWN_FIELD and a key that
// appears twice in one object is DUPLICATE_KEY (encoding/json would fold case and let the last
// one win), at any depth, with the key's path as field.
func DecodeReader(r io.Reader, dst any) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return decodeError(err)
	}
	if err := checkKeys(body, dst); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return decodeError(err)
		}
		return errs.New(errs.MalformedJSON, "请求内容格式不正确：只能包含一个 JSON 对象")
	}
	return nil
}

func decodeError(err error) error {
	var (
		maxErr    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &maxErr):
		return errs.New(errs.BodyTooLarge, fmt.Sprintf("请求内容过大（上限 %d KB）", maxErr.Limit/1024))
	case errors.Is(err, io.EOF):
		return errs.New(errs.MalformedJSON, "请求内容为空")
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return errs.New(errs.MalformedJSON, "请求内容不是有效的 JSON")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		return errs.Field(errs.InvalidInput, field, fmt.Sprintf("字段 %s 的类型不正确", field))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := clipField(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
		return errs.Field(errs.UnknownField, field, fmt.Sprintf("不允许的字段：%s", field))
	default:
		var e *errs.Error
		if errors.As(err, &e) {
			return e
		}
		return errs.New(errs.MalformedJSON, "请求内容格式不正确")
	}
}

// maxKeyScanDepth stops the key scan where encoding/json itself gives up nesting.
const maxKeyScanDepth = 10000

// errScanStop ends the key scan without a verdict: the body is not valid JSON (or too deep),
// and the decoder that runs next reports that with its usual error.
var errScanStop = errors.New("key scan stopped")

// checkKeys walks body's first JSON value token by token beside dst's type and rejects
// duplicate keys and keys that match a struct field only without case.
func checkKeys(body []byte, dst any) error {
	s := keyScan{dec: json.NewDecoder(bytes.NewReader(body))}
	s.dec.UseNumber()
	if err := s.value(reflect.TypeOf(dst), ""); err != nil && !errors.Is(err, errScanStop) {
		return err
	}
	return nil
}

type keyScan struct {
	dec   *json.Decoder
	depth int
}

// value scans one value whose Go type is t (nil when unknown: then only duplicates are checked).
func (s *keyScan) value(t reflect.Type, path string) error {
	tok, err := s.dec.Token()
	if err != nil {
		return errScanStop
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if s.depth++; s.depth > maxKeyScanDepth {
		return errScanStop
	}
	defer func() { s.depth-- }()
	t = scanType(t)
	switch d {
	case '{':
		var fields []jsonField
		var elem reflect.Type
		if t != nil && t.Kind() == reflect.Struct {
			fields = structFields(t)
		} else if t != nil && t.Kind() == reflect.Map {
			elem = t.Elem()
		}
		seen := map[string]bool{}
		for s.dec.More() {
			tok, err := s.dec.Token()
			if err != nil {
				return errScanStop
			}
			key, ok := tok.(string)
			if !ok {
				return errScanStop
			}
			p := key
			if path != "" {
				p = path + "." + key
			}
			p = clipField(p)
			if seen[key] {
				return errs.Field(errs.DuplicateKey, p, fmt.Sprintf("字段 %s 重复出现", p))
			}
			seen[key] = true
			next := elem
			if fields != nil {
				next = nil
				if f, ok := exactField(fields, key); ok {
					next = f
				} else if foldedField(fields, key) {
					return errs.Field(errs.UnknownField, p, fmt.Sprintf("不允许的字段：%s（字段名区分大小写）", p))
				}
			}
			if err := s.value(next, p); err != nil {
				return err
			}
		}
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; s.dec.More(); i++ {
			if err := s.value(elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	if _, err := s.dec.Token(); err != nil { // the closing delimiter
		return errScanStop
	}
	return nil
}

// maxFieldLen is the longest field an error answer echoes (the contract's limit).
const maxFieldLen = 128

// clipField shortens a client-chosen key to maxFieldLen bytes, on a rune boundary.
func clipField(f string) string {
	if len(f) <= maxFieldLen {
		return f
	}
	cut := maxFieldLen
	for cut > 0 && !utf8.RuneStart(f[cut]) {
		cut--
	}
	return f[:cut]
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// scanType is the type whose fields a JSON object fills: pointers followed; nil for types
// that decode themselves (json.RawMessage, time.Time, custom unmarshalers) and interfaces.
func scanType(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface || t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	return t
}

type jsonField struct {
	name string
	typ  reflect.Type
}

var fieldCache sync.Map // reflect.Type -> []jsonField

// structFields lists the JSON names encoding/json decodes into t, its own fields before those
// promoted from embedded structs.
func structFields(t reflect.Type) []jsonField {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]jsonField)
	}
	var own, promoted []jsonField
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				promoted = append(promoted, structFields(ft)...)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		own = append(own, jsonField{name: name, typ: sf.Type})
	}
	fields := append(own, promoted...)
	fieldCache.Store(t, fields)
	return fields
}

func exactField(fields []jsonField, key string) (reflect.Type, bool) {
	for _, f := range fields {
		if f.name == key {
			return f.typ, true
		}
	}
	return nil, false
}

// foldedField reports whether key names a field when case is ignored, as encoding/json would.
func foldedField(fields []jsonField, key string) bool {
	for _, f := range fields {
		if strings.EqualFold(f.name, key) {
			return true
		}
	}
	return false
}

// Page is a validated page request.
type Page struct {
	Number int // from 1
	Size   int // 1..MaxPageSize
}

// Offset is the SQL offset of the page.
func (p Page) Offset() int { return (p.Number - 1) * p.Size }

// Page sizes (api/openapi.yaml, "Conventions").
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	maxPageNumber   = 100000
)

// ParsePage reads page and page_size from the query.
func ParsePage(c *gin.Context) (Page, error) {
	p := Page{Number: 1, Size: DefaultPageSize}
	if s := c.Query("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageNumber {
			return p, errs.Field(errs.PageInvalid, "page", "页码须为正整数")
		}
		p.Number = n
	}
	if s := c.Query("page_size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPageSize {
			return p, errs.Field(errs.PageInvalid, "page_size", fmt.Sprintf("每页条数须在 1 到 %d 之间", MaxPageSize))
		}
		p.Size = n
	}
	return p, nil
}

// List is the JSON shape of every list answer.
type List[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
}

// NewList never returns a null items array.
func NewList[T any](items []T, total int) List[T] {
	if items == nil {
		items = []T{}
	}
	return List[T]{Items: items, Total: total}
}

// Today is the current civil date in loc, as 00:00 UTC of that date.
func Today(now time.Time, loc *time.Location) time.Time {
	y, m, d := now.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
