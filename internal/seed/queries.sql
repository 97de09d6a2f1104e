-- The demo's own statements. Rows that the services write in production are written here as
-- those services leave them; what a service can write itself goes through it instead.

-- name: village-insert
INSERT INTO villages (code, name, town, sort_order, created_at)
VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE code = code

-- name: plan-insert
INSERT INTO plans (code, title, document, base_year, quota, created_at)
VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE id = id

-- name: plan-id
SELECT id FROM plans WHERE code = ?

-- name: milestone-insert
INSERT INTO plan_milestones (plan_id, year, ratio)
VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE plan_id = plan_id

-- name: target-insert
INSERT INTO plan_targets
(plan_id, village_code, population_16_59, enrolled_baseline, unenrolled_baseline, expansion_target)
VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE plan_id = plan_id

-- name: tasks-insert
-- A village's tasks of the base year and the next.
INSERT INTO plan_tasks (plan_id, village_code, year, task)
VALUES (?, ?, ?, ?), (?, ?, ?, ?) ON DUPLICATE KEY UPDATE plan_id = plan_id

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
