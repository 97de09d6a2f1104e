-- name: conversions-of-campaign
-- A campaign's conversions (the enrollments credited to it, see internal/enrollment) by
-- village, channel and the day the person enrolled (a civil date in the business time zone):
-- the one source of converted, its village and channel slices and converted_by_day, so they
-- always add up.
SELECT village_code, channel, converted_on, COUNT(*) AS n
FROM conversions WHERE campaign_id = ?
GROUP BY village_code, channel, converted_on
