-- +goose Up

-- The progress and monthly reports read enrollment_daily by date: the month so far and the
-- last 28 days. Its primary key starts with the village, so each such SUM read the whole table
-- (type=index, ~80,000 rows at 300 villages × seven years). This key makes them a range of the
-- days asked for (~300 rows a day at most, a month ~9,000, usually far fewer), read from the
-- index alone.
ALTER TABLE enrollment_daily ADD KEY ix_enrollment_daily_day (enrolled_on, village_code, enrolled);

-- New enrollments per village since the plan, maintained by internal/enrollment in the same
-- transaction as enrollment_daily (and so as each enrollments row): the "to date" figure is
-- this total less the days after the date asked for, ~300 rows instead of every village-day.
CREATE TABLE enrollment_totals (
    village_code  VARCHAR(32)  NOT NULL,
    enrolled      INT          NOT NULL,
    PRIMARY KEY (village_code),
    CONSTRAINT fk_enrollment_totals_village FOREIGN KEY (village_code) REFERENCES villages (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO enrollment_totals (village_code, enrolled)
SELECT village_code, SUM(enrolled) FROM enrollment_daily GROUP BY village_code;

-- +goose Down
DROP TABLE enrollment_totals;
ALTER TABLE enrollment_daily DROP KEY ix_enrollment_daily_day;
