-- +goose Up

-- Villages (村/居) of the town. `code` is the stable identifier used in URLs and tokens.
CREATE TABLE villages (
    code        VARCHAR(32)  NOT NULL,
    name        VARCHAR(64)  NOT NULL,
    town        VARCHAR(64)  NOT NULL,
    sort_order  INT          NOT NULL DEFAULT 0,
    created_at  DATETIME(6)  NOT NULL,
    PRIMARY KEY (code),
    UNIQUE KEY uq_villages_name (town, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- An enrollment plan: the quota the town received and where it came from (the annex).
CREATE TABLE plans (
    id          BIGINT       NOT NULL AUTO_INCREMENT,
    code        VARCHAR(32)  NOT NULL,
    title       VARCHAR(200) NOT NULL,
    document    VARCHAR(100) NOT NULL DEFAULT '',
    base_year   INT          NOT NULL,
    quota       INT          NOT NULL,
    created_at  DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_plans_code (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Year-end milestones of a plan, as a share of the expansion target (2019: 0.8, 2020: 1.0).
CREATE TABLE plan_milestones (
    plan_id     BIGINT        NOT NULL,
    year        INT           NOT NULL,
    ratio       DECIMAL(6,4)  NOT NULL,
    PRIMARY KEY (plan_id, year),
    CONSTRAINT fk_milestones_plan FOREIGN KEY (plan_id) REFERENCES plans (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Per-village baseline and expansion target of a plan (one row of the annex table).
CREATE TABLE plan_targets (
    plan_id              BIGINT       NOT NULL,
    village_code         VARCHAR(32)  NOT NULL,
    population_16_59     INT          NOT NULL,
    enrolled_baseline    INT          NOT NULL,
    unenrolled_baseline  INT          NOT NULL,
    expansion_target     INT          NOT NULL,
    PRIMARY KEY (plan_id, village_code),
    CONSTRAINT fk_targets_plan FOREIGN KEY (plan_id) REFERENCES plans (id),
    CONSTRAINT fk_targets_village FOREIGN KEY (village_code) REFERENCES villages (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Per-village yearly task (任务数) of a plan.
CREATE TABLE plan_tasks (
    plan_id       BIGINT       NOT NULL,
    village_code  VARCHAR(32)  NOT NULL,
    year          INT          NOT NULL,
    task          INT          NOT NULL,
    PRIMARY KEY (plan_id, village_code, year),
    CONSTRAINT fk_tasks_plan FOREIGN KEY (plan_id) REFERENCES plans (id),
    CONSTRAINT fk_tasks_village FOREIGN KEY (village_code) REFERENCES villages (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- People aged 16-59 of the town: the roster. ID number and phone are AES-256-GCM ciphertexts
-- (key id in pii_key_id) found through HMAC-SHA256 blind indexes; never stored in clear.
CREATE TABLE residents (
    id                 BIGINT         NOT NULL AUTO_INCREMENT,
    id_number_enc      VARBINARY(96)  NOT NULL,
    id_number_bidx     BINARY(32)     NOT NULL,
    phone_enc          VARBINARY(96)  NULL,
    phone_bidx         BINARY(32)     NULL,
    pii_key_id         VARCHAR(16)    NOT NULL,
    name               VARCHAR(64)    NOT NULL,
    gender             VARCHAR(8)     NOT NULL,
    birth_date         DATE           NOT NULL,
    village_code       VARCHAR(32)    NOT NULL,
    employed           TINYINT(1)     NOT NULL DEFAULT 0,
    land_expropriated  TINYINT(1)     NOT NULL DEFAULT 0,
    -- unenrolled | resident_pension | employee_pension | exempt
    status             VARCHAR(24)    NOT NULL,
    status_changed_on  DATE           NULL,
    -- where the row came from: seed | import | registration
    source             VARCHAR(16)    NOT NULL,
    opted_out          TINYINT(1)     NOT NULL DEFAULT 0,
    created_at         DATETIME(6)    NOT NULL,
    updated_at         DATETIME(6)    NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_residents_id_number (id_number_bidx),
    KEY ix_residents_phone (phone_bidx),
    KEY ix_residents_village_status (village_code, status, birth_date),
    KEY ix_residents_status_birth (status, birth_date),
    CONSTRAINT fk_residents_village FOREIGN KEY (village_code) REFERENCES villages (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Mini-program accounts, created at the first WeChat login. Tokens carry `id`, never the openid.
-- session_key is encrypted and never leaves the server.
CREATE TABLE resident_accounts (
    id               BIGINT         NOT NULL AUTO_INCREMENT,
    openid           VARCHAR(64)    NOT NULL,
    unionid          VARCHAR(64)    NULL,
    session_key_enc  VARBINARY(96)  NULL,
    pii_key_id       VARCHAR(16)    NOT NULL DEFAULT '',
    resident_id      BIGINT         NULL,
    token_version    INT            NOT NULL DEFAULT 1,
    disabled         TINYINT(1)     NOT NULL DEFAULT 0,
    created_at       DATETIME(6)    NOT NULL,
    last_login_at    DATETIME(6)    NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_accounts_openid (openid),
    KEY ix_accounts_resident (resident_id),
    CONSTRAINT fk_accounts_resident FOREIGN KEY (resident_id) REFERENCES residents (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Staff of the town and villages. role: volunteer | village_admin | staff | admin.
-- volunteer and village_admin are bound to one village.
CREATE TABLE staff_users (
    id                   BIGINT        NOT NULL AUTO_INCREMENT,
    username             VARCHAR(64)   NOT NULL,
    display_name         VARCHAR(64)   NOT NULL DEFAULT '',
    password_hash        VARCHAR(255)  NOT NULL,
    role                 VARCHAR(16)   NOT NULL,
    village_code         VARCHAR(32)   NULL,
    disabled             TINYINT(1)    NOT NULL DEFAULT 0,
    token_version        INT           NOT NULL DEFAULT 1,
    failed_logins        INT           NOT NULL DEFAULT 0,
    locked_until         DATETIME(6)   NULL,
    password_changed_at  DATETIME(6)   NOT NULL,
    created_at           DATETIME(6)   NOT NULL,
    updated_at           DATETIME(6)   NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_staff_username (username),
    KEY ix_staff_village (village_code),
    CONSTRAINT fk_staff_village FOREIGN KEY (village_code) REFERENCES villages (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Refresh tokens, stored as SHA-256 hashes; rotated on use, revoked on logout.
CREATE TABLE refresh_tokens (
    id            BIGINT       NOT NULL AUTO_INCREMENT,
    token_hash    BINARY(32)   NOT NULL,
    subject_kind  VARCHAR(16)  NOT NULL,
    subject_id    BIGINT       NOT NULL,
    token_version INT          NOT NULL,
    expires_at    DATETIME(6)  NOT NULL,
    revoked_at    DATETIME(6)  NULL,
    created_at    DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_refresh_hash (token_hash),
    KEY ix_refresh_subject (subject_kind, subject_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Policy explainers shown in the mini-program. `version` increases on each edit.
CREATE TABLE policy_articles (
    id            BIGINT        NOT NULL AUTO_INCREMENT,
    slug          VARCHAR(100)  NOT NULL,
    title         VARCHAR(100)  NOT NULL,
    summary       VARCHAR(300)  NOT NULL,
    body          MEDIUMTEXT    NOT NULL,
    category      VARCHAR(32)   NOT NULL,
    published     TINYINT(1)    NOT NULL DEFAULT 0,
    version       INT           NOT NULL DEFAULT 1,
    published_at  DATETIME(6)   NULL,
    created_at    DATETIME(6)   NOT NULL,
    updated_at    DATETIME(6)   NOT NULL,
    updated_by    BIGINT        NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_articles_slug (slug),
    KEY ix_articles_list (published, category, updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every saved version of an article, for history and review.
CREATE TABLE policy_article_revisions (
    id          BIGINT        NOT NULL AUTO_INCREMENT,
    article_id  BIGINT        NOT NULL,
    version     INT           NOT NULL,
    title       VARCHAR(100)  NOT NULL,
    summary     VARCHAR(300)  NOT NULL,
    body        MEDIUMTEXT    NOT NULL,
    category    VARCHAR(32)   NOT NULL,
    edited_by   BIGINT        NULL,
    created_at  DATETIME(6)   NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_revisions (article_id, version),
    CONSTRAINT fk_revisions_article FOREIGN KEY (article_id) REFERENCES policy_articles (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Resident-pension contribution tiers (缴费档次) and subsidies per year, loaded from configs/policy.
CREATE TABLE contribution_tiers (
    year     INT  NOT NULL,
    amount   INT  NOT NULL,
    subsidy  INT  NOT NULL,
    PRIMARY KEY (year, amount)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Self-registrations from the mini-program. One open or confirmed registration per person and
-- year: active_resident_id holds resident_id while the registration is submitted, referred or
-- confirmed and NULL otherwise, and (year, active_resident_id) is unique.
CREATE TABLE registrations (
    id                      BIGINT         NOT NULL AUTO_INCREMENT,
    account_id              BIGINT         NOT NULL,
    resident_id             BIGINT         NOT NULL,
    active_resident_id      BIGINT         NULL,
    year                    INT            NOT NULL,
    name                    VARCHAR(64)    NOT NULL,
    id_number_enc           VARBINARY(96)  NOT NULL,
    phone_enc               VARBINARY(96)  NOT NULL,
    pii_key_id              VARCHAR(16)    NOT NULL,
    village_code            VARCHAR(32)    NOT NULL,
    employed                TINYINT(1)     NOT NULL,
    land_expropriated       TINYINT(1)     NOT NULL,
    scheme                  VARCHAR(24)    NOT NULL,
    channel                 VARCHAR(16)    NOT NULL,
    register_at             VARCHAR(16)    NOT NULL,
    tier                    INT            NULL,
    -- submitted | referred | confirmed | rejected | cancelled
    status                  VARCHAR(16)    NOT NULL,
    privacy_notice_version  VARCHAR(32)    NOT NULL,
    reject_reason           VARCHAR(200)   NULL,
    decided_by              BIGINT         NULL,
    decided_at              DATETIME(6)    NULL,
    created_at              DATETIME(6)    NOT NULL,
    updated_at              DATETIME(6)    NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_registrations_active (year, active_resident_id),
    KEY ix_registrations_account (account_id, created_at),
    KEY ix_registrations_village (village_code, status, created_at),
    CONSTRAINT fk_registrations_account FOREIGN KEY (account_id) REFERENCES resident_accounts (id),
    CONSTRAINT fk_registrations_resident FOREIGN KEY (resident_id) REFERENCES residents (id),
    CONSTRAINT fk_registrations_village FOREIGN KEY (village_code) REFERENCES villages (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Door-to-door visits (入户走访). client_id is the phone's UUID: replays change nothing.
-- No location is stored.
CREATE TABLE visits (
    id            BIGINT        NOT NULL AUTO_INCREMENT,
    client_id     CHAR(36)      NOT NULL,
    resident_id   BIGINT        NOT NULL,
    village_code  VARCHAR(32)   NOT NULL,
    volunteer_id  BIGINT        NOT NULL,
    visited_at    DATETIME(6)   NOT NULL,
    outcome       VARCHAR(24)   NOT NULL,
    reason        VARCHAR(24)   NULL,
    note          VARCHAR(500)  NOT NULL DEFAULT '',
    follow_up_on  DATE          NULL,
    created_at    DATETIME(6)   NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_visits_client (client_id),
    KEY ix_visits_village (village_code, visited_at),
    KEY ix_visits_resident (resident_id, visited_at),
    CONSTRAINT fk_visits_resident FOREIGN KEY (resident_id) REFERENCES residents (id),
    CONSTRAINT fk_visits_volunteer FOREIGN KEY (volunteer_id) REFERENCES staff_users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Append-only audit trail of staff and security events. Ids only, never personal data.
CREATE TABLE audit_log (
    id          BIGINT        NOT NULL AUTO_INCREMENT,
    at          DATETIME(6)   NOT NULL,
    actor_kind  VARCHAR(16)   NOT NULL,
    actor_id    BIGINT        NULL,
    role        VARCHAR(16)   NOT NULL DEFAULT '',
    ip          VARCHAR(45)   NOT NULL DEFAULT '',
    request_id  VARCHAR(64)   NOT NULL DEFAULT '',
    action      VARCHAR(64)   NOT NULL,
    object_type VARCHAR(32)   NOT NULL DEFAULT '',
    object_id   VARCHAR(64)   NOT NULL DEFAULT '',
    result      VARCHAR(16)   NOT NULL,
    detail      VARCHAR(500)  NOT NULL DEFAULT '',
    PRIMARY KEY (id),
    KEY ix_audit_at (at),
    KEY ix_audit_actor (actor_kind, actor_id, at),
    KEY ix_audit_object (object_type, object_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Idempotency-Key records: unique per (caller, route, key) through scope_hash; the first
-- response is replayed for the same body. Kept at least 24 h.
CREATE TABLE idempotency_keys (
    id               BIGINT       NOT NULL AUTO_INCREMENT,
    scope_hash       BINARY(32)   NOT NULL,
    request_hash     BINARY(32)   NOT NULL,
    -- in_flight | done
    state            VARCHAR(16)  NOT NULL,
    response_status  INT          NULL,
    response_body    MEDIUMBLOB   NULL,
    created_at       DATETIME(6)  NOT NULL,
    expires_at       DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_idempotency_scope (scope_hash),
    KEY ix_idempotency_expiry (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE audit_log;
DROP TABLE visits;
DROP TABLE registrations;
DROP TABLE contribution_tiers;
DROP TABLE policy_article_revisions;
DROP TABLE policy_articles;
DROP TABLE refresh_tokens;
DROP TABLE staff_users;
DROP TABLE resident_accounts;
DROP TABLE residents;
DROP TABLE plan_tasks;
DROP TABLE plan_targets;
DROP TABLE plan_milestones;
DROP TABLE plans;
DROP TABLE villages;
