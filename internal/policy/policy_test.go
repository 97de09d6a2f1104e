package policy_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/platform/dbtest"
	"github.com/canbao/canbao/internal/platform/deadaddr"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/logging"
	"github.com/canbao/canbao/internal/platform/web"
	"github.com/canbao/canbao/internal/policy"
	"github.com/canbao/canbao/internal/server/servertest"
)

const (
	adminPath  = "/api/v1/admin/policies"
	publicPath = "/api/v1/policies"
)

// env is one API with a staff token, ready to write articles.
type env struct {
	*servertest.Env
	staff, admin string
	staffID      int64
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{Env: servertest.New(t)}
	e.staff, e.staffID = e.Staff(auth.RoleStaff, "")
	e.admin, _ = e.Staff(auth.RoleAdmin, "")
	return e
}

// article is a valid create request; kv pairs override or (with a nil value) remove fields.
func article(slug string, kv ...any) map[string]any {
	a := map[string]any{
		"slug": slug, "title": "城乡居民养老保险", "summary": "谁可以参加、怎么缴费、每年补贴多少。",
		"body": "## 参保对象\n\n年满16周岁、不是在校学生、\t未参加职工养老保险的城乡居民。", "category": "schemes",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(a, k)
			continue
		}
		a[k] = kv[i+1]
	}
	return a
}

// edit is a valid update request made from a create request.
func edit(a map[string]any, kv ...any) map[string]any {
	u := map[string]any{"title": a["title"], "summary": a["summary"], "body": a["body"], "category": a["category"], "status": "draft"}
	if s, ok := a["status"]; ok {
		u["status"] = s
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(u, k)
			continue
		}
		u[k] = kv[i+1]
	}
	return u
}

func (e *env) create(t *testing.T, body map[string]any) policy.AdminArticle {
	t.Helper()
	r := e.Do(servertest.Request{Method: http.MethodPost, Path: adminPath, Token: e.staff, Body: body})
	if r.Code != http.StatusCreated {
		t.Fatalf("create %v: %d %s", body["slug"], r.Code, r.Body)
	}
	var a policy.AdminArticle
	r.JSON(t, &a)
	return a
}

func (e *env) update(t *testing.T, slug string, body map[string]any) policy.AdminArticle {
	t.Helper()
	r := e.Do(servertest.Request{Method: http.MethodPut, Path: adminPath + "/" + slug, Token: e.staff, Body: body})
	if r.Code != http.StatusOK {
		t.Fatalf("update %s: %d %s", slug, r.Code, r.Body)
	}
	var a policy.AdminArticle
	r.JSON(t, &a)
	return a
}

// rows counts what a mutation writes: articles, revisions, audit rows.
func (e *env) rows() [3]int {
	return [3]int{
		e.Count("SELECT COUNT(*) FROM policy_articles"),
		e.Count("SELECT COUNT(*) FROM policy_article_revisions"),
		e.Count("SELECT COUNT(*) FROM audit_log"),
	}
}

func (e *env) auditCount(action, slug string) int {
	return e.Count("SELECT COUNT(*) FROM audit_log WHERE action = ? AND object_type = 'policy_article' AND detail LIKE ?",
		action, "slug="+slug+" %")
}

type publicArticle struct {
	Slug, Title, Summary, Body, Category string
	UpdatedAt                            time.Time `json:"updated_at"`
}

type publicList struct {
	Items []publicArticle
	Total int
}

func (e *env) get(t *testing.T, path string, header map[string]string) *servertest.Response {
	t.Helper()
	return e.Do(servertest.Request{Method: http.MethodGet, Path: path, Header: header})
}

func (e *env) publicArticle(t *testing.T, slug string) publicArticle {
	t.Helper()
	r := e.get(t, publicPath+"/"+slug, nil)
	if r.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", slug, r.Code, r.Body)
	}
	var a publicArticle
	r.JSON(t, &a)
	return a
}

func slugs[T any](items []T, slug func(T) string) string {
	s := make([]string, len(items))
	for i, it := range items {
		s[i] = slug(it)
	}
	return strings.Join(s, ",")
}

