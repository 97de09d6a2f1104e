//go:build drills

package drills

// Campaign drills' helpers: an audience with WeChat accounts and consents, counting fake
// providers, campaign creation through the API, and the outbox, provider and stats checks.

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns/channels/sms/smstest"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/web"
	"github.com/canbao/canbao/internal/targetage"
	"github.com/canbao/canbao/internal/wechat/wechattest"
)

const wechatTemplate = "tmpl-canbao-reminder"

// middayZone is an Etc/GMT zone where it is about 13:00 now, so the SMS window (08:00-20:00
// business time) and any daily window are open whatever the hour of the run. Etc/GMT+N is
// UTC-N.
func middayZone() string {
	off := 13 - time.Now().UTC().Hour() // wanted UTC offset in hours
	if off < -12 {
		off += 24
	}
	if off > 14 {
		off -= 24
	}
	switch {
	case off == 0:
		return "Etc/GMT"
	case off > 0:
		return fmt.Sprintf("Etc/GMT-%d", off)
	default:
		return fmt.Sprintf("Etc/GMT+%d", -off)
	}
}

// member is one person of a campaign's audience.
type member struct {
	resident int64
	village  string
	openid   string // "" without a mini-program account
	consent  int    // remaining WeChat consents
	phone    string // "" without a phone on file
}

// audience is everyone a campaign's segment selects, with what the drill gave them.
type audience struct {
	villages    []string
	members     map[int64]*member
	byOpenID    map[string]int64
	byPhone     map[string]int64
	refused     map[int64]bool // WeChat answers 43101 (consent refused) for them
	blacklisted map[int64]bool // the SMS provider answers isv.BLACK_KEY_CONTROL_LIMIT for them
}

// injectFailures makes every fake refuse some people: WeChat 43101 for openids of residents
// whose id ends in 07 or 57 (the engine falls back to SMS), SMS blacklisting for phones of
// residents whose id ends in 13 or 63 (permanent: failed).
func (a *audience) injectFailures(fs ...*fakes) {
	a.refused, a.blacklisted = map[int64]bool{}, map[int64]bool{}
	for rid, m := range a.members {
		if m.openid != "" && rid%50 == 7 {
			a.refused[rid] = true
			for _, f := range fs {
				f.wechat.RefuseConsent(m.openid, wechatTemplate)
			}
		}
		if m.phone != "" && rid%50 == 13 {
			a.blacklisted[rid] = true
			for _, f := range fs {
				f.sms.FailPhone(m.phone, "isv.BLACK_KEY_CONTROL_LIMIT")
			}
		}
	}
}

// expected is the outcome the campaign must reach for m (status, channel or skip reason).
func (a *audience) expected(m *member) (status, detail string) {
	switch {
	case m.openid != "" && m.consent > 0 && !a.refused[m.resident]:
		return "sent", "wechat"
	case m.phone != "" && !a.blacklisted[m.resident]:
		return "sent", "sms"
	case m.phone != "" || a.refused[m.resident]:
		return "failed", ""
	case m.openid != "":
		return "skipped", "no_consent"
	default:
		return "skipped", "no_contact"
	}
}

