-- name: import-insert
-- A new import waits in the queue until a worker takes it.
INSERT INTO roster_imports (status, file_name, file_format, file_bytes, created_by, created_at, updated_at)
VALUES ('queued', ?, ?, ?, ?, ?, ?)

-- name: import-insert-completed
-- A completed import of the city centre's weekly list (the demo seed's): every row updated a
-- person and showed them insured.
INSERT INTO roster_imports (status, file_name, file_format, file_bytes, rows_total, rows_done,
    rows_failed, rows_created, rows_updated, rows_unchanged, rows_enrolled, created_by, created_at, started_at, finished_at, updated_at)
VALUES ('completed', ?, 'xlsx', ?, ?, ?, 0, 0, ?, 0, ?, ?, ?, ?, ?, ?)

-- name: import-start
-- A worker takes a queued import; rows_total comes from a first pass over the file.
UPDATE roster_imports SET status = 'running', rows_total = ?, started_at = ?, updated_at = ?
WHERE id = ? AND status = 'queued'

-- name: import-progress
-- After every batch, in the batch's transaction: the running totals.
UPDATE roster_imports SET rows_done = ?, rows_failed = ?, rows_created = ?, rows_updated = ?, rows_unchanged = ?,
    rows_enrolled = ?, updated_at = ?
WHERE id = ?

-- name: import-complete
UPDATE roster_imports SET status = 'completed', rows_total = ?, rows_done = ?, rows_failed = ?, rows_created = ?,
    rows_updated = ?, rows_unchanged = ?, rows_enrolled = ?, finished_at = ?, updated_at = ?
WHERE id = ? AND status = 'running'

-- name: import-fail
-- The whole import failed (unreadable file, missing column, database error); what the batches
-- before the failure wrote stays.
UPDATE roster_imports SET status = 'failed', error = ?, finished_at = ?, updated_at = ?
WHERE id = ? AND status IN ('queued', 'running')

-- name: import-fail-stale
-- At start-up: imports a stopped process left behind never finish; say so.
UPDATE roster_imports SET status = 'failed', error = ?, finished_at = ?, updated_at = ?
WHERE status IN ('queued', 'running') AND updated_at < ?

-- name: import-by-id
SELECT id, status, file_format, rows_total, rows_done, rows_failed, rows_created, rows_updated, rows_unchanged,
       rows_enrolled, error, created_by, created_at, started_at, finished_at, updated_at
FROM roster_imports WHERE id = ?

-- name: import-errors-first
-- What the status answer shows: the first failed rows.
SELECT row_no, field, message FROM roster_import_errors WHERE import_id = ? ORDER BY row_no LIMIT 1000

-- name: import-errors-all
-- The error report: every failed row, in file order.
SELECT row_no, field, message FROM roster_import_errors WHERE import_id = ? ORDER BY row_no

-- name: import-error-insert
-- Expanded to one tuple per failed row of a batch.
INSERT INTO roster_import_errors (import_id, row_no, field, message) VALUES (?, ?, ?, ?)

-- name: import-exists
SELECT COUNT(*) FROM roster_imports WHERE id = ?

-- name: villages-all
-- What the village column may name (code or name), in the town's order for the template notes.
SELECT code, name FROM villages ORDER BY sort_order, code

-- name: local-infile
-- The import loads its rows with LOAD DATA LOCAL INFILE, which the server must allow.
SELECT @@GLOBAL.local_infile
