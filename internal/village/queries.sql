-- name: villages-list
-- Every village in the annex's order.
SELECT code, name FROM villages ORDER BY sort_order, code

-- name: village-exists
SELECT COUNT(*) FROM villages WHERE code = ?
