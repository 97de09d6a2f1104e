-- +goose Up

-- Concentrated publicity events (集中宣传活动) in villages, industrial parks, enterprises and
-- markets. Residents scan the event's mini-program code, whose `scene` (at most 32 characters,
-- WeChat's limit) names the event; the code image is fetched once from WeChat and kept here.
-- employer_credit_code is the unified social credit code (统一社会信用代码) of the enterprise
-- concerned, if any. No foreign keys are relied on (TiDB); internal/event checks villages.
CREATE TABLE events (
    id                    BIGINT        NOT NULL AUTO_INCREMENT,
    title                 VARCHAR(64)   NOT NULL,
    -- village | industrial_park | enterprise | market | other
    kind                  VARCHAR(16)   NOT NULL,
    place                 VARCHAR(100)  NOT NULL,
    starts_at             DATETIME(6)   NOT NULL,
    ends_at               DATETIME(6)   NOT NULL,
    employer_credit_code  CHAR(18)      NULL,
    scene                 VARCHAR(32)   NOT NULL,
    created_by            BIGINT        NOT NULL,
    created_at            DATETIME(6)   NOT NULL,
    updated_at            DATETIME(6)   NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_events_scene (scene),
    KEY ix_events_starts (starts_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The villages an event is for; a village admin sees the events of their village.
CREATE TABLE event_villages (
    event_id      BIGINT       NOT NULL,
    village_code  VARCHAR(32)  NOT NULL,
    PRIMARY KEY (event_id, village_code),
    KEY ix_event_villages_village (village_code, event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The event's mini-program code (wxacode.getUnlimited), fetched once and served from here.
CREATE TABLE event_codes (
    event_id      BIGINT       NOT NULL,
    content_type  VARCHAR(32)  NOT NULL,
    image         MEDIUMBLOB   NOT NULL,
    fetched_at    DATETIME(6)  NOT NULL,
    PRIMARY KEY (event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Check-ins: a resident account scanned the event's code. One per event and account; a second
-- scan changes nothing. The index by account serves attribution (an account's check-ins).
CREATE TABLE event_checkins (
    event_id       BIGINT       NOT NULL,
    account_id     BIGINT       NOT NULL,
    checked_in_at  DATETIME(6)  NOT NULL,
    PRIMARY KEY (event_id, account_id),
    KEY ix_event_checkins_account (account_id, checked_in_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE event_checkins;
DROP TABLE event_codes;
DROP TABLE event_villages;
DROP TABLE events;
