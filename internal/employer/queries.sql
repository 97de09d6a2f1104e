-- internal/employer owns the writes of referral_cases and referral_notes; it reads residents.

-- name: employers-all
-- The employed and unenrolled people aged 16-59 (the two bounds), grouped by employer code
-- (NULL: employer unknown). ix_residents_employer serves it alone, in code order.
SELECT r.employer_credit_code AS credit_code, COUNT(*) AS n, MIN(r.id) AS first_id,
    GROUP_CONCAT(DISTINCT r.village_code ORDER BY r.village_code SEPARATOR ',') AS villages
FROM residents r
WHERE r.status = 'unenrolled' AND r.employed = 1 AND r.birth_date BETWEEN ? AND ?
GROUP BY r.employer_credit_code

-- name: employers-village
-- The same for one village.
SELECT r.employer_credit_code AS credit_code, COUNT(*) AS n, MIN(r.id) AS first_id,
    GROUP_CONCAT(DISTINCT r.village_code ORDER BY r.village_code SEPARATOR ',') AS villages
FROM residents r
WHERE r.status = 'unenrolled' AND r.employed = 1 AND r.birth_date BETWEEN ? AND ? AND r.village_code = ?
GROUP BY r.employer_credit_code

-- name: employer-names
-- A name for each employer of a page: the name on the roster row of its first person (the
-- grouping's MIN(id), an IN list), one primary-key read per employer.
SELECT r.employer_credit_code AS credit_code, r.employer_name AS name
FROM residents r WHERE r.id IN (?)

-- name: open-cases-of
-- The open case of each code of a page (IN list).
SELECT id, credit_code, status FROM referral_cases WHERE open_credit_code IN (?)

-- name: employer-on-roster
-- An employer about to be referred: how many people on the roster carry its code, its name,
-- and how many of them are employed, unenrolled and aged 16-59 (the two bounds).
SELECT COUNT(*) AS people, COALESCE(MAX(employer_name), '') AS name,
    COALESCE(SUM(status = 'unenrolled' AND employed = 1 AND birth_date BETWEEN ? AND ?), 0) AS uninsured
FROM residents WHERE employer_credit_code = ?

-- name: insert-case
INSERT INTO referral_cases (credit_code, open_credit_code, employer_name, status, referred_count, created_by, created_at, updated_at)
VALUES (?, ?, ?, 'referred', ?, ?, ?, ?)

-- name: insert-note
INSERT INTO referral_notes (case_id, status, note, insured_count, created_by, created_at)
VALUES (?, ?, ?, ?, ?, ?)

-- name: move-case
-- A move of the state machine, only from the status it starts from; a resolved case frees its
-- employer's open slot. insured_count is kept when the move gives none.
UPDATE referral_cases SET status = ?, insured_count = COALESCE(?, insured_count), updated_at = ?,
    inspected_at = CASE WHEN ? = 'inspected' THEN ? ELSE inspected_at END,
    resolved_at = CASE WHEN ? = 'resolved' THEN ? ELSE resolved_at END,
    open_credit_code = CASE WHEN ? = 'resolved' THEN NULL ELSE open_credit_code END
WHERE id = ? AND status = ?

-- name: case-lock
SELECT id, credit_code, employer_name, status, referred_count, insured_count, created_by, created_at, updated_at
FROM referral_cases WHERE id = ? FOR UPDATE

-- name: case-get
SELECT id, credit_code, employer_name, status, referred_count, insured_count, created_by, created_at, updated_at
FROM referral_cases WHERE id = ?

-- name: cases-count
SELECT COUNT(*) FROM referral_cases WHERE status IN (?)

-- name: cases-page
SELECT id, credit_code, employer_name, status, referred_count, insured_count, created_by, created_at, updated_at
FROM referral_cases WHERE status IN (?) ORDER BY id DESC LIMIT ? OFFSET ?

-- name: notes-of
-- The notes of the cases of an IN list, oldest first.
SELECT case_id, status, note, insured_count, created_by, created_at
FROM referral_notes WHERE case_id IN (?) ORDER BY case_id, id

-- name: open-cases
-- Every open case, for the inspection brigade's workbook.
SELECT id, credit_code, employer_name, status, referred_count, insured_count, created_by, created_at, updated_at
FROM referral_cases WHERE open_credit_code IS NOT NULL ORDER BY id LIMIT ?

-- name: people-of
-- The employed and unenrolled people aged 16-59 (the two bounds) of the open cases' employers
-- (IN list), with their villages' names.
SELECT r.id, r.name, r.id_number_enc, r.pii_key_id, r.employer_credit_code AS credit_code, r.village_code, v.name AS village_name
FROM residents r JOIN villages v ON v.code = r.village_code
WHERE r.status = 'unenrolled' AND r.employed = 1 AND r.birth_date BETWEEN ? AND ? AND r.employer_credit_code IN (?)
ORDER BY r.employer_credit_code, r.village_code, r.id
LIMIT ?
