-- The visit package owns the writes of visit_tasks: a campaign's visit-task channel opens a
-- task through visit.OpenCampaignTask, and a logged visit closes the person's open task.

-- name: task-open-campaign
-- A campaign puts a person on their village volunteers' list. open_slot is the person's ID
-- while the task is open, so a person has at most one open task (a duplicate key says so).
INSERT INTO visit_tasks (resident_id, village_code, source, campaign_id, note, due_on, status, open_slot, created_at)
VALUES (?, ?, 'campaign', ?, ?, ?, 'open', ?, ?)

-- name: task-open-of
SELECT id FROM visit_tasks WHERE open_slot = ?

-- name: task-close
-- A logged visit ends the person's open task.
UPDATE visit_tasks SET status = 'done', open_slot = NULL, visit_id = ?, closed_at = ? WHERE open_slot = ?

-- name: visit-insert
INSERT INTO visits (client_id, resident_id, village_code, volunteer_id, visited_at, outcome, reason, note, follow_up_on, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: residents-lock
-- The people a batch of new visits is about, locked in ID order, as the visits change them.
-- Expanded with sqlx.In.
SELECT id, village_code, status, last_visited_at FROM residents WHERE id IN (?) ORDER BY id FOR UPDATE

-- name: visits-by-client-id
-- The stored visits of a batch's client IDs: replays before the insert, the new rows after.
-- Expanded with sqlx.In.
SELECT id, client_id, resident_id, village_code, volunteer_id, visited_at, outcome, reason, note, follow_up_on, created_at
FROM visits WHERE client_id IN (?)

-- name: task-list-counts
-- The unenrolled people of a village worth a visit today (a follow-up due, an open campaign
-- task, never visited), and how many of them are 16-59 (born between the two first dates).
-- Arguments: earliest, latest birth date, village, today.
SELECT COUNT(*) AS all_, COALESCE(SUM(r.birth_date BETWEEN ? AND ?), 0) AS target
FROM residents r LEFT JOIN visit_tasks t ON t.open_slot = r.id
WHERE r.village_code = ? AND r.status = 'unenrolled'
  AND (r.follow_up_on <= ? OR t.id IS NOT NULL OR r.last_visited_at IS NULL)

-- name: task-list-page
-- One page of the same people, 16-59 only, most urgent first: follow-ups due (priority 1,
-- oldest first), open campaign tasks (2), never visited (3, older people first).
-- Arguments: today, village, today, earliest, latest birth date, limit, offset.
SELECT r.id, r.name, r.gender, r.birth_date, r.phone_enc, r.pii_key_id, r.follow_up_on, r.last_visited_at, t.due_on, t.note,
    CASE WHEN r.follow_up_on <= ? THEN 1 WHEN t.id IS NOT NULL THEN 2 ELSE 3 END AS priority
FROM residents r LEFT JOIN visit_tasks t ON t.open_slot = r.id
WHERE r.village_code = ? AND r.status = 'unenrolled'
  AND (r.follow_up_on <= ? OR t.id IS NOT NULL OR r.last_visited_at IS NULL)
  AND r.birth_date BETWEEN ? AND ?
ORDER BY priority, COALESCE(r.follow_up_on, t.due_on), r.birth_date, r.id LIMIT ? OFFSET ?
