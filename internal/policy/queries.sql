-- name: article-insert
-- A new explainer starts at version 1; published_at is set when it is created published.
INSERT INTO policy_articles (slug, title, summary, body, category, published, version, published_at,
                             created_at, updated_at, updated_by)
VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)

-- name: article-update
-- An edit replaces the content and status; the caller has locked the row and computed version
-- and published_at (kept once set, so it records the first publication).
UPDATE policy_articles
SET title = ?, summary = ?, body = ?, category = ?, published = ?, version = ?, published_at = ?,
    updated_at = ?, updated_by = ?
WHERE id = ?

-- name: revision-insert
-- Every saved version is kept for history and review.
INSERT INTO policy_article_revisions (article_id, version, title, summary, body, category, edited_by, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)

-- name: article-insert-published
-- An explainer published at version 1 by no one (the demo seed's), unless its slug is there.
INSERT INTO policy_articles
(slug, title, summary, body, category, published, version, published_at, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, 1, 1, ?, ?, ?) ON DUPLICATE KEY UPDATE id = id

-- name: revision-insert-first
-- Its first revision, edited by no one.
INSERT INTO policy_article_revisions
(article_id, version, title, summary, body, category, created_at) VALUES (?, 1, ?, ?, ?, ?, ?)

-- name: article-by-slug
-- One explainer, drafts included; the public side checks `published` itself.
SELECT id, slug, title, summary, body, category, published, version, published_at, created_at, updated_at
FROM policy_articles WHERE slug = ?

-- name: article-by-id
SELECT id, slug, title, summary, body, category, published, version, published_at, created_at, updated_at
FROM policy_articles WHERE id = ?

-- name: article-lock
-- An edit reads the current row under a lock, so two edits cannot both build on the same version.
SELECT id, slug, title, summary, body, category, published, version, published_at, created_at, updated_at
FROM policy_articles WHERE slug = ? FOR UPDATE

-- name: revisions-of-article
-- The history shown in the console, newest first, capped so a much-edited article stays light.
SELECT version, title, edited_by, created_at
FROM policy_article_revisions WHERE article_id = ?
ORDER BY version DESC LIMIT 100

-- name: articles-count
-- Counts a filtered list. Each filter is off when its first argument is empty (or -1 for
-- published); q is a LIKE pattern escaped with '!'.
SELECT COUNT(*) FROM policy_articles
WHERE (? = -1 OR published = ?)
  AND (? = '' OR category = ?)
  AND (? = '' OR title LIKE ? ESCAPE '!' OR summary LIKE ? ESCAPE '!' OR body LIKE ? ESCAPE '!')

-- name: articles-page
-- One page of a filtered list (same filters as articles-count), newest edit first, without bodies.
SELECT id, slug, title, summary, category, published, version, published_at, created_at, updated_at
FROM policy_articles
WHERE (? = -1 OR published = ?)
  AND (? = '' OR category = ?)
  AND (? = '' OR title LIKE ? ESCAPE '!' OR summary LIKE ? ESCAPE '!' OR body LIKE ? ESCAPE '!')
ORDER BY updated_at DESC, slug
LIMIT ? OFFSET ?

-- name: revision-by-slug-version
-- One saved version of an article, full text. The LEFT JOIN tells an unknown article (no row)
-- from an unknown version (a row whose version is NULL).
SELECT a.slug, r.version, r.title, r.summary, r.body, r.category, r.edited_by, r.created_at
FROM policy_articles a
LEFT JOIN policy_article_revisions r ON r.article_id = a.id AND r.version = ?
WHERE a.slug = ?
