-- name: check-insert
-- INSERT IGNORE: another instance may record the same key id at the same moment; the caller
-- reads back and compares, so the first value recorded wins.
INSERT IGNORE INTO pii_key_checks (key_id, check_value, created_at) VALUES (?, ?, ?)

-- name: check-of-key
SELECT check_value FROM pii_key_checks WHERE key_id = ?

-- name: checks-all
SELECT key_id, check_value FROM pii_key_checks

-- name: sample-residents
-- One ciphertext written under a key id, to probe a key seen for the first time.
SELECT id, id_number_enc AS ct FROM residents WHERE pii_key_id = ? LIMIT 1

-- name: sample-registrations
SELECT id, id_number_enc AS ct FROM registrations WHERE pii_key_id = ? LIMIT 1
