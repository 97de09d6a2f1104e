-- name: event-insert
INSERT INTO events (title, kind, place, starts_at, ends_at, employer_credit_code, scene, created_by, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: event-village-insert
INSERT INTO event_villages (event_id, village_code) VALUES (?, ?)

-- name: event-get
SELECT id, title, kind, place, starts_at, ends_at, employer_credit_code, scene, created_by, created_at FROM events WHERE id = ?

-- name: event-by-scene
-- The check-in's one read of the event: the unique key on scene.
SELECT id, title, place, starts_at, ends_at FROM events WHERE scene = ?

-- name: event-villages
SELECT village_code FROM event_villages WHERE event_id = ? ORDER BY village_code

-- name: event-villages-of
-- The villages of a page of events.
SELECT event_id, village_code FROM event_villages WHERE event_id IN (?) ORDER BY event_id, village_code

-- name: event-in-village
SELECT 1 FROM event_villages WHERE event_id = ? AND village_code = ?

-- name: events-count
SELECT COUNT(*) FROM events

-- name: events-page
SELECT id, title, kind, place, starts_at, ends_at, employer_credit_code, scene, created_by, created_at
FROM events ORDER BY starts_at DESC, id DESC LIMIT ? OFFSET ?

-- name: events-count-village
SELECT COUNT(*) FROM event_villages WHERE village_code = ?

-- name: events-page-village
SELECT e.id, e.title, e.kind, e.place, e.starts_at, e.ends_at, e.employer_credit_code, e.scene, e.created_by, e.created_at
FROM event_villages ev JOIN events e ON e.id = ev.event_id
WHERE ev.village_code = ? ORDER BY e.starts_at DESC, e.id DESC LIMIT ? OFFSET ?

-- name: events-starting-between
-- The events of a month, for the bulletin.
SELECT id, title, kind, place, starts_at, ends_at, employer_credit_code, scene, created_by, created_at
FROM events WHERE starts_at >= ? AND starts_at < ? ORDER BY starts_at, id

-- name: code-get
SELECT content_type, image FROM event_codes WHERE event_id = ?

-- name: code-insert
-- A code fetched twice at once (two instances) keeps the first.
INSERT INTO event_codes (event_id, content_type, image, fetched_at) VALUES (?, ?, ?, ?)
ON DUPLICATE KEY UPDATE event_id = event_id

-- name: checkin-get
SELECT checked_in_at FROM event_checkins WHERE event_id = ? AND account_id = ?

-- name: checkin-insert
INSERT INTO event_checkins (event_id, account_id, checked_in_at) VALUES (?, ?, ?)

-- name: checkins-of-event
-- Who checked in, with the roster person the account is linked to (if any).
SELECT c.account_id, c.checked_in_at, r.id AS resident_id, r.village_code, r.gender, r.birth_date
FROM event_checkins c
JOIN resident_accounts a ON a.id = c.account_id
LEFT JOIN residents r ON r.id = a.resident_id
WHERE c.event_id = ?

-- name: checkins-of-accounts
-- Every check-in of some accounts, for the latest-check-in-gets-the-credit rule.
SELECT event_id, account_id, checked_in_at FROM event_checkins WHERE account_id IN (?)

-- name: registrations-of-accounts
SELECT account_id, created_at FROM registrations WHERE account_id IN (?) AND created_at >= ?

-- name: enrollments-of-residents
SELECT resident_id, enrolled_on FROM enrollments WHERE resident_id IN (?) AND enrolled_on >= ?

-- name: village-names
SELECT code, name FROM villages
