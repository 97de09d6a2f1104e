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

-- +goose Down
DROP TABLE engine_leases;