// prepareAudience takes the unenrolled people of villages aged 16-59 today (the only ones a
// segment selects; the seed's 2019 roster has aged) and gives wechatPct percent of them a
// mini-program account (openid o-drill-<id>) with one consent for the reminder template, and
// noConsentPct percent an account whose consent is used up.
func (e *env) prepareAudience(villages []string, wechatPct, noConsentPct int) *audience {
	e.t.Helper()
	a := &audience{villages: villages, members: map[int64]*member{}, byOpenID: map[string]int64{}, byPhone: map[string]int64{},
		refused: map[int64]bool{}, blacklisted: map[int64]bool{}}
	loc, _ := time.LoadLocation("Asia/Shanghai")
	earliest, latest := targetage.Range(web.Today(time.Now(), loc))
	q := `SELECT id, village_code, phone_enc, pii_key_id FROM residents WHERE status = 'unenrolled' AND opted_out = 0
		AND birth_date BETWEEN ? AND ? AND village_code IN (?` + strings.Repeat(",?", len(villages)-1) + `)`
	args := []any{earliest, latest}
	for _, v := range villages {
		args = append(args, v)
	}
	var rows []struct {
		ID      int64  `db:"id"`
		Village string `db:"village_code"`
		Phone   []byte `db:"phone_enc"`
		KeyID   string `db:"pii_key_id"`
	}
	if err := e.db.Select(&rows, q, args...); err != nil {
		e.t.Fatal(err)
	}
	now := time.Now().UTC()
	tx := e.db.MustBegin()
	for _, r := range rows {
		m := &member{resident: r.ID, village: r.Village}
		if len(r.Phone) > 0 {
			p, err := e.kr.Decrypt(r.Phone, r.KeyID, pii.AADResidentPhone)
			if err != nil {
				e.t.Fatal(err)
			}
			m.phone = p
			a.byPhone[p] = r.ID
		}
		if pct := int(r.ID % 100); pct < wechatPct+noConsentPct {
			m.openid = fmt.Sprintf("o-drill-%d", r.ID)
			if pct < wechatPct {
				m.consent = 1
			}
			res := tx.MustExec(`INSERT INTO resident_accounts (openid, resident_id, created_at, last_login_at) VALUES (?, ?, ?, ?)`, m.openid, r.ID, now, now)
			acc, _ := res.LastInsertId()
			tx.MustExec(`INSERT INTO subscription_consents (account_id, template_id, remaining, granted_total, updated_at) VALUES (?, ?, ?, 1, ?)`,
				acc, wechatTemplate, m.consent, now)
			a.byOpenID[m.openid] = r.ID
		}
		a.members[r.ID] = m
	}
	if err := tx.Commit(); err != nil {
		e.t.Fatal(err)
	}
	withPhone, withConsent := 0, 0
	for _, m := range a.members {
		if m.phone != "" {
			withPhone++
		}
		if m.consent > 0 {
			withConsent++
		}
	}
	e.logf("audience %v: %d unenrolled people, %d with a WeChat account (%d with a consent left), %d with a phone",
		villages, len(a.members), len(a.byOpenID), withConsent, withPhone)
	return a
}

// fakes are the provider fakes one canbao process talks to.
type fakes struct {
	name   string
	wechat *wechattest.Server
	sms    *smstest.Server
	appID  string
	keyID  string
}

// newFakes starts a fake WeChat and a fake SMS provider (httptest, in this process, on
// 127.0.0.1) and returns them with the variables that point a canbao process at them. The
// fakes take any rate, so the channels' send limits are raised to 12,000 a minute: the drills'
// campaigns ask for up to 6,000, above the SMS channel's default limit.
func newFakes(t *testing.T, name string) (*fakes, map[string]string) {
	f := &fakes{name: name, appID: "wxdrill" + name, keyID: "drillkey" + name}
	f.wechat = wechattest.NewServer(t, f.appID, "drill-wechat-secret")
	f.sms = smstest.NewServer(t, f.keyID, "drill-sms-secret")
	return f, map[string]string{
		"CANBAO_WECHAT_API_BASE": f.wechat.URL, "CANBAO_WECHAT_APPID": f.appID, "CANBAO_WECHAT_SECRET": "drill-wechat-secret",
		"CANBAO_SMS_API_BASE": f.sms.URL, "CANBAO_SMS_ACCESS_KEY_ID": f.keyID, "CANBAO_SMS_ACCESS_KEY_SECRET": "drill-sms-secret",
		"CANBAO_CAMPAIGNS_SMS_RATE_PER_MINUTE": "12000", "CANBAO_CAMPAIGNS_WECHAT_RATE_PER_MINUTE": "12000",
	}
}

// campaignSpec is a WeChat-then-SMS reminder to the unenrolled of villages.
func campaignSpec(name string, villages []string, ratePerMinute int) map[string]any {
	return map[string]any{
		"name":     name,
		"segment":  map[string]any{"villages": villages, "statuses": []string{"unenrolled"}},
		"channels": []string{"wechat", "sms"},
		"template": map[string]any{
			"text": "{{name}}您好，城乡居民养老保险缴费截止{{deadline}}，请及时参保。",
			"wechat": map[string]any{"template_id": wechatTemplate, "page": "pages/index/index",
				"data": map[string]string{"thing1": "{{name}}", "time2": "{{deadline}}"}},
			"sms": map[string]any{"sign_name": "罗东镇劳保所", "template_code": "SMS_276450001",
				"params": map[string]string{"name": "{{name}}"}},
		},
		"schedule": map[string]any{
			"start_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339),
			"window":   map[string]string{"from": "00:00", "to": "23:59"},
		},
		"rate_per_minute": ratePerMinute,
	}
}

