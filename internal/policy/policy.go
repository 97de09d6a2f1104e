// Package policy serves the policy explainers (政策解读) residents read in the mini-program and
// propaganda staff write in the console. Published articles are cached in Redis as rendered
// JSON with their ETag; every staff edit bumps a generation number in Redis that is part of
// every cache key, so one INCR invalidates the cache of every instance at once.
package policy

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/canbao/canbao/internal/platform/errs"
)

// Status is whether residents can see an article.
type Status string

// The two statuses of an article (PolicyStatus in api/openapi.yaml).
const (
	StatusDraft     Status = "draft"
	StatusPublished Status = "published"
)

func (s Status) valid() bool { return s == StatusDraft || s == StatusPublished }

// Limits of an article's fields, in runes: what fits the mini-program's cards and pages.
const (
	SlugMaxLen    = 64
	TitleMaxLen   = 30
	SummaryMaxLen = 80
	BodyMaxLen    = 20000
	QueryMaxLen   = 50
)

var slugPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// ValidSlug reports whether s can name an article.
func ValidSlug(s string) bool { return len(s) <= SlugMaxLen && slugPattern.MatchString(s) }

// Categories maps the codes of the categories an article can be filed under to their Chinese
// labels. Policy owns the list; the seed content's articles must use one of them.
var Categories = map[string]string{
	"overview":     "概况",
	"schemes":      "险种介绍",
	"eligibility":  "参保对象",
	"registration": "办理流程",
	"contribution": "缴费与补贴",
	"land":         "被征地农民",
	"faq":          "常见问题",
}

// KnownCategory reports whether c is one of the categories.
func KnownCategory(c string) bool {
	_, ok := Categories[c]
	return ok
}

// Summary is an article in the residents' list.
type Summary struct {
	Slug      string    `json:"slug"`
	Title     string    `json:"title"`
	Summary   string    `json:"summary"`
	Category  string    `json:"category"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Article is a published article as residents read it.
type Article struct {
	Slug      string    `json:"slug"`
	Title     string    `json:"title"`
	Summary   string    `json:"summary"`
	Body      string    `json:"body"`
	Category  string    `json:"category"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AdminArticle is an article as the console shows it, drafts included. Lists leave out the
// body and the revisions.
type AdminArticle struct {
	Slug        string     `json:"slug"`
	Title       string     `json:"title"`
	Summary     string     `json:"summary"`
	Body        string     `json:"body,omitempty"`
	Category    string     `json:"category"`
	Status      Status     `json:"status"`
	Version     int        `json:"version"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	PublishedAt *time.Time `json:"published_at"`
	Revisions   []Revision `json:"revisions,omitempty"`
}

// Revision is one saved version of an article, for the console's history.
type Revision struct {
	Version   int       `json:"version"`
	Title     string    `json:"title"`
	EditedBy  *int64    `json:"edited_by"`
	CreatedAt time.Time `json:"created_at"`
}

// RevisionText is one saved version of an article with its full text, for the console to
// show, compare with the draft and restore.
type RevisionText struct {
	Slug      string    `json:"slug"`
	Version   int       `json:"version"`
	Title     string    `json:"title"`
	Summary   string    `json:"summary"`
	Body      string    `json:"body"`
	Category  string    `json:"category"`
	EditedBy  *int64    `json:"edited_by"`
	CreatedAt time.Time `json:"created_at"`
}

// Content is what staff write: the fields of an article a create or an edit sets.
type Content struct {
	Title    string
	Summary  string
	Body     string
	Category string
	Status   Status
}

// normalize trims the one-line fields and turns Windows line ends in the body into \n.
func (c Content) normalize() Content {
	c.Title = strings.TrimSpace(c.Title)
	c.Summary = strings.TrimSpace(c.Summary)
	c.Category = strings.TrimSpace(c.Category)
	c.Body = strings.ReplaceAll(c.Body, "\r\n", "\n")
	return c
}

// validate checks the content of a create or an edit; the error names the field at fault.
func (c Content) validate() error {
	if err := checkText("title", "标题", c.Title, TitleMaxLen, false); err != nil {
		return err
	}
	if err := checkText("summary", "摘要", c.Summary, SummaryMaxLen, false); err != nil {
		return err
	}
	if err := checkText("body", "正文", c.Body, BodyMaxLen, true); err != nil {
		return err
	}
	if !KnownCategory(c.Category) {
		return errCategory
	}
	if !c.Status.valid() {
		return errs.Field(errs.InvalidInput, "status", "状态须为 draft（草稿）或 published（已发布）")
	}
	return nil
}

var errCategory = errs.Field(errs.InvalidInput, "category",
	"分类须为 overview、schemes、eligibility、registration、contribution、land 或 faq")

// checkText requires 1..max runes of printable text; multiline allows \n and \t.
func checkText(field, label, s string, max int, multiline bool) error {
	if strings.TrimSpace(s) == "" {
		return errs.Field(errs.InvalidInput, field, label+"不能为空")
	}
	if !utf8.ValidString(s) {
		return errs.Field(errs.InvalidInput, field, label+"含有无效字符")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return errs.Field(errs.InvalidInput, field, label+"过长（最多 "+strconv.Itoa(max)+" 字）")
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) {
			return errs.Field(errs.InvalidInput, field, label+"含有不允许的控制字符")
		}
	}
	return nil
}

// Filter selects articles for a list. Zero values select everything.
type Filter struct {
	Category string
	Query    string // words looked for in title, summary and body
	Status   Status // admin lists only; "" = both
}

// validate checks the filter; the error names the query parameter at fault.
func (f Filter) validate() error {
	if f.Category != "" && !KnownCategory(f.Category) {
		return errCategory
	}
	if utf8.RuneCountInString(f.Query) > QueryMaxLen || !utf8.ValidString(f.Query) {
		return errs.Field(errs.InvalidInput, "q", "搜索词最多 "+strconv.Itoa(QueryMaxLen)+" 个字")
	}
	if f.Status != "" && !f.Status.valid() {
		return errs.Field(errs.InvalidInput, "status", "状态须为 draft（草稿）或 published（已发布）")
	}
	return nil
}

// likePattern is a LIKE pattern for q anywhere, with '!' as the escape character.
func likePattern(q string) string {
	if q == "" {
		return ""
	}
	r := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")
	return "%" + r.Replace(q) + "%"
}

var errNotFound = errs.New(errs.NotFound, "未找到这篇政策解读")

var errRevisionNotFound = errs.New(errs.NotFound, "这篇政策解读没有这个版本")

var versionPattern = regexp.MustCompile(`^[1-9][0-9]{0,17}$`)

// ParseVersion reads a revision number from a path: a positive integer in plain decimal (no
// sign, no leading zero, at most 18 digits).
func ParseVersion(s string) (int64, error) {
	if !versionPattern.MatchString(s) {
		return 0, errs.Field(errs.InvalidInput, "version", "版本号须为正整数（如 3）")
	}
	return strconv.ParseInt(s, 10, 64)
}
