package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/campaigns/channels"
	"github.com/canbao/canbao/campaigns/channels/sms"
	"github.com/canbao/canbao/campaigns/channels/sms/smstest"
	"github.com/canbao/canbao/campaigns/engine"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/config"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/dbtest"
	"github.com/canbao/canbao/internal/server/servertest"
	"github.com/canbao/canbao/internal/wechat/wechattest"
)

// TestNoPersonalDataInRedisOrLogsAfterAFullRun runs a resident's journey, staff work and a
// WeChat + SMS campaign through the engine, then scans every answer (servertest does), every
// log line, and a dump of every Redis key and value for ID numbers, phones, openids and
// session keys.
func TestNoPersonalDataInRedisOrLogsAfterAFullRun(t *testing.T) {
	const openid, sessionKey = "oSCAN-openid-bbbbbbbbbbbbbbbbbbbb", "U0NBTi1zZXNzaW9uLWtleS0xMjM0NTY="
	wx := wechattest.NewServer(t, "wx-app", "wx-secret-0123456789")
	wx.AddCode("scan-code", openid, sessionKey)
	smsFake := smstest.NewServer(t, "sms-key", "sms-secret")
	env := servertest.New(t, func(c *config.Config) {
		c.WeChat.APIBase, c.WeChat.AppID, c.WeChat.Secret = wx.URL, "wx-app", "wx-secret-0123456789"
	})
	ctx := context.Background()
	tmpl := env.Config.WeChat.Templates()[0]

	// A resident logs in, consents, registers (which links the account to the person).
	w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/auth/wechat", Body: map[string]string{"code": "scan-code"}})
	var login struct{ Token string }
	w.JSON(t, &login)
	env.Do(servertest.Request{Method: "POST", Path: "/api/v1/subscriptions", Token: login.Token, Body: map[string]any{"template_id": tmpl, "count": 2}})
	y, m, d := time.Now().Date()
	idNumber := idcard.Generate("350583", time.Date(y-35, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -3), 7, idcard.Male)
	reg := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/registrations", Token: login.Token, Body: map[string]any{
		"name": "扫描", "id_number": idNumber, "phone": "13612345678", "village_code": "zhenxing", "employed": false,
		"land_expropriated": false, "scheme": "employee_pension"}})
	if reg.Code != 201 {
		t.Fatalf("register: %d %s", reg.Code, reg.Body)
	}
	// Others on the roster with phones; a volunteer visits one.
	var phones []string
	for i := 0; i < 5; i++ {
		p := fmt.Sprintf("1391234%04d", i)
		phones = append(phones, p)
		env.AddResident(servertest.ResidentSpec{Village: "luoxi", Phone: p})
	}
	vol, _ := env.Staff(auth.RoleVolunteer, "luoxi")
	var someone int64
	_ = env.DB.Get(&someone, `SELECT id FROM residents WHERE village_code = 'luoxi' LIMIT 1`)
	env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/visits", Token: vol, Body: map[string]any{
		"client_id": uuid.NewString(), "resident_id": someone, "visited_at": time.Now().Add(-30 * 24 * time.Hour).Format(time.RFC3339), "outcome": "considering", "reason": "unwilling"}})

	// A campaign over everyone unenrolled: WeChat first, then SMS, then a visit task.
	staff, _ := env.Staff(auth.RoleStaff, "")
	cw := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/campaigns", Token: staff, Body: map[string]any{
		"name": "扫描活动", "segment": map[string]any{"statuses": []string{"unenrolled"}}, "channels": []string{"wechat", "sms", "visit_task"},
		"template": map[string]any{"text": "{{name}}您好，请于{{deadline}}前参保",
			"wechat": map[string]any{"template_id": tmpl, "data": map[string]string{"thing1": "{{name}}", "date2": "{{deadline}}"}},
			"sms":    map[string]any{"sign_name": "罗东镇劳保所", "template_code": "SMS_123456789", "params": map[string]string{"name": "{{name}}"}}},
		"schedule": map[string]any{"start_at": time.Now().Add(-time.Minute).Format(time.RFC3339), "window": map[string]string{"from": "00:00", "to": "23:59"}},
	}})
	if cw.Code != 201 {
		t.Fatalf("campaign: %d %s", cw.Code, cw.Body)
	}
	var camp struct{ ID int64 }
	cw.JSON(t, &camp)
	env.Do(servertest.Request{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/campaigns/%d/schedule", camp.ID), Token: staff})

	ec := engine.DefaultConfig()
	ec.Tick, ec.ReconcileEvery, ec.Workers, ec.SMSWindow = 50*time.Millisecond, 200*time.Millisecond, 2, [2]int{0, 24*60 - 1}
	e := engine.New(engine.Deps{DB: env.DB, Redis: env.Redis, Prefix: env.Prefix, Keyring: env.Keyring, Rules: env.Rules,
		Location: env.Config.Location(), Log: env.Server.Log, Counters: env.Server.Counters,
		Channels: map[string]channels.Channel{
			campaigns.ChannelWeChat:    channels.WeChat{Client: env.Server.WeChat},
			campaigns.ChannelSMS:       channels.SMS{Client: sms.NewClient(sms.Config{APIBase: smsFake.URL, AccessKeyID: "sms-key", AccessKeySecret: "sms-secret"}, env.Server.Log)},
			campaigns.ChannelVisitTask: channels.VisitTask{DB: env.DB, Loc: env.Config.Location()},
		}}, ec)
	ectx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = e.Run(ectx); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && env.Count(`SELECT COUNT(*) FROM campaigns WHERE id = ? AND status = 'completed'`, camp.ID) == 0 {
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	<-done
	if len(wx.Sent()) != 1 || smsFake.Count() != 5 {
		var rows []string
		_ = env.DB.Select(&rows, `SELECT CONCAT_WS(",", status, COALESCE(skip_reason,""), COALESCE(channel,""), COALESCE(error_code,"")) FROM deliveries`)
		t.Fatalf("wechat %d, sms %d: %v", len(wx.Sent()), smsFake.Count(), rows)
	}
	env.Do(servertest.Request{Method: "GET", Path: fmt.Sprintf("/api/v1/admin/campaigns/%d/stats", camp.ID), Token: staff})

	secrets := append([]string{openid, sessionKey, idNumber, "13612345678"}, phones...)
	scan := func(where, text string) {
		t.Helper()
		if pii.ContainsPII(text) {
			t.Errorf("%s carries an ID number or phone: %.300s", where, text)
		}
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s carries %q", where, s[:6]+"…")
			}
		}
	}
	scan("the logs", env.Logs.String())
	keys, err := dbtest.Keys(ctx, env.Redis, env.Prefix+"*")
	if err != nil || len(keys) == 0 {
		t.Fatalf("redis keys: %v %d", err, len(keys))
	}
	for _, k := range keys {
		scan("a Redis key", k)
		var dump string
		switch env.Redis.Type(ctx, k).Val() {
		case "string":
			dump = env.Redis.Get(ctx, k).Val()
		case "hash":
			dump = fmt.Sprint(env.Redis.HGetAll(ctx, k).Val())
		case "set":
			dump = fmt.Sprint(env.Redis.SMembers(ctx, k).Val())
		case "stream":
			dump = fmt.Sprint(env.Redis.XRange(ctx, k, "-", "+").Val())
		case "zset":
			dump = fmt.Sprint(env.Redis.ZRangeWithScores(ctx, k, 0, -1).Val())
		}
		scan("Redis value of "+k, dump)
	}
}
