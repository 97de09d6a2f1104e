-- +goose Up

-- Roster imports (CSV or XLSX) and their progress, readable from any instance.
CREATE TABLE roster_imports (
    id              BIGINT        NOT NULL AUTO_INCREMENT,
    -- queued | running | completed | failed
    status          VARCHAR(16)   NOT NULL,
    file_name       VARCHAR(255)  NOT NULL,
    file_format     VARCHAR(8)    NOT NULL,
    file_bytes      BIGINT        NOT NULL DEFAULT 0,
    rows_total      INT           NOT NULL DEFAULT 0,
    rows_done       INT           NOT NULL DEFAULT 0,
    rows_failed     INT           NOT NULL DEFAULT 0,
    rows_created    INT           NOT NULL DEFAULT 0,
    rows_updated    INT           NOT NULL DEFAULT 0,
    rows_unchanged  INT           NOT NULL DEFAULT 0,
    rows_enrolled   INT           NOT NULL DEFAULT 0,
    error           VARCHAR(500)  NOT NULL DEFAULT '',
    created_by      BIGINT        NULL,
    created_at      DATETIME(6)   NOT NULL,
    started_at      DATETIME(6)   NULL,
    finished_at     DATETIME(6)   NULL,
    updated_at      DATETIME(6)   NOT NULL,
    PRIMARY KEY (id),
    KEY ix_imports_status (status, updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The rows an import could not take, with the field at fault and a Chinese message. Never the
-- row's personal data.
CREATE TABLE roster_import_errors (
    import_id  BIGINT        NOT NULL,
    row_no     INT           NOT NULL,
    field      VARCHAR(32)   NULL,
    message    VARCHAR(200)  NOT NULL,
    PRIMARY KEY (import_id, row_no),
    CONSTRAINT fk_import_errors_import FOREIGN KEY (import_id) REFERENCES roster_imports (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Door-to-door visit tasks on a village's list: made by the campaign engine (people who did not
-- respond to reminders) or by staff. A visit of the person closes their open tasks.
CREATE TABLE visit_tasks (
    id            BIGINT        NOT NULL AUTO_INCREMENT,
    resident_id   BIGINT        NOT NULL,
    village_code  VARCHAR(32)   NOT NULL,
    -- campaign | staff
    source        VARCHAR(16)   NOT NULL,
    campaign_id   BIGINT        NULL,
    note          VARCHAR(200)  NOT NULL DEFAULT '',
    due_on        DATE          NOT NULL,
    -- open | done | cancelled
    status        VARCHAR(16)   NOT NULL,
    -- open_slot = resident_id while open: one open task per person
    open_slot     BIGINT        NULL,
    visit_id      BIGINT        NULL,
    created_at    DATETIME(6)   NOT NULL,
    closed_at     DATETIME(6)   NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_visit_tasks_open (open_slot),
    KEY ix_visit_tasks_village (village_code, status, due_on),
    CONSTRAINT fk_visit_tasks_resident FOREIGN KEY (resident_id) REFERENCES residents (id),
    CONSTRAINT fk_visit_tasks_village FOREIGN KEY (village_code) REFERENCES villages (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The latest visit of each person, kept in step with visits, so roster lists and task lists
-- need no per-row subquery over all visits.
ALTER TABLE residents
    ADD COLUMN last_visit_id BIGINT NULL,
    ADD COLUMN last_visited_at DATETIME(6) NULL,
    ADD COLUMN follow_up_on DATE NULL,
    ADD KEY ix_residents_village_follow_up (village_code, follow_up_on),
    ADD KEY ix_residents_village_last_visit (village_code, last_visited_at);

-- +goose Down
ALTER TABLE residents
    DROP KEY ix_residents_village_last_visit,
    DROP KEY ix_residents_village_follow_up,
    DROP COLUMN follow_up_on,
    DROP COLUMN last_visited_at,
    DROP COLUMN last_visit_id;
DROP TABLE visit_tasks;
DROP TABLE roster_import_errors;
DROP TABLE roster_imports;
