// Package campaigns is canbao's outreach engine: propaganda staff define a segment of the
// roster, a fallback chain of channels (WeChat subscribe message, SMS, a door-to-door visit
// task) and a schedule; the engine freezes each run's audience into a MySQL delivery outbox
// and sends through rate-limited workers fed by Redis Streams, never twice to one person.
//
// Layout: campaign.go (the model and its validation), segment.go (segments as SQL),
// template.go (placeholders and channel limits), store.go and api.go (the staff endpoints),
// status.go (the state machine, Move), outbox.go (the writes of runs and deliveries: this
// package owns campaigns, campaign_runs and deliveries, and the engine calls it),
// queries.sql (their named SQL), engine/ (scheduler, snapshot, feeder, workers, reconciler),
// channels/ (wechat, sms, visit_task, log), counters/ (live Redis counters, rebuilt from the
// outbox).
package campaigns
