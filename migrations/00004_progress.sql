-- +goose Up

-- New enrollments per village and day, maintained in the same transaction as each enrollments
-- row, so progress and monthly reports read a few thousand rows, not the roster.
CREATE TABLE enrollment_daily (
    village_code  VARCHAR(32)  NOT NULL,
    enrolled_on   DATE         NOT NULL,
    enrolled      INT          NOT NULL,
    PRIMARY KEY (village_code, enrolled_on),
    CONSTRAINT fk_enrollment_daily_village FOREIGN KEY (village_code) REFERENCES villages (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO enrollment_daily (village_code, enrolled_on, enrolled)
SELECT village_code, enrolled_on, COUNT(*) FROM enrollments GROUP BY village_code, enrolled_on;

-- Monthly reports (按月通报) frozen when their month has closed: a later correction does not
-- silently rewrite a report already sent.
CREATE TABLE monthly_reports (
    plan_id       BIGINT       NOT NULL,
    month         CHAR(7)      NOT NULL,
    body          MEDIUMBLOB   NOT NULL,
    generated_at  DATETIME(6)  NOT NULL,
    PRIMARY KEY (plan_id, month),
    CONSTRAINT fk_monthly_reports_plan FOREIGN KEY (plan_id) REFERENCES plans (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- What the city social insurance centre answered about a registration the town handed over.
ALTER TABLE registrations
    ADD COLUMN city_result VARCHAR(16) NULL,
    ADD COLUMN city_reason VARCHAR(200) NULL,
    ADD COLUMN city_answered_at DATETIME(6) NULL,
    ADD KEY ix_registrations_decided (status, decided_at);

-- +goose Down
ALTER TABLE registrations
    DROP KEY ix_registrations_decided,
    DROP COLUMN city_answered_at,
    DROP COLUMN city_reason,
    DROP COLUMN city_result;
DROP TABLE monthly_reports;
DROP TABLE enrollment_daily;
