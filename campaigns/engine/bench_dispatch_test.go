package engine_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/campaigns/channels"
	"github.com/canbao/canbao/campaigns/engine"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/server/servertest"
)

// BenchmarkDispatch compares the worker's batched dispatch of a log campaign (ProcessBatch,
// 16 goroutines, batches of 200, no throttle) with the raw per-delivery work on the same rows:
// the claim UPDATE … IN, the sent UPDATE … IN and two HINCRBY per delivery in one pipeline,
// batches of 200, 16 goroutines. Run with -benchtime=1x; CANBAO_BENCH_N sets the audience
// (default 3000).
func BenchmarkDispatch(b *testing.B) {
	n := 3000
	if s, err := strconv.Atoi(getenv("CANBAO_BENCH_N")); err == nil && s > 0 {
		n = s
	}
	env := servertest.New(b)
	for i := 0; i < n; i++ {
		env.AddResident(servertest.ResidentSpec{Village: "zhenxing", Age: 30 + i/1400})
	}
	staff, _ := env.Staff(auth.RoleStaff, "")
	w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/campaigns", Token: staff, Body: map[string]any{
		"name": "压测", "segment": map[string]any{"statuses": []string{"unenrolled"}}, "channels": []string{"log"},
		"template": map[string]any{"text": "{{name}}您好，请于{{deadline}}前参保"}, "rate_per_minute": 10000,
		"schedule": map[string]any{"start_at": time.Now().Add(-time.Minute).Format(time.RFC3339), "window": map[string]string{"from": "00:00", "to": "23:59"}},
	}})
	if w.Code != 201 {
		b.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var c struct{ ID int64 }
	w.JSON(b, &c)
	env.Exec(`UPDATE campaigns SET spec = JSON_SET(spec, '$.rate_per_minute', 100000000) WHERE id = ?`, c.ID)
	if w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/campaigns/" + itoa(c.ID) + "/schedule", Token: staff}); w.Code != 200 {
		b.Fatalf("schedule: %d %s", w.Code, w.Body)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := fastConfig()
	cfg.Workers = 0
	e := engine.New(engine.Deps{DB: env.DB, Redis: env.Redis, Prefix: env.Prefix, Keyring: env.Keyring, Rules: env.Rules,
		Location: env.Config.Location(), Log: log, Counters: env.Server.Counters,
		Channels: map[string]channels.Channel{
			campaigns.ChannelLog:       channels.Log{Log: log},
			campaigns.ChannelVisitTask: channels.VisitTask{DB: env.DB, Loc: env.Config.Location()},
		}}, cfg)
	engine.ReconcileOnDemand(e)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	defer func() { stop(); <-done }()
	for deadline := time.Now().Add(60 * time.Second); env.Count(`SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ? AND status = 'dispatching'`, c.ID) == 0; {
		if time.Now().After(deadline) {
			b.Fatal("no snapshot")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var ids []int64
	if err := env.DB.Select(&ids, `SELECT id FROM deliveries WHERE campaign_id = ? ORDER BY id`, c.ID); err != nil {
		b.Fatal(err)
	}
	chunks := make(chan []int64, len(ids)/200+1)
	fill := func() {
		for i := 0; i < len(ids); i += 200 {
			chunks <- ids[i:min(i+200, len(ids))]
		}
	}
	run := func(fn func([]int64) error) float64 {
		fill()
		start := time.Now()
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case ch := <-chunks:
						if err := fn(ch); err != nil {
							b.Error(err)
						}
					default:
						return
					}
				}
			}()
		}
		wg.Wait()
		return float64(len(ids)) / time.Since(start).Seconds()
	}
	key := env.Prefix + "bench:raw"
	raw := run(func(ch []int64) error {
		args := []any{database.Now().Add(time.Minute), database.Now()}
		marks := "?" + repeat(",?", len(ch)-1)
		for _, id := range ch {
			args = append(args, id)
		}
		if _, err := env.DB.Exec(`UPDATE deliveries SET status = 'sending', attempts = attempts + 1, lease_until = ?, updated_at = ?
			WHERE id IN (`+marks+`) AND status = 'queued'`, args...); err != nil {
			return err
		}
		args[0] = database.Now()
		if _, err := env.DB.Exec(`UPDATE deliveries SET status = 'sent', channel = 'log', provider_msg_id = CONCAT('log-', id), sent_at = ?,
			lease_until = NULL, updated_at = ? WHERE id IN (`+marks+`) AND status = 'sending'`, args...); err != nil {
			return err
		}
		pipe := env.Redis.Pipeline()
		for range ch {
			pipe.HIncrBy(ctx, key, "status:sent", 1)
			pipe.HIncrBy(ctx, key, "vil:zhenxing:sent", 1)
		}
		_, err := pipe.Exec(ctx)
		return err
	})
	env.Exec(`UPDATE deliveries SET status = 'queued', attempts = 0, channel = NULL, provider_msg_id = NULL, sent_at = NULL, lease_until = NULL WHERE campaign_id = ?`, c.ID)
	if err := env.Server.Counters.Rebuild(ctx, c.ID); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	batched := run(func(ch []int64) error { return engine.ProcessBatch(ctx, e, ch) })
	b.StopTimer()
	if got := env.Count(`SELECT COUNT(*) FROM deliveries WHERE campaign_id = ? AND status = 'sent'`, c.ID); got != len(ids) {
		b.Fatalf("%d of %d sent", got, len(ids))
	}
	b.ReportMetric(batched, "batched/s")
	b.ReportMetric(raw, "raw/s")
	b.ReportMetric(batched/raw, "ratio")
}

func getenv(k string) string { return os.Getenv(k) }

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}