func TestCreate(t *testing.T) {
	e := newEnv(t)

	t.Run("draft by default, revision 1, audited", func(t *testing.T) {
		before := e.rows()
		a := e.create(t, article("jumin-yanglao"))
		if a.Slug != "jumin-yanglao" || a.Status != policy.StatusDraft || a.Version != 1 || a.PublishedAt != nil {
			t.Errorf("got %+v", a)
		}
		if a.Body == "" || len(a.Revisions) != 1 || a.Revisions[0].Version != 1 || a.Revisions[0].EditedBy == nil || *a.Revisions[0].EditedBy != e.staffID {
			t.Errorf("body or revisions: %+v", a)
		}
		if got := e.rows(); got != [3]int{before[0] + 1, before[1] + 1, before[2] + 1} {
			t.Errorf("rows %v → %v, want one of each", before, got)
		}
		if n := e.auditCount("policy.create", "jumin-yanglao"); n != 1 {
			t.Errorf("%d policy.create audit rows", n)
		}
	})

	t.Run("published at once", func(t *testing.T) {
		a := e.create(t, article("zhigong-yanglao", "status", "published", "category", "faq"))
		if a.Status != policy.StatusPublished || a.PublishedAt == nil {
			t.Errorf("got %+v", a)
		}
		if got := e.publicArticle(t, "zhigong-yanglao"); got.Category != "faq" {
			t.Errorf("public: %+v", got)
		}
	})

	t.Run("admin may too", func(t *testing.T) {
		r := e.Do(servertest.Request{Method: http.MethodPost, Path: adminPath, Token: e.admin, Body: article("by-admin")})
		if r.Code != http.StatusCreated {
			t.Errorf("%d %s", r.Code, r.Body)
		}
	})

	long := func(n int) string { return strings.Repeat("保", n) }
	bad := []struct {
		name   string
		body   any
		status int
		code   errs.Code
		field  string
	}{
		{"slug upper case", article("Jumin"), 400, errs.InvalidInput, "slug"},
		{"slug double hyphen", article("a--b"), 400, errs.InvalidInput, "slug"},
		{"slug trailing hyphen", article("ab-"), 400, errs.InvalidInput, "slug"},
		{"slug too long", article(strings.Repeat("a", 65)), 400, errs.InvalidInput, "slug"},
		{"slug missing", article("x", "slug", nil), 400, errs.InvalidInput, "slug"},
		{"title empty", article("t1", "title", ""), 400, errs.InvalidInput, "title"},
		{"title blank", article("t2", "title", "   "), 400, errs.InvalidInput, "title"},
		{"title 31 runes", article("t3", "title", long(31)), 400, errs.InvalidInput, "title"},
		{"title with newline", article("t4", "title", "养老\n保险"), 400, errs.InvalidInput, "title"},
		{"summary missing", article("s1", "summary", nil), 400, errs.InvalidInput, "summary"},
		{"summary 81 runes", article("s2", "summary", long(81)), 400, errs.InvalidInput, "summary"},
		{"summary with tab", article("s3", "summary", "谁\t能参保"), 400, errs.InvalidInput, "summary"},
		{"body empty", article("b1", "body", ""), 400, errs.InvalidInput, "body"},
		{"body 20001 runes", article("b2", "body", long(20001)), 400, errs.InvalidInput, "body"},
		{"body with bell", article("b3", "body", "正文\a"), 400, errs.InvalidInput, "body"},
		{"body with lone CR", article("b4", "body", "正文\r第二行"), 400, errs.InvalidInput, "body"},
		{"body with NUL", article("b5", "body", "正文\x00"), 400, errs.InvalidInput, "body"},
		{"category unknown", article("c1", "category", "resident_pension"), 400, errs.InvalidInput, "category"},
		{"category missing", article("c2", "category", nil), 400, errs.InvalidInput, "category"},
		{"status unknown", article("st", "status", "archived"), 400, errs.InvalidInput, "status"},
		{"published is not a field", article("p1", "published", true), 400, errs.UnknownField, "published"},
		{"wrong type", article("p2", "title", 3), 400, errs.InvalidInput, "title"},
		{"malformed", `{"slug":`, 400, errs.MalformedJSON, ""},
		{"duplicate slug", article("jumin-yanglao", "title", "另一篇"), 409, errs.Code("SLUG_TAKEN"), "slug"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			before := e.rows()
			r := e.Do(servertest.Request{Method: http.MethodPost, Path: adminPath, Token: e.staff, Body: tc.body})
			if r.Code != tc.status || r.ErrorCode() != string(tc.code) || r.ErrorField() != tc.field {
				t.Errorf("got %d %s, want %d %s field %q", r.Code, r.Body, tc.status, tc.code, tc.field)
			}
			if got := e.rows(); got != before {
				t.Errorf("rows %v → %v: a refused create wrote something", before, got)
			}
		})
	}

	t.Run("CRLF in the body becomes LF", func(t *testing.T) {
		a := e.create(t, article("crlf", "body", "第一行\r\n第二行"))
		if a.Body != "第一行\n第二行" {
			t.Errorf("body %q", a.Body)
		}
	})

	t.Run("idempotency key replays the first answer", func(t *testing.T) {
		before := e.rows()
		req := servertest.Request{Method: http.MethodPost, Path: adminPath, Token: e.staff, Body: article("idem"),
			Header: map[string]string{"Idempotency-Key": "policy-idem-1"}}
		first, second := e.Do(req), e.Do(req)
		if first.Code != http.StatusCreated || second.Code != http.StatusCreated || string(first.Body) != string(second.Body) {
			t.Errorf("first %d %s, second %d %s", first.Code, first.Body, second.Code, second.Body)
		}
		if got := e.rows(); got != [3]int{before[0] + 1, before[1] + 1, before[2] + 1} {
			t.Errorf("rows %v → %v, want one of each", before, got)
		}
	})
}

