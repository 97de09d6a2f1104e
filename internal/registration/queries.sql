-- name: resident-by-id-number
-- The person (roster row) of an ID number that is already on the roster, locked for the registration.
SELECT id, village_code, status, name FROM residents WHERE id_number_bidx = ? FOR UPDATE

-- name: resident-find-by-id-number
-- A registration looks its person up first with a plain (non-locking) read, outside its
-- transaction: what it compares (village, name, status) needs no lock (see findOrAddResident),
-- and a locking read of a missing key would take a gap lock.
SELECT id, village_code, status, name FROM residents WHERE id_number_bidx = ?

-- name: registration-insert
INSERT INTO registrations (account_id, resident_id, active_resident_id, year, name, id_number_enc, phone_enc, pii_key_id,
    village_code, employed, land_expropriated, scheme, channel, register_at, tier, status, privacy_notice_version,
    created_at, updated_at, employer_name, employer_credit_code)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: registration-by-id
SELECT id, account_id, resident_id, year, name, id_number_enc, phone_enc, pii_key_id, village_code, employed,
       land_expropriated, scheme, channel, register_at, tier, status, privacy_notice_version, reject_reason,
       decided_at, created_at, updated_at, employer_name, employer_credit_code
FROM registrations WHERE id = ?

-- name: registration-lock
SELECT id, account_id, resident_id, year, name, id_number_enc, phone_enc, pii_key_id, village_code, employed,
       land_expropriated, scheme, channel, register_at, tier, status, privacy_notice_version, reject_reason,
       decided_at, created_at, updated_at, employer_name, employer_credit_code
FROM registrations WHERE id = ? FOR UPDATE

-- name: registration-decide
-- Confirm or reject: a rejected registration frees the person's slot for the year.
UPDATE registrations SET status = ?, active_resident_id = ?, reject_reason = ?, decided_by = ?, decided_at = ?, updated_at = ?
WHERE id = ?

-- name: resident-village
SELECT village_code FROM residents WHERE id = ?

-- name: has-open-registration
SELECT COUNT(*) FROM registrations WHERE account_id = ? AND year = ? AND status IN ('submitted', 'referred', 'confirmed')

-- name: residents-for-review
-- What the roster says now about the people of a page of open registrations (the review
-- warnings); the IN list is expanded to the page.
SELECT id, source, status, employed, birth_date, phone_enc, phone_bidx, pii_key_id FROM residents WHERE id IN (?)

-- name: open-registration-phones
-- The phones of every registration still waiting for a decision, to find one phone given for
-- several people (ix_registrations_decided serves the status condition).
SELECT id, resident_id, phone_enc, pii_key_id FROM registrations WHERE status IN ('submitted', 'referred')

-- name: export-decided
-- The hand-over to the city centre: registrations confirmed, or referred, in [from, to), with
-- their person. The hand-over names the person as the roster does: a registration of someone on
-- the roster carries the roster's name (compared when it was made), and its phone reaches the
-- roster only when staff accept it, so the roster's name, village and (when it has one) phone
-- are what the centre gets. The caller reads one row over its cap to refuse a larger export.
SELECT g.id, g.account_id, g.resident_id, g.year, g.name, g.id_number_enc, g.phone_enc, g.pii_key_id,
       g.village_code, g.employed, g.land_expropriated, g.scheme, g.channel, g.register_at, g.tier, g.status,
       g.privacy_notice_version, g.reject_reason, g.decided_at, g.created_at, g.updated_at,
       p.name AS person_name, p.village_code AS person_village, p.phone_enc AS person_phone_enc, p.pii_key_id AS person_key_id
FROM registrations g JOIN residents p ON p.id = g.resident_id
WHERE ((g.status = 'confirmed' AND g.decided_at >= ? AND g.decided_at < ?) OR (g.status = 'referred' AND g.created_at >= ? AND g.created_at < ?))
ORDER BY p.village_code, g.id LIMIT ?

-- name: export-decided-village
-- export-decided for one village (the person's).
SELECT g.id, g.account_id, g.resident_id, g.year, g.name, g.id_number_enc, g.phone_enc, g.pii_key_id,
       g.village_code, g.employed, g.land_expropriated, g.scheme, g.channel, g.register_at, g.tier, g.status,
       g.privacy_notice_version, g.reject_reason, g.decided_at, g.created_at, g.updated_at,
       p.name AS person_name, p.village_code AS person_village, p.phone_enc AS person_phone_enc, p.pii_key_id AS person_key_id
FROM registrations g JOIN residents p ON p.id = g.resident_id
WHERE ((g.status = 'confirmed' AND g.decided_at >= ? AND g.decided_at < ?) OR (g.status = 'referred' AND g.created_at >= ? AND g.created_at < ?))
  AND p.village_code = ?
ORDER BY p.village_code, g.id LIMIT ?

-- name: registration-city-answer
-- The city centre's answer to a handed-over registration.
UPDATE registrations SET city_result = ?, city_reason = ?, city_answered_at = ? WHERE id = ?

-- name: registration-ids-of-people
-- The ids of a group commit's registrations, just inserted in its transaction, by their
-- people's open registration of the year (the unique key); the IN list is widened to the batch.
-- Not by consecutive auto-increment ids, which TiDB does not give a multi-row INSERT.
SELECT id, active_resident_id FROM registrations WHERE year = ? AND active_resident_id IN (?)
