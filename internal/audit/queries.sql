-- name: audit-insert
-- One audit row; callers write it in the transaction of the action it records.
INSERT INTO audit_log (at, actor_kind, actor_id, role, ip, request_id, action, object_type, object_id, result, detail)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