func TestStaffRoutesNeedStaff(t *testing.T) {
	e := newEnv(t)
	e.create(t, article("dengji", "status", "published"))
	resident, _ := e.Resident()
	volunteer, _ := e.Staff(auth.RoleVolunteer, "zhenxing")
	villageAdmin, _ := e.Staff(auth.RoleVillageAdmin, "zhenxing")

	routes := []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, adminPath, nil},
		{http.MethodGet, adminPath + "/dengji", nil},
		{http.MethodGet, adminPath + "/dengji/revisions/1", nil},
		{http.MethodPost, adminPath, article("new-one")},
		{http.MethodPut, adminPath + "/dengji", edit(article("dengji"), "title", "改了")},
	}
	callers := []struct {
		name, token string
		status      int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"bad token", "not-a-jwt", http.StatusUnauthorized},
		{"resident", resident, http.StatusForbidden},
		{"volunteer", volunteer, http.StatusForbidden},
		{"village admin", villageAdmin, http.StatusForbidden},
	}
	for _, rt := range routes {
		for _, c := range callers {
			t.Run(rt.method+" "+rt.path+" "+c.name, func(t *testing.T) {
				before := e.rows()
				r := e.Do(servertest.Request{Method: rt.method, Path: rt.path, Token: c.token, Body: rt.body})
				if r.Code != c.status {
					t.Errorf("got %d %s, want %d", r.Code, r.Body, c.status)
				}
				if got := e.rows(); got != before {
					t.Errorf("rows %v → %v", before, got)
				}
			})
		}
	}
}

func TestUpdate(t *testing.T) {
	e := newEnv(t)
	orig := article("jiaofei-dangci", "category", "contribution")
	created := e.create(t, orig)

	t.Run("edit bumps the version and keeps the revision", func(t *testing.T) {
		before := e.rows()
		a := e.update(t, "jiaofei-dangci", edit(orig, "title", "缴费档次和补贴"))
		if a.Title != "缴费档次和补贴" || a.Version != 2 || a.Status != policy.StatusDraft || a.PublishedAt != nil {
			t.Errorf("got %+v", a)
		}
		if !a.UpdatedAt.After(created.UpdatedAt) || !a.CreatedAt.Equal(created.CreatedAt) {
			t.Errorf("times: created %v → %v, updated %v → %v", created.CreatedAt, a.CreatedAt, created.UpdatedAt, a.UpdatedAt)
		}
		if len(a.Revisions) != 2 || a.Revisions[0].Version != 2 || a.Revisions[0].Title != "缴费档次和补贴" || a.Revisions[1].Title != orig["title"] {
			t.Errorf("revisions %+v", a.Revisions)
		}
		if got := e.rows(); got != [3]int{before[0], before[1] + 1, before[2] + 1} {
			t.Errorf("rows %v → %v, want one revision and one audit row", before, got)
		}
		if n := e.auditCount("policy.update", "jiaofei-dangci"); n != 1 {
			t.Errorf("%d policy.update rows", n)
		}
	})

	var firstPublished time.Time
	t.Run("publish sets published_at", func(t *testing.T) {
		a := e.update(t, "jiaofei-dangci", edit(orig, "status", "published"))
		if a.Status != policy.StatusPublished || a.PublishedAt == nil || a.Version != 3 {
			t.Fatalf("got %+v", a)
		}
		firstPublished = *a.PublishedAt
		if n := e.auditCount("policy.publish", "jiaofei-dangci"); n != 1 {
			t.Errorf("%d policy.publish rows", n)
		}
		e.publicArticle(t, "jiaofei-dangci")
	})

	t.Run("unpublish hides it and keeps published_at", func(t *testing.T) {
		a := e.update(t, "jiaofei-dangci", edit(orig, "status", "draft"))
		if a.Status != policy.StatusDraft || a.PublishedAt == nil || !a.PublishedAt.Equal(firstPublished) {
			t.Errorf("got %+v", a)
		}
		if n := e.auditCount("policy.unpublish", "jiaofei-dangci"); n != 1 {
			t.Errorf("%d policy.unpublish rows", n)
		}
		if r := e.get(t, publicPath+"/jiaofei-dangci", nil); r.Code != http.StatusNotFound {
			t.Errorf("unpublished article: %d %s", r.Code, r.Body)
		}
	})

	t.Run("republishing keeps the first publication time", func(t *testing.T) {
		a := e.update(t, "jiaofei-dangci", edit(orig, "status", "published"))
		if a.PublishedAt == nil || !a.PublishedAt.Equal(firstPublished) || a.Version != 5 {
			t.Errorf("got %+v, first published %v", a, firstPublished)
		}
	})

	bad := []struct {
		name   string
		slug   string
		body   any
		status int
		code   errs.Code
		field  string
	}{
		{"status missing", "jiaofei-dangci", edit(orig, "status", nil), 400, errs.InvalidInput, "status"},
		{"status unknown", "jiaofei-dangci", edit(orig, "status", "hidden"), 400, errs.InvalidInput, "status"},
		{"title missing", "jiaofei-dangci", edit(orig, "title", nil), 400, errs.InvalidInput, "title"},
		{"title 31 runes", "jiaofei-dangci", edit(orig, "title", strings.Repeat("费", 31)), 400, errs.InvalidInput, "title"},
		{"summary with control", "jiaofei-dangci", edit(orig, "summary", "摘\x1b要"), 400, errs.InvalidInput, "summary"},
		{"body blank", "jiaofei-dangci", edit(orig, "body", "\n\n"), 400, errs.InvalidInput, "body"},
		{"category unknown", "jiaofei-dangci", edit(orig, "category", "pension"), 400, errs.InvalidInput, "category"},
		{"slug is not editable", "jiaofei-dangci", edit(orig, "slug", "other"), 400, errs.UnknownField, "slug"},
		{"version is not a field", "jiaofei-dangci", edit(orig, "version", 5), 400, errs.UnknownField, "version"},
		{"unknown slug", "no-such-article", edit(orig), 404, errs.NotFound, ""},
		{"invalid slug", "No_Such", edit(orig), 404, errs.NotFound, ""},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			before := e.rows()
			r := e.Do(servertest.Request{Method: http.MethodPut, Path: adminPath + "/" + tc.slug, Token: e.staff, Body: tc.body})
			if r.Code != tc.status || r.ErrorCode() != string(tc.code) || r.ErrorField() != tc.field {
				t.Errorf("got %d %s, want %d %s field %q", r.Code, r.Body, tc.status, tc.code, tc.field)
			}
			if got := e.rows(); got != before {
				t.Errorf("rows %v → %v: a refused edit wrote something", before, got)
			}
		})
	}
}

