-- name: staff-insert
-- Create a staff user; the username is unique.
INSERT INTO staff_users (username, display_name, password_hash, role, village_code, password_changed_at, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)

-- name: staff-by-username
-- Login looks the user up by name.
SELECT id, username, display_name, password_hash, role, village_code, disabled, token_version,
       failed_logins, locked_until, created_at
FROM staff_users WHERE username = ?

-- name: staff-by-id
SELECT id, username, display_name, password_hash, role, village_code, disabled, token_version,
       failed_logins, locked_until, created_at
FROM staff_users WHERE id = ?

-- name: staff-login-failed
-- Count a failed login and lock the account once the limit is reached. locked_until is set
-- first: MySQL evaluates SET left to right with the values already assigned.
UPDATE staff_users
SET locked_until = CASE WHEN failed_logins + 1 >= ? THEN ? ELSE locked_until END,
    failed_logins = failed_logins + 1,
    updated_at = ?
WHERE id = ?

-- name: staff-login-ok
-- A successful login clears the failure count.
UPDATE staff_users SET failed_logins = 0, locked_until = NULL, updated_at = ? WHERE id = ?

-- name: refresh-insert
INSERT INTO refresh_tokens (token_hash, subject_kind, subject_id, token_version, expires_at, created_at)
VALUES (?, ?, ?, ?, ?, ?)

-- name: refresh-take
-- Refresh tokens are single-use: revoke it and read it in one transaction.
SELECT id, subject_kind, subject_id, token_version, expires_at, revoked_at
FROM refresh_tokens WHERE token_hash = ? FOR UPDATE

-- name: refresh-revoke
UPDATE refresh_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL

-- name: refresh-revoke-subject
-- Logout revokes every refresh token of the subject.
UPDATE refresh_tokens SET revoked_at = ? WHERE subject_kind = ? AND subject_id = ? AND revoked_at IS NULL
