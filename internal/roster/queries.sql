-- The roster package owns the writes of residents: every other package changes a person
-- through the functions of internal/roster/store.go, inside its own transaction.

-- name: set-opted-out
UPDATE residents SET opted_out = ?, updated_at = ? WHERE id = ?

-- name: insert-people
-- Expanded to one tuple per person of a batch; the demo seed's roster, with its own source.
INSERT INTO residents (id_number_enc, id_number_bidx, phone_enc, phone_bidx, pii_key_id, name, gender, birth_date,
    village_code, employed, land_expropriated, status, source, created_at, updated_at, employer_name, employer_credit_code)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: update-from-import
-- A person whose row in the file differs from the roster, phone unchanged or not given.
UPDATE residents SET name = ?, village_code = ?, employed = ?, land_expropriated = ?, status = ?,
    status_changed_on = ?, updated_at = ?, employer_name = ?, employer_credit_code = ?
WHERE id = ?

-- name: update-from-import-phone
-- Same, with a new phone: the ID number is sealed again under the active key, so the row's
-- one pii_key_id fits both ciphertexts.
UPDATE residents SET name = ?, village_code = ?, employed = ?, land_expropriated = ?, status = ?,
    status_changed_on = ?, updated_at = ?, employer_name = ?, employer_credit_code = ?, id_number_enc = ?, phone_enc = ?, phone_bidx = ?, pii_key_id = ?
WHERE id = ?

-- name: insert-from-registration
-- A person not on the roster yet registers: add them, unenrolled, from what the ID number says,
-- without a phone (it is set when a staff member confirms the registration).
INSERT INTO residents (id_number_enc, id_number_bidx, pii_key_id, name, gender, birth_date,
    village_code, employed, land_expropriated, status, source, created_at, updated_at, employer_name, employer_credit_code)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'unenrolled', 'registration', ?, ?, ?, ?)

-- name: set-status
-- A confirmed registration makes the person insured in that scheme; a visit's outcome moves an
-- unenrolled person to the status it implies.
UPDATE residents SET status = ?, status_changed_on = ?, updated_at = ? WHERE id = ?

-- name: set-statuses
-- The people of an IN list (expanded to the list) still in one status move to another.
UPDATE residents SET status = ?, status_changed_on = ?, updated_at = ?
WHERE id IN (?) AND status = ?

-- name: fill-phone
-- A confirmed registration gives a person without a phone on the roster the registration's
-- phone. The ID number is sealed again under the active key, so the row's one pii_key_id fits
-- both ciphertexts. A phone already on the roster is never replaced.
UPDATE residents SET phone_enc = ?, phone_bidx = ?, id_number_enc = ?, pii_key_id = ?, updated_at = ?
WHERE id = ? AND phone_enc IS NULL

-- name: unenroll
-- The city refused a registration that had enrolled the person: they are unenrolled again,
-- unless their status changed since.
UPDATE residents SET status = 'unenrolled', status_changed_on = ?, updated_at = ? WHERE id = ? AND status = ?

-- name: record-visit
-- A person's latest visit and the follow-up date it set.
UPDATE residents SET last_visit_id = ?, last_visited_at = ?, follow_up_on = ?, updated_at = ? WHERE id = ?

-- name: set-employer
-- A visit learned a person's employer: they are employed, and the employer replaces the roster's.
UPDATE residents SET employed = 1, employer_name = ?, employer_credit_code = ?, updated_at = ? WHERE id = ?

-- name: village-lock
-- An opt-out locks the person's row and reads their village, to check the caller may see it.
SELECT village_code FROM residents WHERE id = ? FOR UPDATE

-- name: reveal-row
-- The person whose full ID number and phone an admin reveals.
SELECT id, name, gender, birth_date, village_code, status, id_number_enc, phone_enc, pii_key_id
FROM residents r WHERE id = ?
