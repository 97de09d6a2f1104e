-- The campaigns package owns the writes of campaigns, campaign_runs and deliveries (the
-- engine's moves of runs and deliveries go through outbox.go). A query with a (TRUE) takes a
-- segment's conditions there at run time (see withSegment); as written they prepare at start-up.

-- name: campaign-insert
INSERT INTO campaigns (name, status, spec, start_at, end_at, repeat_every_days, created_by, created_at, updated_at)
VALUES (?, 'draft', ?, ?, ?, ?, ?, ?, ?)

-- name: campaign-get
SELECT id, status, spec, next_run_at, created_by, created_at, updated_at FROM campaigns WHERE id = ?

-- name: campaign-get-for-update
SELECT id, status, spec, next_run_at, created_by, created_at, updated_at FROM campaigns WHERE id = ? FOR UPDATE

-- name: campaign-count
SELECT COUNT(*) FROM campaigns WHERE 1=1

-- name: campaign-count-by-status
SELECT COUNT(*) FROM campaigns WHERE status = ?

-- name: campaign-list
SELECT id, status, spec, next_run_at, created_by, created_at, updated_at FROM campaigns WHERE 1=1
ORDER BY id DESC LIMIT ? OFFSET ?

-- name: campaign-list-by-status
SELECT id, status, spec, next_run_at, created_by, created_at, updated_at FROM campaigns WHERE status = ?
ORDER BY id DESC LIMIT ? OFFSET ?

-- name: campaign-move
-- The one write of campaigns.status (Move): from the status the caller saw, or nothing. By the
-- primary key: through the (status, next_run_at) index two racing moves deadlock.
UPDATE campaigns FORCE INDEX (PRIMARY) SET status = ?, next_run_at = IF(?, ?, next_run_at),
    updated_at = ? WHERE id = ? AND status = ?

-- name: campaign-preview
-- The audience of a segment today per village: n inside the target group (its birth-date
-- range), all_ at any age. The segment's conditions replace the TRUE of the WHERE.
SELECT r.village_code, COALESCE(SUM(r.birth_date BETWEEN ? AND ?), 0) AS n, COUNT(*) AS all_
FROM residents r LEFT JOIN visits lv ON lv.id = r.last_visit_id
WHERE (TRUE) GROUP BY r.village_code

-- name: runs-active-count
SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ? AND status IN ('snapshotting', 'dispatching')

-- name: runs-count
SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ?

-- name: run-insert
INSERT INTO campaign_runs (campaign_id, run_no, status, started_at) VALUES (?, ?, 'snapshotting', ?)

-- name: run-lease
-- Takes or renews an instance's lease on a run, for snapshotting or feeding.
UPDATE campaign_runs SET lease_owner = ?, lease_until = ?
WHERE id = ? AND (lease_until IS NULL OR lease_until < ? OR lease_owner = ?)

-- name: run-snapshot-deliveries
-- One batch of a run's snapshot: the segment's people of one resident-id range, queued.
-- The segment's conditions replace the last TRUE.
INSERT INTO deliveries (campaign_id, run_id, resident_id, village_code, status, created_at, updated_at)
SELECT ?, ?, r.id, r.village_code, 'queued', ?, ? FROM residents r LEFT JOIN visits lv ON lv.id = r.last_visit_id
WHERE r.id > ? AND r.id <= ? AND (TRUE)

-- name: run-snapshot-by-village
SELECT village_code, COUNT(*) AS n FROM deliveries
WHERE campaign_id = ? AND run_id = ? AND resident_id > ? AND resident_id <= ? GROUP BY village_code

-- name: run-snapshot-advance
-- The batch counts only if the run is still being snapshotted from this cursor.
UPDATE campaign_runs SET snapshot_cursor = ?, targeted = targeted + ?
WHERE id = ? AND snapshot_cursor = ? AND status = 'snapshotting'

-- name: run-dispatching
UPDATE campaign_runs SET status = 'dispatching', snapshot_done_at = ? WHERE id = ? AND status = 'snapshotting'

-- name: run-complete
UPDATE campaign_runs SET status = 'completed', completed_at = ? WHERE id = ? AND status = 'dispatching'

-- name: runs-cancel
-- A cancel ends the campaign's runs under way.
UPDATE campaign_runs SET status = 'cancelled', completed_at = ?
WHERE campaign_id = ? AND status IN ('snapshotting', 'dispatching')

-- name: runs-cancel-of-cancelled
-- The reconciler ends the runs still under way of every cancelled campaign.
UPDATE campaign_runs cr JOIN campaigns c ON c.id = cr.campaign_id SET cr.status = 'cancelled', cr.completed_at = ?
WHERE c.status = 'cancelled' AND cr.status IN ('snapshotting', 'dispatching')

-- name: runs-reopen
-- A retry of the failed ones reopens the completed runs that have queued deliveries again.
UPDATE campaign_runs SET status = 'dispatching', completed_at = NULL
WHERE campaign_id = ? AND status = 'completed' AND id IN (SELECT run_id FROM deliveries WHERE campaign_id = ? AND status = 'queued')

-- name: deliveries-enqueued
-- Stamps the deliveries put on the stream (the list of ids is widened to the batch).
UPDATE deliveries SET enqueued_at = ? WHERE id IN (?)

-- name: deliveries-cancel-queued
UPDATE deliveries SET status = 'skipped', skip_reason = 'cancelled', lease_until = NULL, updated_at = ?
WHERE campaign_id = ? AND status = 'queued'

-- name: deliveries-cancelled-by-village
SELECT village_code, COUNT(*) AS n FROM deliveries
WHERE campaign_id = ? AND status = 'skipped' AND skip_reason = 'cancelled' GROUP BY village_code

-- name: deliveries-requeue-failed
-- Retry the failed ones: the list is widened to the statuses retried (failed, and unknown when asked).
UPDATE deliveries SET status = 'queued', not_before = NULL, enqueued_at = NULL, attempts = 0,
    error_code = NULL, updated_at = ? WHERE campaign_id = ? AND status IN (?)

-- name: delivery-lease-expired
-- Still in sending past its lease: the provider may or may not have it, so it is not resent.
UPDATE deliveries SET status = 'unknown', error_code = 'lease_expired', lease_until = NULL, updated_at = ?
WHERE id = ? AND status = 'sending' AND lease_until < ?

-- name: delivery-requeue
-- Back in the queue after a transient failure, until its backoff ends.
UPDATE deliveries SET status = 'queued', not_before = ?, lease_until = NULL, error_code = ?, updated_at = ?
WHERE id = ? AND status = 'sending'

-- name: delivery-finish
UPDATE deliveries SET status = ?, skip_reason = NULLIF(?, ''), error_code = NULLIF(?, ''),
    channel = COALESCE(NULLIF(?, ''), channel), lease_until = NULL, updated_at = ? WHERE id = ? AND status = ?

-- The demo seed's campaigns, written as the engine would have left them (backfill.go).

-- name: campaign-backdate
-- The campaign rows carry the campaign's own times, not the seeding's.
UPDATE campaigns SET created_at = ?, updated_at = ?, created_by = ? WHERE id = ?

-- name: run-insert-past
INSERT INTO campaign_runs (campaign_id, run_no, status, snapshot_cursor, targeted, started_at, snapshot_done_at, completed_at)
VALUES (?, 1, ?, ?, ?, ?, ?, ?)

-- name: deliveries-insert-past
-- Expanded to one tuple per delivery of a chunk.
INSERT INTO deliveries (campaign_id, run_id, resident_id, village_code, status, channel,
    attempts, enqueued_at, sent_at, created_at, updated_at, not_before) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)

