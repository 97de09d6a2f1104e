package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/canbao/canbao/internal/config"
)

// TestEngineConfigFollowsTheSettings: every campaigns setting the engine takes reaches it, the
// health thresholds and the scheduler's lease included (they were fixed in code before).
func TestEngineConfigFollowsTheSettings(t *testing.T) {
	env := []string{"CANBAO_MODE=production", "CANBAO_JWT_SECRET=" + strings.Repeat("j", 40),
		"CANBAO_PII_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"CANBAO_CAMPAIGNS_WORKERS=7", "CANBAO_CAMPAIGNS_REMINDERS_FOR_VISIT=4", "CANBAO_CAMPAIGNS_VISITED_RECENTLY_DAYS=2",
		"CANBAO_CAMPAIGNS_LEASE=90s", "CANBAO_CAMPAIGNS_REQUEUE_AFTER=45s",
		"CANBAO_CAMPAIGNS_HEALTH_FAIL_AFTER=6", "CANBAO_CAMPAIGNS_HEALTH_SILENT_AFTER=2m", "CANBAO_CAMPAIGNS_SCHEDULE_LEASE=8s",
		"CANBAO_CAMPAIGNS_SMS_RATE_PER_MINUTE=1200", "CANBAO_CAMPAIGNS_WECHAT_RATE_PER_MINUTE=2400"}
	cfg, err := config.Load(config.Options{Environ: func() []string { return env }})
	if err != nil {
		t.Fatal(err)
	}
	ec := engineConfig(cfg)
	if ec.Workers != 7 || ec.RemindersForVisit != 4 || ec.VisitedRecently != 48*time.Hour || ec.Lease != 90*time.Second ||
		ec.RequeueAfter != 45*time.Second || ec.FailAfter != 6 || ec.StaleAfter != 2*time.Minute || ec.ScheduleLease != 8*time.Second {
		t.Errorf("engine config: %+v", ec)
	}
	if want := map[string]int{"sms": 1200, "wechat": 2400}; !reflect.DeepEqual(ec.ChannelRates, want) {
		t.Errorf("channel rates %v, want %v", ec.ChannelRates, want)
	}
}
