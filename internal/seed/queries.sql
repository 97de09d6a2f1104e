-- The demo's own statements: the reference data it owns (villages, contribution tiers) and its
-- reads. Every other table of the demo is written through its owner's functions.

-- name: village-insert
INSERT INTO villages (code, name, town, sort_order, created_at)
VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE code = code

-- name: tier-insert
INSERT INTO contribution_tiers (year, amount, subsidy)
VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE year = year

-- name: roster-count
SELECT COUNT(*) FROM residents WHERE source = ?

-- name: staff-usernames-in
-- Which demo accounts exist already; the IN list is expanded by sqlx.In.
SELECT username FROM staff_users WHERE username IN (?)

-- name: drive-busy
-- Anything a drive writes: when there is any, a drive is already in progress.
SELECT (SELECT COUNT(*) FROM enrollments) + (SELECT COUNT(*) FROM visits)
    + (SELECT COUNT(*) FROM registrations) + (SELECT COUNT(*) FROM campaigns)

-- name: drive-people
-- The seeded people still unenrolled, whom the drive works on.
SELECT id, village_code, name, gender, birth_date, employed, land_expropriated,
    phone_enc, id_number_enc, pii_key_id FROM residents WHERE source = ? AND status = ? ORDER BY id

-- name: conversions-count
SELECT COUNT(*) FROM conversions

-- name: staff-ids
SELECT id, username FROM staff_users

-- name: residents-max-id
SELECT COALESCE(MAX(id), 0) FROM residents

-- name: enrollments-of-source
SELECT COUNT(*) FROM enrollments WHERE source = ?
