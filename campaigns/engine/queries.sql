-- The engine's reads and locks. Its writes of campaign_runs and deliveries go through the
-- campaigns package (campaigns/outbox.go), their owner; those of subscription_consents through
-- internal/account. campaign-lock carries no comment: a test finds it waiting in PROCESSLIST
-- by its first words.

-- name: villages
SELECT code, name FROM villages

-- name: campaigns-due
SELECT id FROM campaigns WHERE status = 'scheduled' AND next_run_at <= ? ORDER BY next_run_at LIMIT 20

-- name: runs-snapshotting
SELECT id, campaign_id, snapshot_cursor, started_at FROM campaign_runs WHERE status = 'snapshotting'

-- name: residents-batch-bound
-- The snapshot's next batch by keyset: the id of the last of the next n residents past the
-- cursor (NULL past the end). Never a range up to MAX(id): with AUTO_RANDOM or
-- SHARD_ROW_ID_BITS on TiDB the ids are sparse over 2^63 and ranges would never end.
SELECT MAX(b.id) FROM (SELECT id FROM residents WHERE id > ? ORDER BY id LIMIT ?) b

-- name: runs-dispatching
-- The runs to feed: dispatching, of a running campaign.
SELECT cr.id, cr.campaign_id, cr.snapshot_cursor, cr.started_at FROM campaign_runs cr
JOIN campaigns c ON c.id = cr.campaign_id WHERE cr.status = 'dispatching' AND c.status = 'running'

-- name: deliveries-to-feed
-- A run's unfed deliveries past the last id fed: a range of ix_deliveries_run_feed.
SELECT id FROM deliveries WHERE run_id = ? AND status = 'queued' AND enqueued_at IS NULL AND id > ?
ORDER BY id LIMIT ?

-- name: deliveries-stuck
-- Still in sending past their lease.
SELECT id, campaign_id, village_code FROM deliveries WHERE status = 'sending' AND lease_until < ? LIMIT 1000

-- name: deliveries-queued-of-cancelled
SELECT d.campaign_id, d.village_code, d.id FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id
WHERE c.status = 'cancelled' AND d.status = 'queued' LIMIT 5000

-- name: deliveries-to-refeed
-- A dispatching run's deliveries fed before a time but still queued, and due, oldest fed
-- first: a range of ix_deliveries_run_feed.
SELECT id FROM deliveries WHERE run_id = ? AND status = 'queued' AND enqueued_at < ?
AND (not_before IS NULL OR not_before <= ?) ORDER BY enqueued_at LIMIT ?

-- name: runs-done
-- Dispatching runs with nothing queued or in flight.
SELECT cr.id, cr.campaign_id FROM campaign_runs cr WHERE cr.status = 'dispatching'
AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.run_id = cr.id AND d.status IN ('queued', 'sending'))

-- name: campaign-lock
SELECT status, next_run_at FROM campaigns WHERE id = ? FOR UPDATE

-- name: run-pending
SELECT COUNT(*) FROM deliveries WHERE run_id = ? AND status IN ('queued', 'sending')

-- name: campaign-status-locked
-- A worker's step reads its campaigns' status under their rows' lock (stepTx). An exclusive
-- lock, not a shared one: TiDB refuses LOCK IN SHARE MODE and FOR SHARE (error 1235) unless
-- tidb_enable_noop_functions is on, and then it takes no lock at all; MariaDB has no FOR SHARE.
-- See docs/SCALING.md.
SELECT status FROM campaigns WHERE id = ? FOR UPDATE

-- name: campaign-lock-move
-- A delivery's move and its count, under the campaign's row lock (moveCounted).
SELECT id FROM campaigns WHERE id = ? FOR UPDATE

-- name: deliveries-load
-- A batch of deliveries with what a worker needs about their residents.
SELECT d.id, d.campaign_id, d.run_id, d.resident_id, d.village_code, d.status, d.attempts, d.not_before,
    r.name, r.gender, r.birth_date, r.employed, r.land_expropriated, r.status AS rstatus, r.opted_out, r.last_visited_at,
    r.phone_enc, r.pii_key_id, a.id AS account_id, a.openid
FROM deliveries d JOIN residents r ON r.id = d.resident_id
LEFT JOIN resident_accounts a ON a.resident_id = r.id AND a.disabled = 0
WHERE d.id IN (?)

-- name: deliveries-lock-queued
-- The ones of a batch still queued, locked for the move that follows.
SELECT id FROM deliveries WHERE id IN (?) AND status = 'queued' ORDER BY id FOR UPDATE

-- name: deliveries-lock-sending
SELECT id FROM deliveries WHERE id IN (?) AND status = 'sending' ORDER BY id FOR UPDATE

-- name: residents-lock
-- A batch's claims lock their residents (frequency cap), in id order.
SELECT id FROM residents WHERE id IN (?) ORDER BY id FOR UPDATE

-- name: residents-recent-sends
-- The frequency cap of a batch: each resident's deliveries sent since a time, or in flight.
SELECT resident_id, COUNT(*) AS n FROM deliveries WHERE ((status = 'sent' AND sent_at >= ?) OR status = 'sending')
AND resident_id IN (?) GROUP BY resident_id

-- name: residents-reached
-- How many deliveries of the campaign reached each resident (this batch's included).
SELECT resident_id, COUNT(*) AS n FROM deliveries WHERE campaign_id = ? AND status = 'sent'
AND resident_id IN (?) GROUP BY resident_id

-- name: residents-reminders-many
-- The reminders each resident was sent, visit tasks aside.
SELECT resident_id, COUNT(*) AS n FROM deliveries WHERE status = 'sent' AND channel <> 'visit_task'
AND resident_id IN (?) GROUP BY resident_id

-- name: lease-take
-- Takes or renews a lease (engine_leases, lease.go): one row changed when this instance holds
-- it now; term always moves, so a renewal in the same microsecond still changes the row.
UPDATE engine_leases SET holder = ?, lease_until = ?, term = term + 1
WHERE name = ? AND (holder = ? OR holder IS NULL OR lease_until IS NULL OR lease_until < ?)

-- name: lease-release
UPDATE engine_leases SET holder = NULL, lease_until = NULL, term = term + 1 WHERE name = ? AND holder = ?
