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
