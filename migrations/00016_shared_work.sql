-- +goose Up

-- Leases on work that one instance of many should do at a time. The campaign engine's
-- scheduler takes the 'schedule' row each tick (campaigns/engine/lease.go): the holder renews
-- it and runs the tick; the others find it held and skip theirs; a dead holder's lease runs out
-- and the next instance takes it. term counts the takes and renewals, so an UPDATE that renews
-- always changes the row (its affected-rows count says whether the lease was won).
CREATE TABLE engine_leases (
    name        VARCHAR(64)     NOT NULL,
    holder      VARCHAR(64)     NULL,
    lease_until DATETIME(6)     NULL,
    term        BIGINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO engine_leases (name) VALUES ('schedule');

-- Uploaded roster files live in the database, not on the disk of the instance that received
-- them, so any instance can run any import (internal/importer/shared.go). A file is kept in
-- chunks of at most 1 MiB, in order, written with the import's row in one transaction and
-- deleted when the import ends. stored_chunks is the number of chunks of an upload; NULL for a
-- file the command line imports from its own disk (never run elsewhere). An instance runs an
-- upload under a lease: claimed_by and lease_until, renewed while it runs; a lease that ran out
-- lets another instance take the import over (attempts counts the takes).
ALTER TABLE roster_imports
    ADD COLUMN stored_chunks INT         NULL,
    ADD COLUMN claimed_by    VARCHAR(64) NULL,
    ADD COLUMN lease_until   DATETIME(6) NULL,
    ADD COLUMN attempts      INT         NOT NULL DEFAULT 0;

CREATE TABLE import_chunks (
    import_id  BIGINT      NOT NULL,
    seq        INT         NOT NULL,
    data       MEDIUMBLOB  NOT NULL,
    PRIMARY KEY (import_id, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE import_chunks;
ALTER TABLE roster_imports DROP COLUMN attempts, DROP COLUMN lease_until, DROP COLUMN claimed_by, DROP COLUMN stored_chunks;
DROP TABLE engine_leases;
