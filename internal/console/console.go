// Package console serves the staff web console (the Vue app built into web/dist and embedded
// by package web) at /console/, on the same origin as the API, so the app needs no CORS and
// its Content-Security-Policy can say 'self' everywhere.
//
//   - /console/assets/* are content-hashed: cached for a year, immutable. An unknown asset is
//     404, never index.html (a stale tab asking for an old chunk must fail loudly).
//   - index.html is revalidated on every load (no-cache), so a deploy reaches staff at once.
//   - Any other path under /console/ without a file extension is a client-side route (a deep
//     link such as /console/campaigns/12) and answers index.html.
//   - / redirects to /console/ (302), and /console to /console/ (301, the query kept).
//
// Text files are gzipped once, on first request, when the browser accepts it.
package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/web"
)

// Prefix is where the console is served.
const Prefix = "/console/"

// CSP is the console's Content-Security-Policy. Scripts come only from our own files (the
// Vite build emits no inline script, and Vue's runtime-only build needs no eval). style-src
// allows 'unsafe-inline' because Element Plus positions popovers, dialogs and table columns
// with inline style attributes; without it those components break. Downloads are saved
// through blob: URLs, and ECharts draws to a canvas exported as data:/blob: images.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; " +
	"form-action 'self'; object-src 'none'"

// Cache-Control values.
const (
	CacheImmutable = "public, max-age=31536000, immutable"
	CacheNoCache   = "no-cache"
)

// Handler serves one built console.
type Handler struct {
	fsys  fs.FS
	files sync.Map // path → *file, filled on first request
}

type file struct {
	ok   bool
	body []byte
	gz   []byte // nil when not worth compressing
	etag string
	ctyp string
}

// New serves the console found in fsys (index.html at its root).
func New(fsys fs.FS) *Handler { return &Handler{fsys: fsys} }

// Routes declares the console's routes; they are public (the app itself holds no data: every
// API call it makes carries the staff member's token).
func (h *Handler) Routes(r *auth.Router) {
	r.Handle(http.MethodGet, "/", auth.Public(), func(c *gin.Context) {
		c.Header("Location", Prefix)
		c.Status(http.StatusFound) // no body: the spec documents none
	})
	r.Handle(http.MethodGet, strings.TrimSuffix(Prefix, "/"), auth.Public(), func(c *gin.Context) {
		to := Prefix
		if q := c.Request.URL.RawQuery; q != "" {
			to += "?" + q
		}
		c.Header("Location", to)
		c.Status(http.StatusMovedPermanently) // no body, like /
	})
	r.Handle(http.MethodGet, Prefix+"*filepath", auth.PublicCacheable(), h.serve) // sets its own Cache-Control per file
}

func (h *Handler) serve(c *gin.Context) {
	setSecurityHeaders(c.Writer.Header())
	p := strings.TrimPrefix(path.Clean("/"+c.Param("filepath")), "/")
	if p == "" || p == "index.html" {
		h.send(c, "index.html", CacheNoCache)
		return
	}
	if f := h.file(p); f.ok {
		cache := CacheNoCache
		if strings.HasPrefix(p, "assets/") {
			cache = CacheImmutable
		}
		h.send(c, p, cache)
		return
	}
	if p == "assets" || strings.HasPrefix(p, "assets/") || path.Ext(p) != "" {
		web.Fail(c, errs.New(errs.NotFound, "请求的文件不存在"))
		return
	}
	h.send(c, "index.html", CacheNoCache) // a client-side route
}

// setSecurityHeaders are sent with every console answer. X-Frame-Options repeats
// frame-ancestors for old in-app browsers that ignore CSP's.
func setSecurityHeaders(hd http.Header) {
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
}

func (h *Handler) send(c *gin.Context, p, cache string) {
	f := h.file(p)
	if !f.ok {
		web.Fail(c, errs.New(errs.NotFound, "控制台尚未构建"))
		return
	}
	hd := c.Writer.Header()
	hd.Set("Cache-Control", cache)
	hd.Set("Content-Type", f.ctyp)
	hd.Set("Vary", "Accept-Encoding")
	body, etag := f.body, f.etag
	if f.gz != nil && acceptsGzip(c.Request) {
		body, etag = f.gz, strings.TrimSuffix(f.etag, `"`)+`-gz"`
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("ETag", etag)
	http.ServeContent(c.Writer, c.Request, "", time.Time{}, bytes.NewReader(body))
}

// file reads and prepares an embedded file once. Only files that exist are remembered, so
// requests for made-up paths cannot grow the cache.
func (h *Handler) file(p string) *file {
	if v, ok := h.files.Load(p); ok {
		return v.(*file)
	}
	b, err := fs.ReadFile(h.fsys, p)
	if err != nil {
		return &file{}
	}
	sum := sha256.Sum256(b)
	f := &file{ok: true, body: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	f.ctyp = mime.TypeByExtension(path.Ext(p))
	if f.ctyp == "" {
		f.ctyp = "application/octet-stream"
	}
	if len(b) >= 1024 && compressible(f.ctyp) {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
		_, _ = zw.Write(b)
		_ = zw.Close()
		if buf.Len() < len(b) {
			f.gz = buf.Bytes()
		}
	}
	v, _ := h.files.LoadOrStore(p, f)
	return v.(*file)
}

func compressible(ctyp string) bool {
	for _, t := range []string{"text/", "application/javascript", "application/json", "image/svg+xml"} {
		if strings.HasPrefix(ctyp, t) {
			return true
		}
	}
	return false
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}
