package policy

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/web"
)

//go:embed queries.sql
var queryFS embed.FS

// Queries are the package's named SQL, checked against the server at start-up.
var Queries = database.RegisterQueries("policy", queryFS, "queries.sql")

// InsertPublished publishes an explainer at version 1 with its first revision, created and
// published at now and edited by no one, unless an article of its slug is there already; it
// reports whether it created one. It runs in the caller's transaction (the demo seed's
// explainers) and returns the driver's errors as they are.
func InsertPublished(ctx context.Context, ext sqlx.ExecerContext, a Article, now time.Time) (bool, error) {
	res, err := ext.ExecContext(ctx, Queries.Get("article-insert-published"),
		a.Slug, a.Title, a.Summary, a.Body, a.Category, now, now, now)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return false, nil // already there
	}
	id, err := res.LastInsertId()
	if err != nil {
		return false, err
	}
	if _, err := ext.ExecContext(ctx, Queries.Get("revision-insert-first"),
		id, a.Title, a.Summary, a.Body, a.Category, now); err != nil {
		return false, err
	}
	return true, nil
}

// row is a row of policy_articles (body is empty in lists).
type row struct {
	ID          int64        `db:"id"`
	Slug        string       `db:"slug"`
	Title       string       `db:"title"`
	Summary     string       `db:"summary"`
	Body        string       `db:"body"`
	Category    string       `db:"category"`
	Published   bool         `db:"published"`
	Version     int          `db:"version"`
	PublishedAt sql.NullTime `db:"published_at"`
	CreatedAt   time.Time    `db:"created_at"`
	UpdatedAt   time.Time    `db:"updated_at"`
}

func (r row) status() Status {
	if r.Published {
		return StatusPublished
	}
	return StatusDraft
}

func (r row) summary() Summary {
	return Summary{Slug: r.Slug, Title: r.Title, Summary: r.Summary, Category: r.Category, UpdatedAt: r.UpdatedAt}
}

func (r row) article() Article {
	return Article{Slug: r.Slug, Title: r.Title, Summary: r.Summary, Body: r.Body, Category: r.Category, UpdatedAt: r.UpdatedAt}
}