// createCampaign creates a campaign through the API (a draft) and returns its id.
func (e *env) createCampaign(p *proc, staff string, spec map[string]any) int64 {
	e.t.Helper()
	var c struct{ ID int64 }
	e.mustCall("POST", p.url("/api/v1/admin/campaigns"), staff, spec, 201, &c)
	var pv struct {
		Audience int `json:"audience"`
	}
	e.mustCall("POST", p.url(fmt.Sprintf("/api/v1/admin/campaigns/%d/preview", c.ID)), staff, nil, 200, &pv)
	e.logf("campaign %d created: %q, preview says %d people", c.ID, spec["name"], pv.Audience)
	return c.ID
}

func (e *env) scheduleCampaign(p *proc, staff string, id int64) {
	e.t.Helper()
	e.mustCall("POST", p.url(fmt.Sprintf("/api/v1/admin/campaigns/%d/schedule", id)), staff, nil, 200, nil)
}

// statusCounts is the outbox of a campaign by status.
func (e *env) statusCounts(id int64) map[string]int {
	e.t.Helper()
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := e.db.Select(&rows, `SELECT status, COUNT(*) AS n FROM deliveries WHERE campaign_id = ? GROUP BY status`, id); err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out
}

func fmtCounts(m map[string]int) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// waitCampaign waits until the campaign is completed, logging progress; it fails the drill
// after timeout.
func (e *env) waitCampaign(id int64, timeout time.Duration, procs ...*proc) {
	e.t.Helper()
	start := time.Now()
	lastLog := time.Now()
	for {
		var status string
		if err := e.db.Get(&status, `SELECT status FROM campaigns WHERE id = ?`, id); err != nil {
			e.t.Fatal(err)
		}
		if status == "completed" {
			e.logf("campaign %d completed after %s: %s", id, time.Since(start).Round(100*time.Millisecond), fmtCounts(e.statusCounts(id)))
			return
		}
		if time.Since(start) > timeout {
			for _, p := range procs {
				e.t.Logf("--- last lines of %s:\n%s", p.name, tail(p.out.String(), 25))
			}
			e.t.Fatalf("campaign %d not completed after %s (status %s): %s", id, timeout, status, fmtCounts(e.statusCounts(id)))
		}
		if time.Since(lastLog) > 15*time.Second {
			e.logf("  … campaign %d %s after %s: %s", id, status, time.Since(start).Round(time.Second), fmtCounts(e.statusCounts(id)))
			lastLog = time.Now()
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// delivery is one outbox row as the checks need it.
type delivery struct {
	ID         int64   `db:"id"`
	RunID      int64   `db:"run_id"`
	Resident   int64   `db:"resident_id"`
	Village    string  `db:"village_code"`
	Status     string  `db:"status"`
	SkipReason *string `db:"skip_reason"`
	Channel    *string `db:"channel"`
	MsgID      *string `db:"provider_msg_id"`
	ErrorCode  *string `db:"error_code"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// outboxCheck is what checkOutbox found.
type outboxCheck struct {
	byStatus               map[string]int
	wechatMsgs, smsMsgs    int
	unknownReachedProvider int // unknown deliveries whose message did reach a provider
}

// checkOutbox checks the invariants of a finished campaign against its audience and the
// providers' own records: every person of the audience has exactly one delivery in one run,
// nothing is queued or sending, sent + failed + skipped + unknown = targeted, no openid, phone
// or person received two messages, every message a provider accepted is a sent (or unknown)
// delivery with that provider's message id, and every sent delivery is at its provider.
func (e *env) checkOutbox(id int64, a *audience, fs ...*fakes) outboxCheck {
	e.t.Helper()
	t := e.t
	var ds []delivery
	if err := e.db.Select(&ds, `SELECT id, run_id, resident_id, village_code, status, skip_reason, channel, provider_msg_id, error_code
		FROM deliveries WHERE campaign_id = ?`, id); err != nil {
		t.Fatal(err)
	}
	res := outboxCheck{byStatus: map[string]int{}}
	runs := e.count(`SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ?`, id)
	runTargeted := e.count(`SELECT COALESCE(SUM(targeted), 0) FROM campaign_runs WHERE campaign_id = ?`, id)
	if runs != 1 {
		t.Errorf("INVARIANT: campaign %d has %d runs, want 1", id, runs)
	}
	byResident := map[int64]*delivery{}
	for i := range ds {
		d := &ds[i]
		res.byStatus[d.Status]++
		if prev := byResident[d.Resident]; prev != nil {
			t.Errorf("INVARIANT: resident %d has two deliveries (%d and %d)", d.Resident, prev.ID, d.ID)
		}
		byResident[d.Resident] = d
		if a.members[d.Resident] == nil {
			t.Errorf("INVARIANT: delivery %d is for resident %d, who is not in the segment", d.ID, d.Resident)
		}
	}
	wrong := 0
	for rid, m := range a.members {
		d := byResident[rid]
		if d == nil {
			t.Errorf("INVARIANT: resident %d of the segment has no delivery", rid)
			continue
		}
		if d.Status == "unknown" {
			continue // the outcome was lost in a crash: checked against the providers below
		}
		st, detail := a.expected(m)
		got := str(d.Channel)
		if d.Status == "skipped" {
			got = str(d.SkipReason)
		}
		if d.Status != st || (detail != "" && got != detail) {
			wrong++
			if wrong <= 5 {
				t.Errorf("INVARIANT: delivery %d (resident %d) ended %s/%s (error %s), want %s/%s",
					d.ID, rid, d.Status, got, str(d.ErrorCode), st, detail)
			}
		}
	}
	if wrong > 5 {
		t.Errorf("INVARIANT: %d deliveries in all did not end as their person's contacts say", wrong)
	}
	targeted := len(ds)
	final := res.byStatus["sent"] + res.byStatus["failed"] + res.byStatus["skipped"] + res.byStatus["unknown"]
	e.logf("outbox of campaign %d: targeted %d (audience %d, runs' targeted %d): %s; sent+failed+skipped+unknown = %d",
		id, targeted, len(a.members), runTargeted, fmtCounts(res.byStatus), final)
	if final != targeted || res.byStatus["queued"] != 0 || res.byStatus["sending"] != 0 {
		t.Errorf("INVARIANT: sent + failed + skipped + unknown = %d, targeted %d (queued %d, sending %d)",
			final, targeted, res.byStatus["queued"], res.byStatus["sending"])
	}
	if targeted != len(a.members) || runTargeted != targeted {
		t.Errorf("INVARIANT: targeted %d, audience %d, campaign_runs.targeted %d: they must agree", targeted, len(a.members), runTargeted)
	}

	// What the providers received: one message per person at most, across every fake.
	perPerson := map[int64][]string{}
	perOpenID := map[string]int{}
	perPhone := map[string]int{}
	msgAt := map[string]bool{} // "channel:message id:resident" (two fakes may issue the same ids)
	for _, f := range fs {
		for _, m := range f.wechat.Sent() {
			res.wechatMsgs++
			perOpenID[m.ToUser]++
			rid, ok := a.byOpenID[m.ToUser]
			if !ok {
				t.Errorf("INVARIANT: fake WeChat %s got a message for openid %s, who is not in the audience", f.name, m.ToUser)
				continue
			}
			perPerson[rid] = append(perPerson[rid], "wechat@"+f.name)
			msgAt["wechat:"+m.MsgID+":"+strconv.FormatInt(rid, 10)] = true
			e.checkProviderMessage(byResident[rid], "wechat", m.MsgID, &res)
		}
		for _, m := range f.sms.Sent() {
			res.smsMsgs++
			perPhone[m.Phone]++
			rid, ok := a.byPhone[m.Phone]
			if !ok {
				t.Errorf("INVARIANT: fake SMS %s got a message for a phone not in the audience", f.name)
				continue
			}
			perPerson[rid] = append(perPerson[rid], "sms@"+f.name)
			msgAt["sms:"+m.BizID+":"+strconv.FormatInt(rid, 10)] = true
			if d := byResident[rid]; d != nil && m.OutID != strconv.FormatInt(d.ID, 10) {
				t.Errorf("INVARIANT: SMS to resident %d carries OutId %s, their delivery is %d", rid, m.OutID, d.ID)
			}
			e.checkProviderMessage(byResident[rid], "sms", m.BizID, &res)
		}
	}
	twiceOpenID, twicePhone, twicePerson := 0, 0, 0
	for o, n := range perOpenID {
		if n > 1 {
			twiceOpenID++
			t.Errorf("INVARIANT: openid %s received %d WeChat messages", o, n)
		}
	}
	for _, n := range perPhone {
		if n > 1 {
			twicePhone++
		}
	}
	if twicePhone > 0 {
		t.Errorf("INVARIANT: %d phones received more than one SMS", twicePhone)
	}
	for rid, got := range perPerson {
		if len(got) > 1 {
			twicePerson++
			t.Errorf("INVARIANT: resident %d was messaged %d times: %v", rid, len(got), got)
		}
	}
	// Every sent delivery is at its provider with its message id.
	missing := 0
	for _, d := range ds {
		if d.Status != "sent" {
			continue
		}
		ch := str(d.Channel)
		if ch != "wechat" && ch != "sms" {
			t.Errorf("INVARIANT: delivery %d sent by channel %q", d.ID, ch)
			continue
		}
		if !msgAt[ch+":"+str(d.MsgID)+":"+strconv.FormatInt(d.Resident, 10)] {
			missing++
			if missing <= 5 {
				t.Errorf("INVARIANT: delivery %d is sent by %s with message id %q, which its provider never accepted for resident %d",
					d.ID, ch, str(d.MsgID), d.Resident)
			}
		}
	}
	if missing > 5 {
		t.Errorf("INVARIANT: %d sent deliveries in all are not at their provider", missing)
	}
	sentW, sentS := 0, 0
	for _, d := range ds {
		if d.Status == "sent" && str(d.Channel) == "wechat" {
			sentW++
		}
		if d.Status == "sent" && str(d.Channel) == "sms" {
			sentS++
		}
	}
	e.logf("providers: WeChat accepted %d messages (outbox: %d sent by wechat), SMS accepted %d (outbox: %d sent by sms); "+
		"openids messaged twice %d, phones twice %d, people twice %d; unknown deliveries that did reach a provider: %d",
		res.wechatMsgs, sentW, res.smsMsgs, sentS, twiceOpenID, twicePhone, twicePerson, res.unknownReachedProvider)
	if res.wechatMsgs+res.smsMsgs != sentW+sentS+res.unknownReachedProvider {
		t.Errorf("INVARIANT: providers accepted %d messages, outbox has %d sent and %d unknown-but-delivered",
			res.wechatMsgs+res.smsMsgs, sentW+sentS, res.unknownReachedProvider)
	}
	return res
}

// checkProviderMessage: a message a provider accepted must be the person's delivery, sent by
// that channel with that message id, or unknown (the outcome was lost in a crash).
func (e *env) checkProviderMessage(d *delivery, channel, msgID string, res *outboxCheck) {
	e.t.Helper()
	switch {
	case d == nil:
		e.t.Errorf("INVARIANT: %s message %s for a person without a delivery", channel, msgID)
	case d.Status == "unknown":
		res.unknownReachedProvider++
	case d.Status != "sent" || str(d.Channel) != channel || str(d.MsgID) != msgID:
		e.t.Errorf("INVARIANT: %s accepted message %s for delivery %d, which the outbox has as %s/%s/%s",
			channel, msgID, d.ID, d.Status, str(d.Channel), str(d.MsgID))
	}
}

// apiStats is the answer of GET /api/v1/admin/campaigns/{id}/stats.
type apiStats struct {
	Targeted  int64                       `json:"targeted"`
	Queued    int64                       `json:"queued"`
	Sending   int64                       `json:"sending"`
	Sent      int64                       `json:"sent"`
	Failed    int64                       `json:"failed"`
	Unknown   int64                       `json:"unknown"`
	Skipped   map[string]int64            `json:"skipped"`
	Reached   int64                       `json:"reached"`
	Converted int64                       `json:"converted"`
	ByVillage map[string]map[string]int64 `json:"by_village"`
	ByChannel map[string]map[string]int64 `json:"by_channel"`
	ByDay     map[string]int64            `json:"by_day"`
	// ConvertedByDay: conversions per enrollment day, summing to Converted.
	ConvertedByDay map[string]int64 `json:"converted_by_day"`
}

// sqlStats computes what the stats must say straight from the outbox (GROUP BY in SQL).
func (e *env) sqlStats(id int64) (flat map[string]int64, reached int64) {
	e.t.Helper()
	flat = map[string]int64{}
	var rows []struct {
		Village string `db:"village_code"`
		Status  string `db:"status"`
		Reason  string `db:"reason"`
		Channel string `db:"channel"`
		N       int64  `db:"n"`
	}
	if err := e.db.Select(&rows, `SELECT village_code, status, COALESCE(skip_reason, '') AS reason, COALESCE(channel, '') AS channel,
		COUNT(*) AS n FROM deliveries WHERE campaign_id = ? GROUP BY village_code, status, skip_reason, channel`, id); err != nil {
		e.t.Fatal(err)
	}
	for _, r := range rows {
		flat["targeted"] += r.N
		flat[r.Status] += r.N
		flat["vil:"+r.Village+":targeted"] += r.N
		switch r.Status {
		case "skipped":
			flat["skip:"+r.Reason] += r.N
			flat["vil:"+r.Village+":skipped"] += r.N
		case "sent", "failed":
			flat["vil:"+r.Village+":"+r.Status] += r.N
			if r.Channel != "" {
				flat["ch:"+r.Channel+":"+r.Status] += r.N
			}
		}
	}
	var days []struct {
		SentAt time.Time `db:"sent_at"`
	}
	if err := e.db.Select(&days, `SELECT sent_at FROM deliveries WHERE campaign_id = ? AND status = 'sent'`, id); err != nil {
		e.t.Fatal(err)
	}
	for _, d := range days {
		flat["day:"+d.SentAt.In(e.loc).Format("20060102")]++
	}
	var conv []struct {
		Village string `db:"village_code"`
		Channel string `db:"channel"`
		Day     string `db:"day"`
		N       int64  `db:"n"`
	}
	if err := e.db.Select(&conv, `SELECT village_code, channel, DATE_FORMAT(converted_on, '%Y%m%d') AS day, COUNT(*) AS n
		FROM conversions WHERE campaign_id = ? GROUP BY village_code, channel, converted_on`, id); err != nil {
		e.t.Fatal(err)
	}
	for _, c := range conv {
		flat["converted"] += c.N
		flat["cday:"+c.Day] += c.N
		flat["vil:"+c.Village+":converted"] += c.N
		flat["ch:"+c.Channel+":converted"] += c.N
	}
	reached = int64(e.count(`SELECT COUNT(DISTINCT resident_id) FROM deliveries WHERE campaign_id = ? AND status = 'sent'`, id))
	return flat, reached
}

// flatten turns the API's stats into the same flat form (zeros left out).
func (s apiStats) flatten() map[string]int64 {
	f := map[string]int64{"targeted": s.Targeted, "queued": s.Queued, "sending": s.Sending, "sent": s.Sent,
		"failed": s.Failed, "unknown": s.Unknown, "converted": s.Converted}
	var skipped int64
	for k, v := range s.Skipped {
		f["skip:"+k] = v
		skipped += v
	}
	f["skipped"] = skipped
	for v, sl := range s.ByVillage {
		for k, n := range sl {
			f["vil:"+v+":"+k] = n
		}
	}
	for c, sl := range s.ByChannel {
		for k, n := range sl {
			f["ch:"+c+":"+k] = n
		}
	}
	for d, n := range s.ByDay {
		f["day:"+d] = n
	}
	for d, n := range s.ConvertedByDay {
		f["cday:"+d] = n
	}
	for k, v := range f {
		if v == 0 {
			delete(f, k)
		}
	}
	return f
}

// compareStats reads the stats from the API and compares them with the outbox; it returns the
// differences ("" when equal).
func (e *env) compareStats(p *proc, staff string, id int64) (string, apiStats) {
	e.t.Helper()
	var s apiStats
	e.mustCall("GET", p.url(fmt.Sprintf("/api/v1/admin/campaigns/%d/stats", id)), staff, nil, 200, &s)
	want, reached := e.sqlStats(id)
	for k, v := range want {
		if v == 0 {
			delete(want, k)
		}
	}
	got := s.flatten()
	var diffs []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			diffs = append(diffs, fmt.Sprintf("%s: api %d, sql %d", k, got[k], want[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: api %d, sql 0", k, got[k]))
		}
	}
	// reached is exact: distinct people sent to.
	if s.Reached != reached {
		diffs = append(diffs, fmt.Sprintf("reached: api %d, sql %d", s.Reached, reached))
	}
	sort.Strings(diffs)
	return strings.Join(diffs, "; "), s
}

func statsLine(s apiStats) string {
	b, _ := json.Marshal(map[string]any{"targeted": s.Targeted, "queued": s.Queued, "sending": s.Sending, "sent": s.Sent,
		"failed": s.Failed, "unknown": s.Unknown, "skipped": s.Skipped, "reached": s.Reached, "by_channel": s.ByChannel})
	return string(b)
}

// total is how many messages the fakes accepted.
func (f *fakes) total() int { return len(f.wechat.Sent()) + f.sms.Count() }
