package engine_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/campaigns/channels"
	"github.com/canbao/canbao/campaigns/engine"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/server/servertest"
)

func fastConfig() engine.Config {
	c := engine.DefaultConfig()
	c.Tick, c.ReconcileEvery, c.RequeueAfter, c.Workers = 50*time.Millisecond, 200*time.Millisecond, time.Second, 4
	return c
}

func startEngine(t *testing.T, env *servertest.Env, cfg engine.Config) (cancel func()) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := engine.New(engine.Deps{DB: env.DB, Redis: env.Redis, Prefix: env.Prefix, Keyring: env.Keyring, Rules: env.Rules,
		Location: env.Config.Location(), Log: log, Counters: env.Server.Counters,
		Channels: map[string]channels.Channel{
			campaigns.ChannelLog:       channels.Log{Log: log},
			campaigns.ChannelVisitTask: channels.VisitTask{DB: env.DB, Loc: env.Config.Location()},
		}}, cfg)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	return func() { stop(); <-done }
}

func TestLogCampaignReachesItsAudienceOnce(t *testing.T) {
	env := servertest.New(t)
	for i := 0; i < 30; i++ {
		v := "zhenxing"
		if i%3 == 0 {
			v = "luoxi"
		}
		env.AddResident(servertest.ResidentSpec{Village: v, Age: 30 + i})
	}
	env.AddResident(servertest.ResidentSpec{Village: "zhenxing", Status: "resident_pension"})
	env.AddResident(servertest.ResidentSpec{Village: "luoxi", Age: 66}) // aged out: not a target
	staff, _ := env.Staff(auth.RoleStaff, "")
	w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/campaigns", Token: staff, Body: map[string]any{
		"name": "测试提醒", "segment": map[string]any{"statuses": []string{"unenrolled"}}, "channels": []string{"log"},
		"template": map[string]any{"text": "{{name}}您好，请于{{deadline}}前参保"},
		"schedule": map[string]any{"start_at": time.Now().Add(-time.Minute).Format(time.RFC3339), "window": map[string]string{"from": "00:00", "to": "23:59"}},
	}})
	if w.Code != 201 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var c struct{ ID int64 }
	w.JSON(t, &c)
	id := itoa(c.ID)
	p := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/campaigns/" + id + "/preview", Token: staff})
	if p.Code != 200 || string(p.Body) != `{"audience":30,"by_village":{"luoxi":10,"zhenxing":20},"excluded_out_of_age":1}` {
		t.Fatalf("preview: %s", p.Body)
	}
	if w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/campaigns/" + id + "/schedule", Token: staff}); w.Code != 200 {
		t.Fatalf("schedule: %d %s", w.Code, w.Body)
	}
	stop := startEngine(t, env, fastConfig())
	defer stop()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && env.Count(`SELECT COUNT(*) FROM campaigns WHERE id = ? AND status = 'completed'`, c.ID) == 0 {
		time.Sleep(100 * time.Millisecond)
	}
	if n := env.Count(`SELECT COUNT(*) FROM deliveries WHERE campaign_id = ? AND status = 'sent' AND channel = 'log'`, c.ID); n != 30 {
		t.Fatalf("sent %d", n)
	}
	if n := env.Count(`SELECT COUNT(DISTINCT resident_id) FROM deliveries WHERE campaign_id = ?`, c.ID); n != 30 {
		t.Fatalf("distinct %d", n)
	}
	st := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/campaigns/" + id + "/stats", Token: staff})
	var s struct {
		Targeted, Sent, Queued int
		ByVillage              map[string]map[string]int `json:"by_village"`
	}
	st.JSON(t, &s)
	if s.Targeted != 30 || s.Sent != 30 || s.Queued != 0 || s.ByVillage["luoxi"]["sent"] != 10 {
		t.Fatalf("stats: %s", st.Body)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// The editor's live count: a segment not saved yet is counted as a saved campaign's would be,
// nothing is stored, and a bad segment is refused with its field.
func TestPreviewOfAnUnsavedSegment(t *testing.T) {
	env := servertest.New(t)
	for i := 0; i < 6; i++ {
		v := "zhenxing"
		if i%3 == 0 {
			v = "luoxi"
		}
		env.AddResident(servertest.ResidentSpec{Village: v, Age: 30 + i})
	}
	env.AddResident(servertest.ResidentSpec{Village: "zhenxing", Status: "resident_pension"})
	env.AddResident(servertest.ResidentSpec{Village: "luoxi", Age: 66}) // aged out: not a target
	staff, _ := env.Staff(auth.RoleStaff, "")
	p := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/campaigns/preview", Token: staff,
		Body: map[string]any{"statuses": []string{"unenrolled"}}})
	if p.Code != 200 || string(p.Body) != `{"audience":6,"by_village":{"luoxi":2,"zhenxing":4},"excluded_out_of_age":1}` {
		t.Fatalf("preview: %d %s", p.Code, p.Body)
	}
	p = env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/campaigns/preview", Token: staff,
		Body: map[string]any{"statuses": []string{"unenrolled"}, "villages": []string{"luoxi"}, "age_max": 31}})
	if p.Code != 200 || string(p.Body) != `{"audience":1,"by_village":{"luoxi":1},"excluded_out_of_age":0}` {
		t.Fatalf("preview luoxi ≤31: %d %s", p.Code, p.Body)
	}
	if w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/campaigns/preview", Token: staff,
		Body: map[string]any{"age_min": 50, "age_max": 20}}); w.Code != 400 || !strings.Contains(string(w.Body), `"field":"segment.age_min"`) {
		t.Fatalf("bad segment: %d %s", w.Code, w.Body)
	}
	if w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/campaigns/preview", Token: staff,
		Body: map[string]any{"colour": "red"}}); w.Code != 400 {
		t.Fatalf("unknown field: %d %s", w.Code, w.Body)
	}
	vol, _ := env.Staff(auth.RoleVolunteer, "zhenxing")
	if w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/campaigns/preview", Token: vol, Body: map[string]any{}}); w.Code != 403 {
		t.Fatalf("volunteer: %d %s", w.Code, w.Body)
	}
	if n := env.Count(`SELECT COUNT(*) FROM campaigns`); n != 0 {
		t.Fatalf("campaigns stored: %d", n)
	}
}