// seedList writes five articles with distinct update times; newest first they are
// e, d, c, b, a, and c is a draft.
func seedList(t *testing.T, e *env) {
	t.Helper()
	specs := []struct{ slug, title, summary, body, category, status string }{
		{"art-a", "居民养老保险是什么", "一页看懂居民养老", "正文里写着满减50%的补贴", "overview", "published"},
		{"art-b", "缴费档次", "档次_和补贴", "正文", "contribution", "published"},
		{"art-c", "草稿：居民养老", "还没写完", "正文", "overview", "draft"},
		{"art-d", "被征地农民", "征地后如何参保", "居民养老保险的衔接", "land", "published"},
		{"art-e", "常见问题", "外地参保怎么办", "正文", "faq", "published"},
	}
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for i, s := range specs {
		e.create(t, map[string]any{"slug": s.slug, "title": s.title, "summary": s.summary, "body": s.body,
			"category": s.category, "status": s.status})
		e.Exec("UPDATE policy_articles SET updated_at = ? WHERE slug = ?", base.Add(time.Duration(i)*time.Hour), s.slug)
	}
	// The direct UPDATEs above bypass the service: drop what the creates cached.
	if err := e.Redis.Incr(context.Background(), e.Config.Redis.Prefix+"policy:gen").Err(); err != nil {
		t.Fatal(err)
	}
}

func TestPublicList(t *testing.T) {
	e := newEnv(t)
	seedList(t, e)

	cases := []struct {
		name, query string
		want        string
		total       int
	}{
		{"all published, newest first", "", "art-e,art-d,art-b,art-a", 4},
		{"category", "?category=overview", "art-a", 1},
		{"q in title", "?q=" + urlq("居民养老"), "art-d,art-a", 2},
		{"q in summary", "?q=" + urlq("外地"), "art-e", 1},
		{"q percent is literal", "?q=" + urlq("50%"), "art-a", 1},
		{"q underscore is literal", "?q=" + urlq("_"), "art-b", 1},
		{"q percent alone", "?q=" + urlq("%"), "art-a", 1},
		{"q and category", "?q=" + urlq("居民养老") + "&category=land", "art-d", 1},
		{"q matches nothing", "?q=" + urlq("城镇职工"), "", 0},
		{"page 1 of 2", "?page_size=3", "art-e,art-d,art-b", 4},
		{"page 2 of 2", "?page_size=3&page=2", "art-a", 4},
		{"past the end", "?page_size=3&page=3", "", 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.get(t, publicPath+tc.query, nil)
			if r.Code != http.StatusOK {
				t.Fatalf("%d %s", r.Code, r.Body)
			}
			var l publicList
			r.JSON(t, &l)
			if got := slugs(l.Items, func(a publicArticle) string { return a.Slug }); got != tc.want || l.Total != tc.total {
				t.Errorf("got %s (total %d), want %s (total %d)", got, l.Total, tc.want, tc.total)
			}
			if strings.Contains(string(r.Body), `"body"`) {
				t.Errorf("the list carries bodies: %s", r.Body)
			}
		})
	}

	bad := []struct{ name, query, field string }{
		{"unknown category", "?category=pension", "category"},
		{"q too long", "?q=" + urlq(strings.Repeat("养", 51)), "q"},
		{"page zero", "?page=0", "page"},
		{"page size too big", "?page_size=101", "page_size"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := e.get(t, publicPath+tc.query, nil)
			if r.Code != http.StatusBadRequest || r.ErrorField() != tc.field {
				t.Errorf("got %d %s, want 400 field %s", r.Code, r.Body, tc.field)
			}
		})
	}
	t.Run("q of 50 runes is fine", func(t *testing.T) {
		if r := e.get(t, publicPath+"?q="+urlq(strings.Repeat("养", 50)), nil); r.Code != http.StatusOK {
			t.Errorf("%d %s", r.Code, r.Body)
		}
	})
}

