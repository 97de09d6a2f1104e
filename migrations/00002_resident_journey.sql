-- +goose Up

-- One-time subscribe-message consents (订阅消息) a resident granted, per template. WeChat offers
-- no way to ask how many are left, so this ledger is the truth: the campaign engine spends one
-- per message with `UPDATE … SET remaining = remaining - 1 WHERE … AND remaining > 0`.
CREATE TABLE subscription_consents (
    account_id     BIGINT       NOT NULL,
    template_id    VARCHAR(64)  NOT NULL,
    remaining      INT          NOT NULL,
    granted_total  INT          NOT NULL,
    updated_at     DATETIME(6)  NOT NULL,
    PRIMARY KEY (account_id, template_id),
    CONSTRAINT fk_consents_account FOREIGN KEY (account_id) REFERENCES resident_accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- New enrollments (新增参保): a person counts once, on the day a registration was confirmed, an
-- imported status update showed them insured, or a visit found them enrolled. Progress reports
-- count these rows; the village is the person's village at that moment.
CREATE TABLE enrollments (
    id            BIGINT       NOT NULL AUTO_INCREMENT,
    resident_id   BIGINT       NOT NULL,
    village_code  VARCHAR(32)  NOT NULL,
    scheme        VARCHAR(24)  NOT NULL,
    -- registration | import | visit
    source        VARCHAR(16)  NOT NULL,
    source_id     BIGINT       NULL,
    enrolled_on   DATE         NOT NULL,
    created_at    DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_enrollments_resident (resident_id),
    KEY ix_enrollments_village_day (village_code, enrolled_on),
    KEY ix_enrollments_day (enrolled_on),
    CONSTRAINT fk_enrollments_resident FOREIGN KEY (resident_id) REFERENCES residents (id),
    CONSTRAINT fk_enrollments_village FOREIGN KEY (village_code) REFERENCES villages (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE enrollments;
DROP TABLE subscription_consents;
