-- name: enrollments-lock
-- Which people of a batch already count, locked until the batch commits; the IN list is
-- expanded to the batch.
SELECT resident_id FROM enrollments WHERE resident_id IN (?) FOR UPDATE

-- name: enrollment-insert
-- Expanded to one tuple per new enrollment of a batch; a person counts once (unique
-- resident_id), so a concurrent count of one of them fails the statement as a whole.
INSERT INTO enrollments (resident_id, village_code, scheme, source, source_id, enrolled_on, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)

-- name: daily-add
-- Adds a batch to the per-village daily totals; expanded to one tuple per village and day.
INSERT INTO enrollment_daily (village_code, enrolled_on, enrolled) VALUES (?, ?, ?)
ON DUPLICATE KEY UPDATE enrolled = enrolled + VALUES(enrolled)

-- name: totals-add
-- Adds a batch to the per-village running totals; expanded to one tuple per village.
INSERT INTO enrollment_totals (village_code, enrolled) VALUES (?, ?)
ON DUPLICATE KEY UPDATE enrolled = enrolled + VALUES(enrolled)

-- name: deliveries-reaching
-- The campaign deliveries sent to a batch's people within the widest attribution window of the
-- batch, latest first for each person; the IN list is expanded to the batch.
SELECT d.id, d.resident_id, d.campaign_id, COALESCE(d.channel, '') AS channel, d.village_code,
       d.sent_at, r.gender, r.birth_date
FROM deliveries d JOIN residents r ON r.id = d.resident_id
WHERE d.resident_id IN (?) AND d.status = 'sent' AND d.sent_at >= ? AND d.sent_at < ?
ORDER BY d.resident_id, d.sent_at DESC, d.id DESC

-- name: conversions-insert
-- Expanded to one tuple per credited enrollment. A person converts once: an earlier
-- conversion stays.
INSERT INTO conversions (resident_id, delivery_id, campaign_id, channel, village_code, age_band, gender, converted_on, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE resident_id = resident_id

-- name: enrollment-of-source
SELECT id, village_code, enrolled_on FROM enrollments
WHERE resident_id = ? AND source = ? AND source_id = ? FOR UPDATE

-- name: enrollment-delete
DELETE FROM enrollments WHERE id = ?

-- name: daily-bump
-- Moves one village's daily total by a delta (-1 when an enrollment is revoked).
INSERT INTO enrollment_daily (village_code, enrolled_on, enrolled) VALUES (?, ?, ?)
ON DUPLICATE KEY UPDATE enrolled = enrolled + ?

-- name: totals-bump
-- Moves one village's running total by a delta (-1 when an enrollment is revoked).
INSERT INTO enrollment_totals (village_code, enrolled) VALUES (?, ?)
ON DUPLICATE KEY UPDATE enrolled = enrolled + ?
