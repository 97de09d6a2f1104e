-- name: key-claim
-- A request claims its (caller, route, key) scope as in flight; a duplicate means an earlier
-- request holds it.
INSERT INTO idempotency_keys (scope_hash, request_hash, state, created_at, expires_at)
VALUES (?, ?, 'in_flight', ?, ?)

-- name: key-by-scope
SELECT id, request_hash, state, response_status, response_body, created_at, expires_at
FROM idempotency_keys WHERE scope_hash = ?

-- name: key-drop-stale
-- An expired key, or one whose request died in flight, is dropped unless it changed since.
DELETE FROM idempotency_keys WHERE id = ? AND state = ?

-- name: key-free
-- A transient answer frees the key, so a retry runs again.
DELETE FROM idempotency_keys WHERE id = ?

-- name: key-done
-- The final answer, kept for replay.
UPDATE idempotency_keys SET state = 'done', response_status = ?, response_body = ? WHERE id = ?

-- name: keys-purge
-- One batch of the purge, through the expires_at index.
DELETE FROM idempotency_keys WHERE expires_at < ? ORDER BY expires_at LIMIT ?