func (r row) admin() AdminArticle {
	a := AdminArticle{Slug: r.Slug, Title: r.Title, Summary: r.Summary, Body: r.Body, Category: r.Category,
		Status: r.status(), Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.PublishedAt.Valid {
		t := r.PublishedAt.Time
		a.PublishedAt = &t
	}
	return a
}

// getRow reads one article by a named query; errNotFound when there is none.
func getRow(ctx context.Context, q sqlx.QueryerContext, query string, arg any) (row, error) {
	var r row
	err := sqlx.GetContext(ctx, q, &r, Queries.Get(query), arg)
	if errors.Is(err, sql.ErrNoRows) {
		return r, errNotFound
	}
	return r, database.Map(err)
}

// listRows returns one page of the articles f selects and how many it selects in all;
// published is 1 or 0 to select on it, -1 for both.
func listRows(ctx context.Context, q sqlx.QueryerContext, f Filter, published int, page web.Page) ([]row, int, error) {
	like := likePattern(f.Query)
	args := []any{published, published, f.Category, f.Category, like, like, like, like}
	var total int
	if err := sqlx.GetContext(ctx, q, &total, Queries.Get("articles-count"), args...); err != nil {
		return nil, 0, database.Map(err)
	}
	var rows []row
	if err := sqlx.SelectContext(ctx, q, &rows, Queries.Get("articles-page"), append(args, page.Size, page.Offset())...); err != nil {
		return nil, 0, database.Map(err)
	}
	return rows, total, nil
}

// revisions reads an article's history, newest first.
func revisions(ctx context.Context, q sqlx.QueryerContext, articleID int64) ([]Revision, error) {
	var rs []struct {
		Version   int           `db:"version"`
		Title     string        `db:"title"`
		EditedBy  sql.NullInt64 `db:"edited_by"`
		CreatedAt time.Time     `db:"created_at"`
	}
	if err := sqlx.SelectContext(ctx, q, &rs, Queries.Get("revisions-of-article"), articleID); err != nil {
		return nil, database.Map(err)
	}
	out := make([]Revision, len(rs))
	for i, r := range rs {
		out[i] = Revision{Version: r.Version, Title: r.Title, CreatedAt: r.CreatedAt}
		if r.EditedBy.Valid {
			id := r.EditedBy.Int64
			out[i].EditedBy = &id
		}
	}
	return out, nil
}

// revisionText reads one saved version of an article: errNotFound for an unknown article,
// errRevisionNotFound for an unknown version of a known one.
func revisionText(ctx context.Context, q sqlx.QueryerContext, slug string, version int64) (RevisionText, error) {
	var r struct {
		Slug      string         `db:"slug"`
		Version   sql.NullInt64  `db:"version"`
		Title     sql.NullString `db:"title"`
		Summary   sql.NullString `db:"summary"`
		Body      sql.NullString `db:"body"`
		Category  sql.NullString `db:"category"`
		EditedBy  sql.NullInt64  `db:"edited_by"`
		CreatedAt sql.NullTime   `db:"created_at"`
	}
	err := sqlx.GetContext(ctx, q, &r, Queries.Get("revision-by-slug-version"), version, slug)
	if errors.Is(err, sql.ErrNoRows) {
		return RevisionText{}, errNotFound
	}
	if err != nil {
		return RevisionText{}, database.Map(err)
	}
	if !r.Version.Valid {
		return RevisionText{}, errRevisionNotFound
	}
	out := RevisionText{Slug: r.Slug, Version: int(r.Version.Int64), Title: r.Title.String, Summary: r.Summary.String,
		Body: r.Body.String, Category: r.Category.String, CreatedAt: r.CreatedAt.Time}
	if r.EditedBy.Valid {
		id := r.EditedBy.Int64
		out.EditedBy = &id
	}
	return out, nil
}

// adminArticle reads an article with its history.
func adminArticle(ctx context.Context, q sqlx.QueryerContext, query string, arg any) (AdminArticle, error) {
	r, err := getRow(ctx, q, query, arg)
	if err != nil {
		return AdminArticle{}, err
	}
	a := r.admin()
	if a.Revisions, err = revisions(ctx, q, r.ID); err != nil {
		return AdminArticle{}, err
	}
	return a, nil
}

// insertArticle writes a new article and its revision 1 and returns its id; a taken slug is
// errSlugTaken.
func insertArticle(ctx context.Context, tx *sqlx.Tx, slug string, c Content, editor any, now time.Time) (int64, error) {
	published := c.Status == StatusPublished
	var publishedAt any
	if published {
		publishedAt = now
	}
	res, err := tx.ExecContext(ctx, Queries.Get("article-insert"),
		slug, c.Title, c.Summary, c.Body, c.Category, published, publishedAt, now, now, editor)
	if database.IsDuplicate(err) {
		return 0, errSlugTaken
	}
	if err != nil {
		return 0, database.Map(err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, database.Map(err)
	}
	return id, insertRevision(ctx, tx, id, 1, c, editor, now)
}

func insertRevision(ctx context.Context, tx *sqlx.Tx, articleID int64, version int, c Content, editor any, now time.Time) error {
	_, err := tx.ExecContext(ctx, Queries.Get("revision-insert"),
		articleID, version, c.Title, c.Summary, c.Body, c.Category, editor, now)
	return database.Map(err)
}

// codeSlugTaken is the contract's code for a duplicate slug.
var codeSlugTaken = errs.Register("SLUG_TAKEN", 409)

var errSlugTaken = errs.Field(codeSlugTaken, "slug", "该链接名已被其他文章使用，请换一个")
