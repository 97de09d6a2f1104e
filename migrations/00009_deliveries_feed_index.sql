-- +goose Up

-- The feeder's and the reconciler's index: a run's unfed deliveries (status 'queued',
-- enqueued_at NULL) lie together in id order, so the feeder reads a page of them from the last
-- id fed (deliveries-to-feed) instead of walking the run's fed-but-queued rows; and those fed
-- before a time are a range too (deliveries-to-refeed, which read every queued delivery of
-- every running campaign). It replaces ix_deliveries_run_status (run_id, status, id), whose
-- (run_id, status) prefix it keeps (runs-done, run-pending), so a status change still updates
-- one index of this kind, not two.
ALTER TABLE deliveries ADD KEY ix_deliveries_run_feed (run_id, status, enqueued_at, id);
ALTER TABLE deliveries DROP KEY ix_deliveries_run_status;

-- +goose Down
ALTER TABLE deliveries ADD KEY ix_deliveries_run_status (run_id, status, id);
ALTER TABLE deliveries DROP KEY ix_deliveries_run_feed;