func urlq(s string) string {
	r := strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", " ", "%20", "#", "%23")
	return r.Replace(s)
}

func TestPublicGet(t *testing.T) {
	e := newEnv(t)
	e.create(t, article("shown", "status", "published"))
	e.create(t, article("hidden"))

	a := e.publicArticle(t, "shown")
	if a.Slug != "shown" || a.Title != "城乡居民养老保险" || !strings.Contains(a.Body, "参保对象") || a.Category != "schemes" || a.UpdatedAt.IsZero() {
		t.Errorf("got %+v", a)
	}
	for _, slug := range []string{"hidden", "no-such-article", "Bad_Slug"} {
		r := e.get(t, publicPath+"/"+slug, nil)
		if r.Code != http.StatusNotFound || r.ErrorCode() != string(errs.NotFound) {
			t.Errorf("%s: got %d %s, want 404", slug, r.Code, r.Body)
		}
	}
}

func TestAdminListAndGet(t *testing.T) {
	e := newEnv(t)
	seedList(t, e)

	cases := []struct {
		name, query, want string
		total             int
	}{
		{"drafts included", "", "art-e,art-d,art-c,art-b,art-a", 5},
		{"drafts only", "?status=draft", "art-c", 1},
		{"published only", "?status=published&page_size=2&page=2", "art-b,art-a", 4},
		{"category", "?category=overview", "art-c,art-a", 2},
		{"q", "?q=" + urlq("居民养老"), "art-d,art-c,art-a", 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.Do(servertest.Request{Method: http.MethodGet, Path: adminPath + tc.query, Token: e.staff})
			if r.Code != http.StatusOK {
				t.Fatalf("%d %s", r.Code, r.Body)
			}
			var l web.List[policy.AdminArticle]
			r.JSON(t, &l)
			if got := slugs(l.Items, func(a policy.AdminArticle) string { return a.Slug }); got != tc.want || l.Total != tc.total {
				t.Errorf("got %s (total %d), want %s (total %d)", got, l.Total, tc.want, tc.total)
			}
			for _, a := range l.Items {
				if a.Body != "" || a.Revisions != nil || a.Version != 1 || (a.Status == policy.StatusPublished) != (a.PublishedAt != nil) {
					t.Errorf("list item %+v", a)
				}
			}
		})
	}
	for _, tc := range []struct{ query, field string }{{"?status=archived", "status"}, {"?category=x", "category"}} {
		r := e.Do(servertest.Request{Method: http.MethodGet, Path: adminPath + tc.query, Token: e.staff})
		if r.Code != http.StatusBadRequest || r.ErrorField() != tc.field {
			t.Errorf("%s: got %d %s", tc.query, r.Code, r.Body)
		}
	}

	t.Run("one draft with its history", func(t *testing.T) {
		e.update(t, "art-c", map[string]any{"title": "居民养老（修订）", "summary": "还没写完", "body": "正文", "category": "overview", "status": "draft"})
		r := e.Do(servertest.Request{Method: http.MethodGet, Path: adminPath + "/art-c", Token: e.admin})
		if r.Code != http.StatusOK {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		var a policy.AdminArticle
		r.JSON(t, &a)
		if a.Status != policy.StatusDraft || a.Body != "正文" || a.Version != 2 || len(a.Revisions) != 2 ||
			a.Revisions[0].Version != 2 || a.Revisions[1].Title != "草稿：居民养老" || a.Revisions[0].EditedBy == nil {
			t.Errorf("got %+v", a)
		}
	})
	t.Run("unknown slug", func(t *testing.T) {
		r := e.Do(servertest.Request{Method: http.MethodGet, Path: adminPath + "/no-such", Token: e.staff})
		if r.Code != http.StatusNotFound {
			t.Errorf("%d %s", r.Code, r.Body)
		}
	})
}

