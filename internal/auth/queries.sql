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

-- name: refresh-insert
-- A login starts a new family; a rotation inserts the successor into the spent token's family.
INSERT INTO refresh_tokens (token_hash, family_id, subject_kind, subject_id, token_version, expires_at, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?)

-- name: refresh-take
-- Refresh tokens are single-use: revoke it and read it in one transaction.
SELECT id, family_id, subject_kind, subject_id, token_version, expires_at, revoked_at, rotated_at
FROM refresh_tokens WHERE token_hash = ? FOR UPDATE

-- name: refresh-rotate
-- A spent token is revoked and marked rotated; presenting it again is a replay.
UPDATE refresh_tokens SET revoked_at = ?, rotated_at = ? WHERE id = ? AND revoked_at IS NULL

-- name: refresh-revoke-family
-- A replayed token revokes every live token of its family.
UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL

-- name: refresh-revoke-subject
-- Logout revokes every refresh token of the subject.
UPDATE refresh_tokens SET revoked_at = ? WHERE subject_kind = ? AND subject_id = ? AND revoked_at IS NULL

-- name: staff-lock
-- An admin's change to a staff account reads it under a lock.
SELECT id, username, display_name, password_hash, role, village_code, disabled, token_version,
       failed_logins, locked_until, created_at
FROM staff_users WHERE id = ? FOR UPDATE

-- name: staff-update-access
-- Role, village or status changed by an admin; every token of the user is revoked.
UPDATE staff_users SET role = ?, village_code = ?, disabled = ?,
    token_version = token_version + 1, updated_at = ? WHERE id = ?

-- name: staff-set-password
-- A password set by an admin unlocks the account and revokes every token of the user.
UPDATE staff_users SET password_hash = ?, password_changed_at = ?, failed_logins = 0,
    locked_until = NULL, token_version = token_version + 1, updated_at = ? WHERE id = ?

-- name: subject-staff
-- What a staff token's subject is now (cached in Redis, invalidated on every change).
SELECT token_version, role, village_code, disabled FROM staff_users WHERE id = ?

-- name: subject-resident
SELECT token_version, 'resident' AS role, NULL AS village_code, disabled FROM resident_accounts WHERE id = ?

-- name: staff-bump-version
-- Revokes every token of a staff user.
UPDATE staff_users SET token_version = token_version + 1 WHERE id = ?
