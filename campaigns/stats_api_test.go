package campaigns_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/campaigns/counters"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/web"
	"github.com/canbao/canbao/internal/server/servertest"
)

// TestStatsConvertedByDay: the stats carry the campaign's conversions per Asia/Shanghai day
// (the day the person enrolled), keyed like by_day, summing to converted; an enrollment at
// 17:30 UTC is the next Shanghai day. They stay the same when Redis has lost the counters.
func TestStatsConvertedByDay(t *testing.T) {
	env := servertest.New(t)
	staff, _ := env.Staff(auth.RoleStaff, "")
	loc := env.Config.Location()
	id := newCampaign(t, env, staff, "按日转化")
	other := newCampaign(t, env, staff, "另一活动")

	now := database.Now()
	run := func(campaign int64) int64 {
		res, err := env.DB.Exec(`INSERT INTO campaign_runs (campaign_id, run_no, status, targeted, started_at, completed_at)
			VALUES (?, 1, 'completed', 0, ?, ?)`, campaign, now, now)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := res.LastInsertId()
		return n
	}
	runID, otherRun := run(id), run(other)
	send := func(campaign, run, resident int64, village string, at time.Time) {
		env.Exec(`INSERT INTO deliveries (campaign_id, run_id, resident_id, village_code, status, channel, sent_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, 'sent', 'log', ?, ?, ?)`, campaign, run, resident, village, at, now, now)
	}
	// Sent 2026-11-28 17:00 UTC: 2026-11-29 in Shanghai.
	sentAt := time.Date(2026, 11, 28, 17, 0, 0, 0, time.UTC)
	people := make([]int64, 6)
	for i := range people {
		village := "zhenxing"
		if i%2 == 1 {
			village = "luoxi"
		}
		people[i], _ = env.AddResident(servertest.ResidentSpec{Village: village})
		if i < 5 {
			send(id, runID, people[i], village, sentAt)
		}
	}
	send(other, otherRun, people[5], "luoxi", sentAt) // another campaign's conversion
	// An old delivery, outside the attribution window of the enrollment: no conversion.
	old, _ := env.AddResident(servertest.ResidentSpec{})
	send(id, runID, old, "zhenxing", sentAt.AddDate(0, 0, -60))

	rec := enrollment.New(loc, env.Config.Campaigns.AttributionDays)
	enroll := func(resident int64, at time.Time) {
		err := database.InTx(t.Context(), env.DB, func(tx *sqlx.Tx) error {
			counted, err := rec.Record(t.Context(), tx, enrollment.Enrollment{ResidentID: resident, Village: "zhenxing",
				Scheme: "resident_pension", Source: enrollment.SourceRegistration, SourceID: resident, Day: web.Today(at, loc)})
			if err == nil && !counted {
				t.Errorf("resident %d: the enrollment did not count", resident)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	enroll(people[0], time.Date(2026, 12, 1, 15, 30, 0, 0, time.UTC)) // 23:30 on 12-01 in Shanghai
	enroll(people[1], time.Date(2026, 12, 1, 17, 30, 0, 0, time.UTC)) // 01:30 on 12-02
	enroll(people[2], time.Date(2026, 12, 2, 15, 59, 0, 0, time.UTC)) // 23:59 on 12-02
	enroll(people[5], time.Date(2026, 12, 1, 17, 30, 0, 0, time.UTC)) // the other campaign's
	enroll(old, time.Date(2026, 12, 1, 17, 30, 0, 0, time.UTC))       // not attributed

	type stats struct {
		Converted      int64            `json:"converted"`
		Sent           int64            `json:"sent"`
		ByDay          map[string]int64 `json:"by_day"`
		ConvertedByDay map[string]int64 `json:"converted_by_day"`
	}
	read := func() stats {
		t.Helper()
		w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/campaigns/" + strconv.FormatInt(id, 10) + "/stats", Token: staff})
		if w.Code != 200 {
			t.Fatalf("stats: %d %s", w.Code, w.Body)
		}
		var s stats
		if err := json.Unmarshal(w.Body, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	check := func(when string, s stats) {
		t.Helper()
		want := map[string]int64{"20261201": 1, "20261202": 2}
		if s.Converted != 3 || len(s.ConvertedByDay) != len(want) {
			t.Errorf("%s: converted %d, converted_by_day %v; want 3, %v", when, s.Converted, s.ConvertedByDay, want)
		}
		var sum int64
		for d, n := range s.ConvertedByDay {
			sum += n
			if want[d] != n {
				t.Errorf("%s: converted_by_day[%s] = %d, want %d", when, d, n, want[d])
			}
		}
		if sum != s.Converted {
			t.Errorf("%s: converted_by_day sums to %d, converted is %d", when, sum, s.Converted)
		}
		if s.Sent != 6 || len(s.ByDay) != 2 || s.ByDay["20261129"] != 5 || s.ByDay["20260930"] != 1 {
			t.Errorf("%s: sent %d, by_day %v", when, s.Sent, s.ByDay)
		}
	}
	check("first read (rebuilt from MySQL)", read())
	// Redis loses the counters: the next read rebuilds them from the outbox.
	if n, err := env.Redis.Del(t.Context(), env.Prefix+"cstat:"+counters.Tag(id)).Result(); err != nil || n != 1 {
		t.Fatalf("DEL the counters: %d, %v", n, err)
	}
	check("after Redis lost the counters", read())
	env.Server.Counters.Forget(t.Context(), id)
	check("after the counters were forgotten", read())
}

// newCampaign creates a draft campaign on the log channel through the API.
func newCampaign(t *testing.T, env *servertest.Env, staff, name string) int64 {
	t.Helper()
	w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/campaigns", Token: staff, Body: map[string]any{
		"name": name, "segment": map[string]any{"statuses": []string{"unenrolled"}}, "channels": []string{"log"},
		"template": map[string]any{"text": "{{name}}您好，请于{{deadline}}前参保"},
		"schedule": map[string]any{"start_at": time.Now().Add(time.Hour).Format(time.RFC3339), "window": map[string]string{"from": "00:00", "to": "23:59"}},
	}})
	if w.Code != 201 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var c struct{ ID int64 }
	w.JSON(t, &c)
	return c.ID
}