-- name: deliveries-log-ids
-- What the log channel leaves on a sent delivery.
UPDATE deliveries SET provider_msg_id = CONCAT('log-', id) WHERE campaign_id = ? AND status = 'sent'

-- name: deliveries-task-ids
-- What the visit_task channel leaves on a sent delivery: the ID of the person's task.
UPDATE deliveries d JOIN visit_tasks t ON t.open_slot = d.resident_id AND t.campaign_id = d.campaign_id
SET d.provider_msg_id = CONCAT('task-', t.id) WHERE d.campaign_id = ? AND d.status = 'sent'

-- The engine's batched moves (outbox_batch.go). A list written `/*each*/?` is widened to the
-- batch, each list to the same length, as ExpandIn widens `IN (?)`.

-- name: deliveries-claim
-- Queued deliveries the caller has locked, to sending.
UPDATE deliveries SET status = 'sending', attempts = attempts + 1, lease_until = ?, updated_at = ?
WHERE id IN (/*each*/?) AND status = 'queued'

-- name: deliveries-skip-queued
UPDATE deliveries SET status = 'skipped', skip_reason = ?, updated_at = ? WHERE id IN (/*each*/?) AND status = 'queued'

-- name: deliveries-sent
-- Each row's channel and provider message id are picked by its place in the id list.
UPDATE deliveries SET status = 'sent', channel = ELT(FIELD(id, /*each*/?), /*each*/?),
    provider_msg_id = ELT(FIELD(id, /*each*/?), /*each*/?), sent_at = ?, lease_until = NULL, updated_at = ?
WHERE id IN (/*each*/?) AND status = 'sending'

-- name: deliveries-wait
UPDATE deliveries SET not_before = ?, error_code = NULL, updated_at = ? WHERE id IN (/*each*/?) AND status = 'queued'
