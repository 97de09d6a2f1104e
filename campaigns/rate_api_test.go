package campaigns_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/config"
	"github.com/canbao/canbao/internal/server/servertest"
)

// createWithRate posts a campaign on the given channels, with rate_per_minute unless rate is 0.
func createWithRate(t *testing.T, env *servertest.Env, staff string, channels []string, rate int) *servertest.Response {
	t.Helper()
	tmpl := map[string]any{"text": "{{name}}您好，请于{{deadline}}前参保"}
	for _, ch := range channels {
		if ch == "sms" {
			tmpl["sms"] = map[string]any{"sign_name": env.Config.Campaigns.SMSSignName, "template_code": "SMS_123456789"}
		}
	}
	body := map[string]any{
		"name": "限速", "segment": map[string]any{"statuses": []string{"unenrolled"}}, "channels": channels, "template": tmpl,
		"schedule": map[string]any{"start_at": time.Now().Add(time.Hour).Format(time.RFC3339), "window": map[string]string{"from": "00:00", "to": "23:59"}},
	}
	if rate != 0 {
		body["rate_per_minute"] = rate
	}
	return env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/campaigns", Token: staff, Body: body})
}

// TestRateAboveTheChannelLimitIsRefused: the rate limit belongs to the channel. A campaign
// asking for more than its SMS limit is refused on rate_per_minute, naming the channel and
// its limit, and nothing is stored; a log-only campaign (log is not throttled) may ask for
// 100,000 a minute; a campaign that asks for no rate stores none (as fast as its channels allow).
func TestRateAboveTheChannelLimitIsRefused(t *testing.T) {
	env := servertest.New(t, func(c *config.Config) { c.Campaigns.SMSRatePerMinute = 3000 })
	staff, _ := env.Staff(auth.RoleStaff, "")

	w := createWithRate(t, env, staff, []string{"log", "sms"}, 3001)
	if w.Code != 400 || w.ErrorCode() != "INVALID_INPUT" || w.ErrorField() != "rate_per_minute" {
		t.Fatalf("above the SMS limit: %d %s", w.Code, w.Body)
	}
	if body := string(w.Body); !strings.Contains(body, "短信") || !strings.Contains(body, "3000") {
		t.Errorf("the message names neither the channel nor its limit: %s", body)
	}
	if n := env.Count(`SELECT COUNT(*) FROM campaigns`); n != 0 {
		t.Fatalf("%d campaigns stored after a refusal", n)
	}

	if w := createWithRate(t, env, staff, []string{"sms"}, 3000); w.Code != 201 {
		t.Fatalf("at the SMS limit: %d %s", w.Code, w.Body)
	}
	w = createWithRate(t, env, staff, []string{"log"}, 100000)
	if w.Code != 201 {
		t.Fatalf("log-only at 100,000/min: %d %s", w.Code, w.Body)
	}
	var c struct {
		ID            int64
		RatePerMinute *int `json:"rate_per_minute"`
	}
	get := func(w *servertest.Response) {
		t.Helper()
		w.JSON(t, &c)
		c.RatePerMinute = nil
		env.Do(servertest.Request{Path: "/api/v1/admin/campaigns/" + strconv.FormatInt(c.ID, 10), Token: staff}).JSON(t, &c)
	}
	get(w)
	if c.RatePerMinute == nil || *c.RatePerMinute != 100000 {
		t.Fatalf("rate_per_minute = %v, want 100000", c.RatePerMinute)
	}
	w = createWithRate(t, env, staff, []string{"sms", "log"}, 0)
	if w.Code != 201 {
		t.Fatalf("no rate: %d %s", w.Code, w.Body)
	}
	get(w)
	if c.RatePerMinute != nil {
		t.Fatalf("no rate asked, rate_per_minute = %d stored: want none (the channels' limits)", *c.RatePerMinute)
	}
	if w := createWithRate(t, env, staff, []string{"log"}, -5); w.Code != 400 || w.ErrorField() != "rate_per_minute" {
		t.Fatalf("negative rate: %d %s", w.Code, w.Body)
	}
}
