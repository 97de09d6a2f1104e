-- +goose Up

-- Reminder campaigns. `spec` holds the segment, channel chain, template, schedule and throttles
-- as saved (validated) JSON; the columns are what the engine queries.
CREATE TABLE campaigns (
    id                 BIGINT        NOT NULL AUTO_INCREMENT,
    name               VARCHAR(100)  NOT NULL,
    -- draft | scheduled | running | paused | completed | cancelled
    status             VARCHAR(16)   NOT NULL,
    spec               JSON          NOT NULL,
    start_at           DATETIME(6)   NOT NULL,
    end_at             DATETIME(6)   NOT NULL,
    repeat_every_days  INT           NOT NULL DEFAULT 0,
    next_run_at        DATETIME(6)   NULL,
    created_by         BIGINT        NULL,
    created_at         DATETIME(6)   NOT NULL,
    updated_at         DATETIME(6)   NOT NULL,
    PRIMARY KEY (id),
    KEY ix_campaigns_due (status, next_run_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One run of a campaign: its audience is frozen into deliveries when it starts. The snapshot
-- advances past `snapshot_cursor` (a resident id) in batches, so a restart resumes it.
CREATE TABLE campaign_runs (
    id               BIGINT       NOT NULL AUTO_INCREMENT,
    campaign_id      BIGINT       NOT NULL,
    run_no           INT          NOT NULL,
    -- snapshotting | dispatching | completed | cancelled
    status           VARCHAR(16)  NOT NULL,
    snapshot_cursor  BIGINT       NOT NULL DEFAULT 0,
    targeted         INT          NOT NULL DEFAULT 0,
    lease_owner      VARCHAR(64)  NULL,
    lease_until      DATETIME(6)  NULL,
    started_at       DATETIME(6)  NOT NULL,
    snapshot_done_at DATETIME(6)  NULL,
    completed_at     DATETIME(6)  NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_runs_campaign_no (campaign_id, run_no),
    KEY ix_runs_status (status),
    CONSTRAINT fk_runs_campaign FOREIGN KEY (campaign_id) REFERENCES campaigns (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The delivery outbox: one row per (campaign, run, resident), the truth of what was sent.
-- status: queued -> sending -> sent | failed | skipped | unknown (a send whose outcome is not
-- known after its lease: never resent blindly). Redis queues carry only these ids.
CREATE TABLE deliveries (
    id               BIGINT        NOT NULL AUTO_INCREMENT,
    campaign_id      BIGINT        NOT NULL,
    run_id           BIGINT        NOT NULL,
    resident_id      BIGINT        NOT NULL,
    village_code     VARCHAR(32)   NOT NULL,
    status           VARCHAR(16)   NOT NULL,
    skip_reason      VARCHAR(24)   NULL,
    channel          VARCHAR(16)   NULL,
    attempts         INT           NOT NULL DEFAULT 0,
    not_before       DATETIME(6)   NULL,
    lease_until      DATETIME(6)   NULL,
    provider_msg_id  VARCHAR(64)   NULL,
    error_code       VARCHAR(64)   NULL,
    enqueued_at      DATETIME(6)   NULL,
    sent_at          DATETIME(6)   NULL,
    created_at       DATETIME(6)   NOT NULL,
    updated_at       DATETIME(6)   NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_deliveries (campaign_id, run_id, resident_id),
    KEY ix_deliveries_run_status (run_id, status, id),
    KEY ix_deliveries_status_lease (status, lease_until),
    KEY ix_deliveries_resident_sent (resident_id, status, sent_at),
    KEY ix_deliveries_campaign (campaign_id, status)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Conversions: a targeted person who became enrolled within the attribution window of being
-- reached; the latest delivery gets the credit.
CREATE TABLE conversions (
    resident_id    BIGINT       NOT NULL,
    delivery_id    BIGINT       NOT NULL,
    campaign_id    BIGINT       NOT NULL,
    channel        VARCHAR(16)  NOT NULL,
    village_code   VARCHAR(32)  NOT NULL,
    age_band       VARCHAR(8)   NOT NULL,
    gender         VARCHAR(8)   NOT NULL,
    converted_on   DATE         NOT NULL,
    created_at     DATETIME(6)  NOT NULL,
    PRIMARY KEY (resident_id),
    KEY ix_conversions_campaign (campaign_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE conversions;
DROP TABLE deliveries;
DROP TABLE campaign_runs;
DROP TABLE campaigns;
