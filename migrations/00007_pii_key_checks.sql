-- +goose Up

-- One key check value per PII key id: 32 bytes derived from the master key (HKDF, a label of
-- its own), recorded the first time a key id is used against this database. A command that
-- starts with another key under the same id is refused instead of writing or misreading data.
CREATE TABLE pii_key_checks (
    key_id       VARCHAR(16)  NOT NULL,
    check_value  BINARY(32)   NOT NULL,
    created_at   DATETIME(6)  NOT NULL,
    PRIMARY KEY (key_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE pii_key_checks;
