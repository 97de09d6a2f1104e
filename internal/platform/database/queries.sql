-- name: migrate-lock
-- Several instances starting at once migrate one at a time: a named lock on the migrating
-- connection, waited for up to two minutes.
SELECT GET_LOCK('canbao_migrate', 120)

-- name: migrate-unlock
SELECT RELEASE_LOCK('canbao_migrate')
