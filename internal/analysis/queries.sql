-- The reasons analysis reads visits and residents; it writes nothing.

-- name: villages
-- Every village in the annex's order (the rows of the by-village breakdown).
SELECT code, name FROM villages ORDER BY sort_order, code

-- name: visits-in-window
-- Every visit in the window (the figure the latest-visit rule starts from), in one village or
-- all. Arguments: window start, window end (exclusive), known-by cutoff or NULL (twice),
-- village or '' (twice).
SELECT COUNT(*) FROM visits
WHERE visited_at >= ? AND visited_at < ?
  AND (? IS NULL OR created_at <= ?)
  AND (? = '' OR village_code = ?)

-- name: latest-visits-grouped
-- Each person's latest visit in the window (latest visited_at, then the highest id, as the
-- roster's last visit is chosen), counted by the visit's village, the person's gender, age band
-- on the window's last day, outcome and reason. The village filter applies to the latest visit,
-- so a person visited in two villages counts once, in the later one, and the villages add up
-- to the town. Arguments: the four age bands' birth-date bounds (earliest, latest, eight dates),
-- window start, window end (exclusive), known-by cutoff or NULL (twice), village or '' (twice).
SELECT l.village_code, r.gender,
    CASE WHEN r.birth_date BETWEEN ? AND ? THEN '16-29'
         WHEN r.birth_date BETWEEN ? AND ? THEN '30-39'
         WHEN r.birth_date BETWEEN ? AND ? THEN '40-44'
         WHEN r.birth_date BETWEEN ? AND ? THEN '45-59'
         ELSE 'other' END AS age_band,
    l.outcome, COALESCE(l.reason, '') AS reason, COUNT(*) AS n
FROM (
    SELECT resident_id, village_code, outcome, reason,
        ROW_NUMBER() OVER (PARTITION BY resident_id ORDER BY visited_at DESC, id DESC) AS rn
    FROM visits
    WHERE visited_at >= ? AND visited_at < ?
      AND (? IS NULL OR created_at <= ?)
) l JOIN residents r ON r.id = l.resident_id
WHERE l.rn = 1 AND (? = '' OR l.village_code = ?)
GROUP BY l.village_code, r.gender, age_band, l.outcome, reason
ORDER BY NULL
