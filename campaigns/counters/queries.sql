-- name: conversions-of-campaign
-- A campaign's conversions (the enrollments credited to it, see internal/enrollment) by
-- village, channel and the day the person enrolled (a civil date in the business time zone):
-- the one source of converted, its village and channel slices and converted_by_day, so they
-- always add up.
SELECT village_code, channel, converted_on, COUNT(*) AS n
FROM conversions WHERE campaign_id = ?
GROUP BY village_code, channel, converted_on

-- name: outbox-by-status
-- Rebuild: a campaign's deliveries by village, status, skip reason and channel.
SELECT village_code, status, COALESCE(skip_reason, '') AS skip_reason,
    COALESCE(channel, '') AS channel, COUNT(*) AS n FROM deliveries WHERE campaign_id = ?
GROUP BY village_code, status, skip_reason, channel

-- name: outbox-sent-at
-- Rebuild: when each sent delivery went (days are counted in Go, in the business time zone).
SELECT sent_at FROM deliveries WHERE campaign_id = ? AND status = 'sent'

-- name: outbox-reached
-- Rebuild: the distinct people sent to.
SELECT COUNT(DISTINCT resident_id) FROM deliveries WHERE campaign_id = ? AND status = 'sent'

-- name: campaigns-not-draft
SELECT id FROM campaigns WHERE status <> 'draft'

-- name: outbox-waiting
-- What is queued but not due yet: waiting for a window (no error code) or for a retry's backoff
-- (the code of its transient failure), and when the first waiting for a window may go.
SELECT COALESCE(SUM(error_code IS NULL), 0) AS win, COALESCE(SUM(error_code IS NOT NULL), 0) AS retry,
    MIN(CASE WHEN error_code IS NULL THEN not_before END) AS until
FROM deliveries WHERE campaign_id = ? AND status = 'queued' AND not_before > ?
