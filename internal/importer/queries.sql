-- name: import-insert
-- A new import waits in the queue until a worker takes it. An upload (stored_chunks set, its
-- file in import_chunks) waits unclaimed for any instance; a file the command line imports is
-- claimed by that process from the start.
INSERT INTO roster_imports (status, file_name, file_format, file_bytes, created_by, created_at, updated_at, stored_chunks, claimed_by)
VALUES ('queued', ?, ?, ?, ?, ?, ?, ?, ?)

-- name: chunk-insert
INSERT INTO import_chunks (import_id, seq, data) VALUES (?, ?, ?)

-- name: chunk-get
SELECT data FROM import_chunks WHERE import_id = ? AND seq = ?

-- name: chunks-delete
DELETE FROM import_chunks WHERE import_id = ?

-- name: import-claimable
-- The uploads no live instance runs: unclaimed, or their lease ran out; oldest first.
SELECT id FROM roster_imports
WHERE status IN ('queued', 'running') AND stored_chunks IS NOT NULL AND (claimed_by IS NULL OR lease_until < ?)
ORDER BY id LIMIT 5

-- name: import-claim
-- One row changed: this instance now runs the import, until lease_until unless renewed.
UPDATE roster_imports SET claimed_by = ?, lease_until = ?, attempts = attempts + 1
WHERE id = ? AND status IN ('queued', 'running') AND stored_chunks IS NOT NULL AND (claimed_by IS NULL OR lease_until < ?)

-- name: import-claimed
SELECT file_format, stored_chunks, attempts, created_by FROM roster_imports WHERE id = ? AND claimed_by = ?

-- name: import-renew
UPDATE roster_imports SET lease_until = ? WHERE id = ? AND claimed_by = ? AND status IN ('queued', 'running')

-- name: import-release
-- A clean stop mid-import: the next instance may take the import at once.
UPDATE roster_imports SET claimed_by = NULL, lease_until = NULL, updated_at = ? WHERE id = ? AND claimed_by = ?

-- name: import-errors-delete
-- A run taken over starts again: the rows of the run before are reported afresh.
DELETE FROM roster_import_errors WHERE import_id = ?

-- name: import-insert-completed
-- A completed import of the city centre's weekly list (the demo seed's): every row updated a
-- person and showed them insured.
INSERT INTO roster_imports (status, file_name, file_format, file_bytes, rows_total, rows_done,
    rows_failed, rows_created, rows_updated, rows_unchanged, rows_enrolled, created_by, created_at, started_at, finished_at, updated_at)
VALUES ('completed', ?, 'xlsx', ?, ?, ?, 0, 0, ?, 0, ?, ?, ?, ?, ?, ?)

-- name: import-start
-- The claimant starts (or, after a take-over, starts again) the import; rows_total comes from a
-- first pass over the file.
UPDATE roster_imports SET status = 'running', rows_total = ?, started_at = ?, updated_at = ?,
    rows_done = 0, rows_failed = 0, rows_created = 0, rows_updated = 0, rows_unchanged = 0, rows_enrolled = 0
WHERE id = ? AND status IN ('queued', 'running') AND claimed_by = ?

-- name: import-progress
-- After every batch, in the batch's transaction: the running totals.
UPDATE roster_imports SET rows_done = ?, rows_failed = ?, rows_created = ?, rows_updated = ?, rows_unchanged = ?,
    rows_enrolled = ?, updated_at = ?
WHERE id = ?

-- name: import-complete
UPDATE roster_imports SET status = 'completed', rows_total = ?, rows_done = ?, rows_failed = ?, rows_created = ?,
    rows_updated = ?, rows_unchanged = ?, rows_enrolled = ?, finished_at = ?, updated_at = ?, lease_until = NULL
WHERE id = ? AND status = 'running' AND claimed_by = ?

-- name: import-fail
-- The whole import failed (unreadable file, missing column, database error); what the batches
-- before the failure wrote stays.
UPDATE roster_imports SET status = 'failed', error = ?, finished_at = ?, updated_at = ?, lease_until = NULL
WHERE id = ? AND status IN ('queued', 'running') AND (claimed_by IS NULL OR claimed_by = ?)

-- name: import-fail-stale
-- At start-up: command-line imports a stopped process left behind never finish; say so.
-- Uploads (stored_chunks set) are not given up: another instance takes them over.
UPDATE roster_imports SET status = 'failed', error = ?, finished_at = ?, updated_at = ?
WHERE status IN ('queued', 'running') AND updated_at < ? AND stored_chunks IS NULL

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