func TestETag(t *testing.T) {
	e := newEnv(t)
	orig := article("etag-test", "status", "published")
	e.create(t, orig)

	for _, path := range []string{publicPath + "/etag-test", publicPath + "?category=schemes"} {
		t.Run(path, func(t *testing.T) {
			first := e.get(t, path, nil)
			etag := first.Header.Get("ETag")
			if first.Code != http.StatusOK || !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 10 {
				t.Fatalf("got %d, ETag %q", first.Code, etag)
			}
			if cc := first.Header.Get("Cache-Control"); cc != "public, max-age=60" {
				t.Errorf("Cache-Control %q", cc)
			}
			if again := e.get(t, path, nil); again.Header.Get("ETag") != etag || string(again.Body) != string(first.Body) {
				t.Errorf("a second read changed: %q %s", again.Header.Get("ETag"), again.Body)
			}
			for _, inm := range []string{etag, "*", `"nope", ` + etag, "W/" + etag, `"a",W/` + etag + `,"b"`} {
				r := e.get(t, path, map[string]string{"If-None-Match": inm})
				if r.Code != http.StatusNotModified || len(r.Body) != 0 || r.Header.Get("ETag") != etag {
					t.Errorf("If-None-Match %s: got %d %q, ETag %q", inm, r.Code, r.Body, r.Header.Get("ETag"))
				}
			}
			for _, inm := range []string{`"nope"`, strings.Trim(etag, `"`), `W/"nope", "other"`} {
				if r := e.get(t, path, map[string]string{"If-None-Match": inm}); r.Code != http.StatusOK {
					t.Errorf("If-None-Match %s: got %d", inm, r.Code)
				}
			}
		})
	}

	t.Run("an edit changes the ETag", func(t *testing.T) {
		path := publicPath + "/etag-test"
		old := e.get(t, path, nil).Header.Get("ETag")
		oldList := e.get(t, publicPath, nil).Header.Get("ETag")
		e.update(t, "etag-test", edit(orig, "title", "新标题", "status", "published"))
		r := e.get(t, path, map[string]string{"If-None-Match": old})
		if r.Code != http.StatusOK || r.Header.Get("ETag") == old {
			t.Errorf("after an edit: %d, ETag %q (was %q)", r.Code, r.Header.Get("ETag"), old)
		}
		if l := e.get(t, publicPath, map[string]string{"If-None-Match": oldList}); l.Code != http.StatusOK || l.Header.Get("ETag") == oldList {
			t.Errorf("list after an edit: %d", l.Code)
		}
	})
}

