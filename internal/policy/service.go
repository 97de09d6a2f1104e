package policy

import (
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/web"
)

// Service serves policy explainers from a Redis cache invalidated on every staff edit.
// MySQL is the truth: when Redis is down, reads go to MySQL and edits still commit, but an
// edit answers 503 if it cannot invalidate the cache (residents would keep seeing old rules).
type Service struct {
	db    *sqlx.DB
	cache *cache
	local *localCache
	audit *audit.Log
	log   *slog.Logger
}

// NewService wires the store, the cache under keyPrefix+"policy:", the audit log and a logger.
// Answers are also kept in process for the current generation, which is re-read from Redis at
// most every LocalGenerationTTL: another instance's edit shows here within that time, this
// instance's own edits at once.
func NewService(db *sqlx.DB, rdb redis.UniversalClient, keyPrefix string, auditLog *audit.Log, log *slog.Logger) *Service {
	return &Service{db: db, cache: &cache{rdb: rdb, prefix: keyPrefix}, local: newLocalCache(LocalGenerationTTL), audit: auditLog, log: log}
}

// PublishedList renders one page of published articles, newest edit first.
func (s *Service) PublishedList(ctx context.Context, f Filter, page web.Page) (Rendered, error) {
	f.Status = ""
	if err := f.validate(); err != nil {
		return Rendered{}, err
	}
	key := func(gen int64) string { return s.cache.listKey(gen, f.Category, f.Query, page.Number, page.Size) }
	return s.cached(ctx, key, func(ctx context.Context) (any, error) {
		rows, total, err := listRows(ctx, s.db, f, 1, page)
		if err != nil {
			return nil, err
		}
		items := make([]Summary, len(rows))
		for i, r := range rows {
			items[i] = r.summary()
		}
		return web.NewList(items, total), nil
	})
}

// Published renders one published article; drafts and unknown slugs are not found.
func (s *Service) Published(ctx context.Context, slug string) (Rendered, error) {
	if !ValidSlug(slug) {
		return Rendered{}, errNotFound
	}
	key := func(gen int64) string { return s.cache.articleKey(gen, slug) }
	return s.cached(ctx, key, func(ctx context.Context) (any, error) {
		r, err := getRow(ctx, s.db, "article-by-slug", slug)
		if err != nil {
			return nil, err
		}
		if !r.Published {
			return nil, errNotFound
		}
		return r.article(), nil
	})
}

// cached answers from Redis when it can, else loads, renders and stores the answer. The
// generation is read before MySQL, so an answer loaded before an edit's commit is stored
// under the old generation, which no reader asks for once the edit has bumped it.
func (s *Service) cached(ctx context.Context, key func(gen int64) string, load func(context.Context) (any, error)) (Rendered, error) {
	k := ""
	gen, err := s.local.generation(ctx, s.cache.generation)
	if err != nil {
		s.log.WarnContext(ctx, "policy cache unavailable, reading MySQL", "err", err)
	} else {
		k = key(gen)
		if r, ok := s.local.get(gen, k); ok {
			return r, nil
		}
		r, hit, err := s.cache.get(ctx, k)
		switch {
		case err != nil:
			s.log.WarnContext(ctx, "policy cache unavailable, reading MySQL", "err", err)
			k = ""
		case hit:
			s.local.put(gen, k, r)
			return r, nil
		}
	}
	v, err := load(ctx)
	if err != nil {
		return Rendered{}, err
	}
	body, err := json.Marshal(v)
	if err != nil {
		return Rendered{}, errs.Internalf("policy: render: %w", err)
	}
	r := render(body)
	if k != "" {
		if err := s.cache.set(ctx, k, r); err != nil {
			s.log.WarnContext(ctx, "policy cache write failed", "err", err)
		} else {
			s.local.put(gen, k, r)
		}
	}
	return r, nil
}

// AdminList returns one page of articles, drafts included, newest edit first, without bodies.
func (s *Service) AdminList(ctx context.Context, f Filter, page web.Page) ([]AdminArticle, int, error) {
	if err := f.validate(); err != nil {
		return nil, 0, err
	}
	published := -1
	switch f.Status {
	case StatusPublished:
		published = 1
	case StatusDraft:
		published = 0
	}
	rows, total, err := listRows(ctx, s.db, f, published, page)
	if err != nil {
		return nil, 0, err
	}
	items := make([]AdminArticle, len(rows))
	for i, r := range rows {
		items[i] = r.admin()
	}
	return items, total, nil
}

