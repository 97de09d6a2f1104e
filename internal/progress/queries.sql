-- name: plan-current
-- The newest plan is the current one.
SELECT id, code, title, document, base_year, quota FROM plans ORDER BY id DESC LIMIT 1

-- name: plan-baselines
-- The plan's village rows in the annex's order.
SELECT t.village_code, v.name, t.population_16_59, t.enrolled_baseline,
       t.unenrolled_baseline, t.expansion_target
FROM plan_targets t JOIN villages v ON v.code = t.village_code WHERE t.plan_id = ? ORDER BY v.sort_order, v.code

-- name: task-year-latest
-- The latest year up to a given one that has tasks (a plan's last milestone stays in force).
SELECT MAX(year) FROM plan_tasks WHERE plan_id = ? AND year <= ?

-- name: task-year-first
SELECT MIN(year) FROM plan_tasks WHERE plan_id = ?

-- name: tasks-of-year
SELECT village_code, task FROM plan_tasks WHERE plan_id = ? AND year = ?

-- name: milestone-of-year
SELECT ratio FROM plan_milestones WHERE plan_id = ? AND year = ?

-- name: enrolled-all
-- New enrollments per village: internal/enrollment's running totals, one row a village.
SELECT village_code, enrolled AS n FROM enrollment_totals

-- name: enrolled-until
-- Up to a day: the running total less the days after it, in one statement (one read view).
-- The days after are a range of ix_enrollment_daily_day, empty when the day is today.
SELECT village_code, SUM(n) AS n FROM (
    SELECT village_code, enrolled AS n FROM enrollment_totals
    UNION ALL
    SELECT village_code, -enrolled AS n FROM enrollment_daily WHERE enrolled_on > ?
) t GROUP BY village_code ORDER BY NULL

-- name: enrolled-since
-- The next two bound the days: a range of ix_enrollment_daily_day (enrolled_on, village_code,
-- enrolled), read from the index alone. ORDER BY NULL: no sort of the groups (a map is built).
SELECT village_code, SUM(enrolled) AS n FROM enrollment_daily WHERE enrolled_on >= ? GROUP BY village_code ORDER BY NULL

-- name: enrolled-between
SELECT village_code, SUM(enrolled) AS n FROM enrollment_daily WHERE enrolled_on >= ? AND enrolled_on <= ? GROUP BY village_code ORDER BY NULL

-- name: target-set
UPDATE plan_targets SET expansion_target = ? WHERE plan_id = ? AND village_code = ?

-- name: task-set
INSERT INTO plan_tasks (plan_id, village_code, year, task) VALUES (?, ?, ?, ?)
ON DUPLICATE KEY UPDATE task = ?

-- name: milestone-set
INSERT INTO plan_milestones (plan_id, year, ratio) VALUES (?, ?, ?)
ON DUPLICATE KEY UPDATE ratio = ?

-- name: plan-set-quota
UPDATE plans SET quota = ? WHERE id = ?

-- name: monthly-freeze
-- A month's bulletin is frozen once, after the month ends; a duplicate means another instance
-- froze it first.
INSERT INTO monthly_reports (plan_id, month, body, generated_at) VALUES (?, ?, ?, ?)

-- name: monthly-frozen
SELECT body FROM monthly_reports WHERE plan_id = ? AND month = ?

-- name: monthly-frozen-at
-- When a stored bulletin was stored: a bulletin stored before its reasons section existed gets
-- the section as it stood then (reasons.go).
SELECT generated_at FROM monthly_reports WHERE plan_id = ? AND month = ?

-- A plan as adopted on paper (adopt.go), each row written where missing.

-- name: plan-insert-adopted
INSERT INTO plans (code, title, document, base_year, quota, created_at)
VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE id = id

-- name: plan-id-of-code
SELECT id FROM plans WHERE code = ?

-- name: milestone-insert-adopted
INSERT INTO plan_milestones (plan_id, year, ratio)
VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE plan_id = plan_id

-- name: target-insert-adopted
INSERT INTO plan_targets
(plan_id, village_code, population_16_59, enrolled_baseline, unenrolled_baseline, expansion_target)
VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE plan_id = plan_id

-- name: tasks-insert-adopted
-- A village's tasks of the base year and the years after it; expanded to one tuple per year.
INSERT INTO plan_tasks (plan_id, village_code, year, task)
VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE plan_id = plan_id
