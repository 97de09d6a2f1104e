-- +goose Up

-- Refresh-token families. Each login starts a family; every rotation adds its successor to the
-- same family and stamps the spent token's rotated_at. Presenting a token that was already
-- rotated is a replay (the token was copied): the whole family is revoked.
-- Tokens issued before this migration each become a family of their own.
ALTER TABLE refresh_tokens
    ADD COLUMN family_id  BINARY(16)  NULL AFTER token_hash,
    ADD COLUMN rotated_at DATETIME(6) NULL AFTER revoked_at;

UPDATE refresh_tokens SET family_id = UNHEX(MD5(CONCAT('legacy-refresh-', id))) WHERE family_id IS NULL;

ALTER TABLE refresh_tokens
    MODIFY COLUMN family_id BINARY(16) NOT NULL,
    ADD KEY ix_refresh_family (family_id);

-- +goose Down
ALTER TABLE refresh_tokens
    DROP KEY ix_refresh_family,
    DROP COLUMN rotated_at,
    DROP COLUMN family_id;