// cachedKeys lists the Redis keys of cached answers.
func cachedKeys(t *testing.T, e *env, kind string) []string {
	t.Helper()
	keys, err := dbtest.Keys(context.Background(), e.Redis, e.Config.Redis.Prefix+"policy:*:"+kind+":*")
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestCacheInvalidation(t *testing.T) {
	e := newEnv(t)
	orig := article("huancun", "status", "published")
	e.create(t, orig)

	if got := e.publicArticle(t, "huancun").Title; got != orig["title"] {
		t.Fatalf("title %q", got)
	}
	e.get(t, publicPath+"?q="+urlq("养老"), nil)
	if len(cachedKeys(t, e, "article")) != 1 || len(cachedKeys(t, e, "list")) != 1 {
		t.Fatalf("not cached: article %v, list %v", cachedKeys(t, e, "article"), cachedKeys(t, e, "list"))
	}
	for _, k := range cachedKeys(t, e, "list") {
		if strings.Contains(k, "养老") {
			t.Errorf("the search words are in a Redis key: %s", k)
		}
	}
	ttl, err := e.Redis.TTL(context.Background(), cachedKeys(t, e, "article")[0]).Result()
	if err != nil || ttl <= 9*time.Minute || ttl > 10*time.Minute {
		t.Errorf("TTL %v %v, want 10 minutes", ttl, err)
	}

	// A change behind the service's back is not seen: the answer comes from Redis.
	e.Exec("UPDATE policy_articles SET title = '直接改的' WHERE slug = 'huancun'")
	if got := e.publicArticle(t, "huancun").Title; got != orig["title"] {
		t.Fatalf("not served from the cache: title %q", got)
	}

	genKey := e.Config.Redis.Prefix + "policy:gen"
	gen0, _ := e.Redis.Get(context.Background(), genKey).Int64()
	e.update(t, "huancun", edit(orig, "title", "编辑后的标题", "status", "published"))
	if gen1, _ := e.Redis.Get(context.Background(), genKey).Int64(); gen1 != gen0+1 {
		t.Errorf("generation %d → %d", gen0, gen1)
	}
	if got := e.publicArticle(t, "huancun").Title; got != "编辑后的标题" {
		t.Errorf("after an edit the article still reads %q", got)
	}
	r := e.get(t, publicPath+"?q="+urlq("养老"), nil)
	var l publicList
	r.JSON(t, &l)
	if len(l.Items) != 1 || l.Items[0].Title != "编辑后的标题" {
		t.Errorf("after an edit the list reads %s", r.Body)
	}

	e.update(t, "huancun", edit(orig, "status", "draft"))
	if r := e.get(t, publicPath+"/huancun", nil); r.Code != http.StatusNotFound {
		t.Errorf("unpublished but still served: %d", r.Code)
	}
	if r := e.get(t, publicPath, nil); !strings.Contains(string(r.Body), `"total":0`) {
		t.Errorf("unpublished but still listed: %s", r.Body)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestTwoInstancesShareInvalidation(t *testing.T) {
	e := newEnv(t)
	orig := article("liangtai", "status", "published")
	e.create(t, orig)
	prefix := e.Config.Redis.Prefix
	a := policy.NewService(e.DB, e.Redis, prefix, audit.New(e.DB), discard())
	b := policy.NewService(e.DB, e.Redis, prefix, audit.New(e.DB), discard())
	ctx := context.Background()

	title := func(s *policy.Service) string {
		t.Helper()
		r, err := s.Published(ctx, "liangtai")
		if err != nil {
			t.Fatal(err)
		}
		var art publicArticle
		if err := json.Unmarshal(r.Body, &art); err != nil {
			t.Fatal(err)
		}
		return art.Title
	}
	if got := title(a); got != orig["title"] {
		t.Fatalf("a reads %q", got)
	}
	e.Exec("UPDATE policy_articles SET title = '绕过服务' WHERE slug = 'liangtai'")
	if got := title(a); got != orig["title"] {
		t.Fatalf("a is not reading its cache: %q", got)
	}

	actor := audit.Context{ActorKind: "staff", ActorID: e.staffID, Role: "staff"}
	if _, err := b.Update(ctx, actor, "liangtai", policy.Content{Title: "乙实例改的", Summary: "摘要", Body: "正文",
		Category: "schemes", Status: policy.StatusPublished}); err != nil {
		t.Fatal(err)
	}
	// b sees its own edit at once; a once its copy of the generation is older than
	// LocalGenerationTTL (it re-reads the generation). The deadline is a guard against a stale
	// cache, not a measure of the TTL: a loaded machine may take longer than a TTL to poll.
	if got := title(b); got != "乙实例改的" {
		t.Errorf("instance b does not read its own edit: %q", got)
	}
	const guard = 20 * time.Second
	within := func(want string, s *policy.Service) string {
		deadline := time.Now().Add(guard)
		got := title(s)
		for got != want && time.Now().Before(deadline) {
			time.Sleep(policy.LocalGenerationTTL / 5)
			got = title(s)
		}
		return got
	}
	if got := within("乙实例改的", a); got != "乙实例改的" {
		t.Errorf("instance a still reads %q %v after instance b's edit", got, guard)
	}
	// And an edit through the HTTP server's own instance reaches both.
	e.update(t, "liangtai", edit(orig, "title", "服务器改的", "status", "published"))
	if ga, gb := within("服务器改的", a), within("服务器改的", b); ga != "服务器改的" || gb != "服务器改的" {
		t.Errorf("after the server's edit: a %q, b %q", ga, gb)
	}
}

func TestRedisDown(t *testing.T) {
	e := newEnv(t)
	e.create(t, article("wu-redis", "status", "published"))
	down := redis.NewClient(&redis.Options{Addr: deadaddr.Refused(t), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = down.Close() })
	logs := &servertest.SafeBuffer{}
	s := policy.NewService(e.DB, down, e.Config.Redis.Prefix, audit.New(e.DB), logging.New(logs, slog.LevelDebug))
	ctx := context.Background()

	r, err := s.Published(ctx, "wu-redis")
	if err != nil || !strings.Contains(string(r.Body), `"slug":"wu-redis"`) || r.ETag == "" {
		t.Fatalf("article without Redis: %v %s", err, r.Body)
	}
	// The same article from the live instance has the same ETag: it is a hash of the answer.
	if live := e.get(t, publicPath+"/wu-redis", nil); live.Header.Get("ETag") != r.ETag {
		t.Errorf("ETag %q without Redis, %q with", r.ETag, live.Header.Get("ETag"))
	}
	l, err := s.PublishedList(ctx, policy.Filter{Category: "schemes"}, web.Page{Number: 1, Size: 20})
	if err != nil || !strings.Contains(string(l.Body), `"total":1`) {
		t.Fatalf("list without Redis: %v %s", err, l.Body)
	}
	if _, err := s.Published(ctx, "no-such"); !isCode(err, errs.NotFound) {
		t.Errorf("unknown slug without Redis: %v", err)
	}
	if !strings.Contains(logs.String(), "policy cache unavailable") {
		t.Errorf("no warning logged:\n%s", logs.String())
	}

	// An edit commits but answers 503: residents could otherwise keep seeing old rules.
	actor := audit.Context{ActorKind: "staff", ActorID: e.staffID, Role: "staff"}
	_, err = s.Update(ctx, actor, "wu-redis", policy.Content{Title: "无缓存时修改", Summary: "摘要", Body: "正文",
		Category: "schemes", Status: policy.StatusPublished})
	if !isCode(err, errs.Unavailable) {
		t.Errorf("edit without Redis: %v, want SERVICE_UNAVAILABLE", err)
	}
	if n := e.Count("SELECT COUNT(*) FROM policy_articles WHERE title = '无缓存时修改'"); n != 1 {
		t.Errorf("the edit was not saved")
	}
}

func isCode(err error, code errs.Code) bool {
	var e *errs.Error
	return errors.As(err, &e) && e.Code == code
}

func TestValidSlug(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "jumin-yanglao-2024": true, strings.Repeat("a", 64): true,
		"": false, "-a": false, "a-": false, "a--b": false, "A": false, "a_b": false, "养老": false,
		strings.Repeat("a", 65): false,
	} {
		if got := policy.ValidSlug(s); got != want {
			t.Errorf("ValidSlug(%q) = %v", s, got)
		}
	}
}

func TestQueriesPrepare(t *testing.T) {
	e := newEnv(t)
	if err := policy.Queries.Check(context.Background(), e.DB); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentEditsEachGetAVersion(t *testing.T) {
	e := newEnv(t)
	orig := article("bingfa")
	e.create(t, orig)
	const n = 6
	done := make(chan int, n)
	for i := range n {
		go func() {
			r := e.Do(servertest.Request{Method: http.MethodPut, Path: adminPath + "/bingfa", Token: e.staff,
				Body: edit(orig, "title", "并发修改"+strconv.Itoa(i))})
			done <- r.Code
		}()
	}
	for range n {
		if code := <-done; code != http.StatusOK {
			t.Errorf("concurrent edit: %d", code)
		}
	}
	if v := e.Count("SELECT version FROM policy_articles WHERE slug = 'bingfa'"); v != n+1 {
		t.Errorf("version %d, want %d", v, n+1)
	}
	if r := e.Count("SELECT COUNT(DISTINCT version) FROM policy_article_revisions"); r != n+1 {
		t.Errorf("%d distinct revisions, want %d", r, n+1)
	}
}

// TestRevision: one saved version of an article, with its full text, for staff and admins;
// unknown articles and versions are 404 and a version that is not a positive integer is 400,
// each with a Chinese message; nothing is written.
func TestRevision(t *testing.T) {
	e := newEnv(t)
	orig := article("xiuding", "category", "faq")
	created := e.create(t, orig)
	e.update(t, "xiuding", edit(orig, "title", "修订后的标题", "summary", "新的摘要", "body", "第一行\n第二行（改）\n第三行", "category", "overview"))
	path := adminPath + "/xiuding/revisions/"

	for _, tc := range []struct {
		version                        string
		token                          string
		title, summary, body, category string
	}{
		{"1", e.staff, orig["title"].(string), orig["summary"].(string), orig["body"].(string), "faq"},
		{"2", e.admin, "修订后的标题", "新的摘要", "第一行\n第二行（改）\n第三行", "overview"},
	} {
		r := e.Do(servertest.Request{Method: http.MethodGet, Path: path + tc.version, Token: tc.token})
		if r.Code != http.StatusOK {
			t.Fatalf("version %s: %d %s", tc.version, r.Code, r.Body)
		}
		var got policy.RevisionText
		r.JSON(t, &got)
		if got.Slug != "xiuding" || strconv.Itoa(got.Version) != tc.version || got.Title != tc.title || got.Summary != tc.summary ||
			got.Body != tc.body || got.Category != tc.category || got.EditedBy == nil || *got.EditedBy != e.staffID || got.CreatedAt.IsZero() {
			t.Errorf("version %s: %+v", tc.version, got)
		}
		if tc.version == "1" && !got.CreatedAt.Equal(created.CreatedAt) {
			t.Errorf("version 1 created %v, the article %v", got.CreatedAt, created.CreatedAt)
		}
	}

	villageAdmin, _ := e.Staff(auth.RoleVillageAdmin, "zhenxing")
	resident, _ := e.Resident()
	for _, tc := range []struct {
		name, path, token string
		status            int
		code              errs.Code
	}{
		{"no token", path + "1", "", http.StatusUnauthorized, ""},
		{"resident", path + "1", resident, http.StatusForbidden, ""},
		{"village admin", path + "1", villageAdmin, http.StatusForbidden, ""},
		{"unknown version", path + "3", e.staff, http.StatusNotFound, errs.NotFound},
		{"huge version", path + "2147483648", e.staff, http.StatusNotFound, errs.NotFound},
		{"unknown slug", adminPath + "/no-such/revisions/1", e.staff, http.StatusNotFound, errs.NotFound},
		{"invalid slug", adminPath + "/No_Such/revisions/1", e.staff, http.StatusNotFound, errs.NotFound},
		{"version 0", path + "0", e.staff, http.StatusBadRequest, errs.InvalidInput},
		{"negative version", path + "-1", e.staff, http.StatusBadRequest, errs.InvalidInput},
		{"version not a number", path + "abc", e.staff, http.StatusBadRequest, errs.InvalidInput},
		{"version with a plus", path + "+1", e.staff, http.StatusBadRequest, errs.InvalidInput},
		{"fractional version", path + "1.5", e.staff, http.StatusBadRequest, errs.InvalidInput},
		{"version with leading zero", path + "01", e.staff, http.StatusBadRequest, errs.InvalidInput},
		{"version too long", path + "99999999999999999999", e.staff, http.StatusBadRequest, errs.InvalidInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.rows()
			r := e.Do(servertest.Request{Method: http.MethodGet, Path: tc.path, Token: tc.token})
			if r.Code != tc.status || (tc.code != "" && r.ErrorCode() != string(tc.code)) {
				t.Fatalf("got %d %s, want %d %s", r.Code, r.Body, tc.status, tc.code)
			}
			if tc.code != "" {
				var b struct {
					Error struct{ Message, Field string }
				}
				r.JSON(t, &b)
				if !hasHan(b.Error.Message) {
					t.Errorf("message %q is not Chinese", b.Error.Message)
				}
				if tc.code == errs.InvalidInput && b.Error.Field != "version" {
					t.Errorf("field %q, want version", b.Error.Field)
				}
			}
			if got := e.rows(); got != before {
				t.Errorf("rows %v → %v", before, got)
			}
		})
	}
}

func hasHan(s string) bool {
	for _, r := range s {
		if r >= 0x4e00 && r <= 0x9fff {
			return true
		}
	}
	return false
}
