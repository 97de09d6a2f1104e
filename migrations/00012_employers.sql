-- +goose Up

-- The roster knows a person's employer: its name as the source gave it and its unified social
-- credit code (统一社会信用代码, GB 32100-2015, validated by internal/creditcode before it is
-- written). A person with an employer is employed (the writers keep employed = 1).
--
-- The employer list (internal/employer) groups the employed and unenrolled people aged 16-59
-- by code, for the whole town or for one village. Each has an index that serves it alone,
-- without reading the rows: for the town, ix_residents_employer, where the equality on
-- (status, employed) leaves the entries in code order (the GROUP BY needs no temporary table)
-- and the birth date is checked on the index; for one village, ix_residents_employer_village,
-- where the equality on (status, employed, village_code) reads that village's entries only, in
-- code order. (One index with the village after the code would make a village's list read
-- the whole town's entries: about 70,000 at 1,000,000 residents instead of about 250.)
ALTER TABLE residents
    ADD COLUMN employer_name VARCHAR(128) NULL,
    ADD COLUMN employer_credit_code CHAR(18) NULL,
    ADD KEY ix_residents_employer (status, employed, employer_credit_code, village_code, birth_date),
    ADD KEY ix_residents_employer_village (status, employed, village_code, employer_credit_code, birth_date);

-- A registration may name the registrant's employer (the mini-program asks employed people). A
-- registration never changes the roster of a person already on it, so the employer stays on the
-- registration for the review; a person the registration adds to the roster gets it there too.
ALTER TABLE registrations
    ADD COLUMN employer_name VARCHAR(128) NULL,
    ADD COLUMN employer_credit_code CHAR(18) NULL;

-- Referrals of an employer to labour inspection (劳动保障监察) for 强制性参保: one case follows an
-- employer from referred to inspected to resolved. At most one open case per employer:
-- open_credit_code holds credit_code until the case is resolved and NULL after, and it is
-- unique (NULLs do not clash), the same device as registrations.active_resident_id. It is an
-- ordinary column written by internal/employer, not a generated one, so that MariaDB, MySQL
-- and TiDB treat it alike.
CREATE TABLE referral_cases (
    id                BIGINT        NOT NULL AUTO_INCREMENT,
    credit_code       CHAR(18)      NOT NULL,
    open_credit_code  CHAR(18)      NULL,
    -- the employer's name as the roster had it when the case was opened
    employer_name     VARCHAR(128)  NOT NULL,
    -- referred | inspected | resolved
    status            VARCHAR(16)   NOT NULL,
    -- employed and unenrolled people on the roster when the case was opened
    referred_count    INT           NOT NULL,
    -- people insured as a result, as the inspection reported (set when inspected or resolved)
    insured_count     INT           NULL,
    created_by        BIGINT        NOT NULL,
    created_at        DATETIME(6)   NOT NULL,
    updated_at        DATETIME(6)   NOT NULL,
    inspected_at      DATETIME(6)   NULL,
    resolved_at       DATETIME(6)   NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_referral_cases_open (open_credit_code),
    KEY ix_referral_cases_code (credit_code, id),
    KEY ix_referral_cases_status (status, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Each case's history: the note written with each change (the referral itself, the
-- inspection, the resolution), who wrote it and the status it moved to.
CREATE TABLE referral_notes (
    id             BIGINT         NOT NULL AUTO_INCREMENT,
    case_id        BIGINT         NOT NULL,
    status         VARCHAR(16)    NOT NULL,
    note           VARCHAR(1000)  NOT NULL,
    insured_count  INT            NULL,
    created_by     BIGINT         NOT NULL,
    created_at     DATETIME(6)    NOT NULL,
    PRIMARY KEY (id),
    KEY ix_referral_notes_case (case_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE referral_notes;
DROP TABLE referral_cases;
ALTER TABLE registrations
    DROP COLUMN employer_credit_code,
    DROP COLUMN employer_name;
ALTER TABLE residents
    DROP KEY ix_residents_employer_village,
    DROP KEY ix_residents_employer,
    DROP COLUMN employer_credit_code,
    DROP COLUMN employer_name;
