-- name: account-by-openid
-- A WeChat login finds the mini-program account of its openid, locked for the login.
SELECT id, token_version, disabled FROM resident_accounts WHERE openid = ? FOR UPDATE

-- name: account-insert
-- The first login creates the account.
INSERT INTO resident_accounts (openid, unionid, session_key_enc, pii_key_id, created_at, last_login_at)
VALUES (?, ?, ?, ?, ?, ?)

-- name: account-insert-demo
-- A demo account, without a session key (the demo seed's pending registrations have one each).
INSERT INTO resident_accounts (openid, pii_key_id, created_at, last_login_at) VALUES (?, '', ?, ?)

-- name: account-login
-- A later login keeps the new session key; a unionid once known is kept.
UPDATE resident_accounts SET session_key_enc = ?, pii_key_id = ?, unionid = COALESCE(?, unionid),
    last_login_at = ? WHERE id = ?

-- name: account-link-person
-- The account's first registered person becomes "its" resident.
UPDATE resident_accounts SET resident_id = ? WHERE id = ? AND resident_id IS NULL

-- name: account-bump-version
-- Logout revokes every token of the account.
UPDATE resident_accounts SET token_version = token_version + 1 WHERE id = ?

-- name: consent-lock
SELECT remaining FROM subscription_consents WHERE account_id = ? AND template_id = ? FOR UPDATE

-- name: consent-insert
INSERT INTO subscription_consents (account_id, template_id, remaining, granted_total, updated_at)
VALUES (?, ?, ?, ?, ?)

-- name: consent-add
UPDATE subscription_consents SET remaining = ?, granted_total = granted_total + ?, updated_at = ?
WHERE account_id = ? AND template_id = ?

-- name: consent-remaining
-- The campaign engine: may a WeChat message go to this account with this template?
SELECT remaining FROM subscription_consents WHERE account_id = ? AND template_id = ?

-- name: consent-spend
-- The campaign engine spends one consent per WeChat message, if one is left.
UPDATE subscription_consents SET remaining = remaining - 1, updated_at = ?
WHERE account_id = ? AND template_id = ? AND remaining > 0

-- name: consent-give-back
-- A transient failure gives the unused consent back.
UPDATE subscription_consents SET remaining = remaining + 1, updated_at = ? WHERE account_id = ? AND template_id = ?

-- name: consent-none-left
-- WeChat says the user has no consent left (43101): the ledger follows.
UPDATE subscription_consents SET remaining = 0, updated_at = ? WHERE account_id = ? AND template_id = ?

-- name: account-link-persons
-- account-link-person for a batch of accounts (a group commit of registrations): the WHEN pair
-- and the IN list are widened to the batch (LinkPersons). An account named twice keeps the
-- first person, as two single links in that order would.
UPDATE resident_accounts SET resident_id = CASE id WHEN ? THEN ? END WHERE id IN (?) AND resident_id IS NULL