// AdminGet returns one article, drafts included, with its revision history.
func (s *Service) AdminGet(ctx context.Context, slug string) (AdminArticle, error) {
	if !ValidSlug(slug) {
		return AdminArticle{}, errNotFound
	}
	return adminArticle(ctx, s.db, "article-by-slug", slug)
}

// Revision returns one saved version of an article, drafts included, with its full text.
func (s *Service) Revision(ctx context.Context, slug string, version int64) (RevisionText, error) {
	if !ValidSlug(slug) {
		return RevisionText{}, errNotFound
	}
	return revisionText(ctx, s.db, slug, version)
}

// Create writes a new article (a draft unless c.Status says published) with its revision 1
// and its audit row, then invalidates the cache.
func (s *Service) Create(ctx context.Context, actor audit.Context, slug string, c Content) (AdminArticle, error) {
	if !ValidSlug(slug) {
		return AdminArticle{}, errs.Field(errs.InvalidInput, "slug", "链接名须为小写字母、数字和单个连字符（如 jumin-yanglao），最长 64 位")
	}
	c = c.normalize()
	if c.Status == "" {
		c.Status = StatusDraft
	}
	if err := c.validate(); err != nil {
		return AdminArticle{}, err
	}
	var out AdminArticle
	err := database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		id, err := insertArticle(ctx, tx, slug, c, editor(actor), database.Now())
		if err != nil {
			return err
		}
		detail := "slug=" + slug + " status=" + string(c.Status)
		if err := s.audit.RecordTx(ctx, tx, actor.Event("policy.create", "policy_article", id, audit.Success, detail)); err != nil {
			return err
		}
		out, err = adminArticle(ctx, tx, "article-by-id", id)
		return err
	})
	if err != nil {
		return AdminArticle{}, err
	}
	return out, s.invalidate(ctx)
}

// Update replaces an article's content and status: it bumps the version, keeps the revision,
// sets published_at on first publication, audits the change (policy.publish or
// policy.unpublish when the status changes, policy.update otherwise) and invalidates the cache.
func (s *Service) Update(ctx context.Context, actor audit.Context, slug string, c Content) (AdminArticle, error) {
	if !ValidSlug(slug) {
		return AdminArticle{}, errNotFound
	}
	c = c.normalize()
	if err := c.validate(); err != nil {
		return AdminArticle{}, err
	}
	var out AdminArticle
	err := database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		cur, err := getRow(ctx, tx, "article-lock", slug)
		if err != nil {
			return err
		}
		now := database.Now()
		published := c.Status == StatusPublished
		publishedAt := cur.PublishedAt
		if published && !publishedAt.Valid {
			publishedAt = sql.NullTime{Time: now, Valid: true}
		}
		version := cur.Version + 1
		who := editor(actor)
		if _, err := tx.ExecContext(ctx, Queries.Get("article-update"), c.Title, c.Summary, c.Body, c.Category,
			published, version, publishedAt, now, who, cur.ID); err != nil {
			return database.Map(err)
		}
		if err := insertRevision(ctx, tx, cur.ID, version, c, who, now); err != nil {
			return err
		}
		action := "policy.update"
		switch {
		case published && !cur.Published:
			action = "policy.publish"
		case !published && cur.Published:
			action = "policy.unpublish"
		}
		detail := "slug=" + slug + " version=" + strconv.Itoa(version)
		if err := s.audit.RecordTx(ctx, tx, actor.Event(action, "policy_article", cur.ID, audit.Success, detail)); err != nil {
			return err
		}
		out, err = adminArticle(ctx, tx, "article-by-id", cur.ID)
		return err
	})
	if err != nil {
		return AdminArticle{}, err
	}
	return out, s.invalidate(ctx)
}

// invalidate bumps the cache generation after a committed edit. It runs even if the client
// has gone, and its failure is a 503: the edit is saved but residents may see old rules.
func (s *Service) invalidate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	gen, err := s.cache.bump(ctx)
	if err != nil {
		e := errs.Wrap(errs.Unavailable, err, "内容已保存，但缓存未能刷新，居民端可能仍显示旧内容，请稍后再保存一次")
		e.RetryAfter = 5 * time.Second
		return e
	}
	s.local.advance(gen)
	return nil
}

// editor is the staff id recorded as the author of a change (NULL for system actors).
func editor(actor audit.Context) any {
	if actor.ActorID == 0 {
		return nil
	}
	return actor.ActorID
}
