-- +goose Up

-- The reasons analysis (internal/analysis) reads the visits of a window of days (a month for
-- the bulletin, at most a year) and picks each person's latest. Without an index on the day
-- MariaDB read every resident and looked up their visits one by one (measured with
-- BenchmarkReasons, 100,000 visits of 60,000 people: 282 ms for the query of one month); with
-- it, it reads the month's range (8,257 visits) and sorts them: 52 ms.
ALTER TABLE visits ADD KEY ix_visits_visited (visited_at);

-- +goose Down
ALTER TABLE visits DROP KEY ix_visits_visited;
