package event_test

import (
	"bytes"
	"image"
	"image/png"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/config"
	events "github.com/canbao/canbao/internal/event"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/server/servertest"
	"github.com/canbao/canbao/internal/wechat/wechattest"
)

const (
	appID  = "wx0123456789abcdef"
	secret = "event-test-secret-0123456789abcd"
)

type env struct {
	*servertest.Env
	fake  *wechattest.Server
	staff string
	clock time.Time
	mu    sync.Mutex
}

var shanghai = func() *time.Location { l, _ := time.LoadLocation("Asia/Shanghai"); return l }()

// newEnv starts the API with the WeChat fake and a fake clock at 2026-03-10 08:00 Shanghai.
func newEnv(t *testing.T) *env {
	t.Helper()
	fake := wechattest.NewServer(t, appID, secret)
	se := servertest.New(t, func(c *config.Config) {
		c.WeChat.APIBase, c.WeChat.AppID, c.WeChat.Secret = fake.URL, appID, secret
	})
	// Binary answers (PNG, PDF) are not text: their bytes can look like a phone number.
	se.AllowPII["/api/v1/admin/events/:id/qrcode"] = true
	se.AllowPII["/api/v1/admin/events/:id/poster.pdf"] = true
	e := &env{Env: se, fake: fake, clock: time.Date(2026, 3, 10, 8, 0, 0, 0, shanghai)}
	se.Server.Events.Now = e.now
	e.staff, _ = se.Staff(auth.RoleStaff, "")
	return e
}

func (e *env) now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.clock
}

func (e *env) set(t time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clock = t
}

func at(day, hour, min int) string {
	return time.Date(2026, 3, day, hour, min, 0, 0, shanghai).Format(time.RFC3339)
}

func body(extra map[string]any) map[string]any {
	b := map[string]any{"title": "全民参保进村宣传", "kind": "village", "place": "振兴村文化广场",
		"starts_at": at(12, 9, 0), "ends_at": at(12, 12, 0), "village_codes": []string{"zhenxing"}}
	for k, v := range extra {
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
	}
	return b
}

type created struct {
	ID     int64  `json:"id"`
	Scene  string `json:"scene"`
	Status string `json:"status"`
}

func (e *env) create(t *testing.T, extra map[string]any) created {
	t.Helper()
	w := e.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/events", Token: e.staff, Body: body(extra)})
	if w.Code != 201 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var c created
	w.JSON(t, &c)
	return c
}

type snap struct{ events, villages, codes, checkins, audit int }

func (e *env) state() snap {
	return snap{e.Count(`SELECT COUNT(*) FROM events`), e.Count(`SELECT COUNT(*) FROM event_villages`),
		e.Count(`SELECT COUNT(*) FROM event_codes`), e.Count(`SELECT COUNT(*) FROM event_checkins`), e.Count(`SELECT COUNT(*) FROM audit_log`)}
}

func TestCreateBadInputChangesNothing(t *testing.T) {
	e := newEnv(t)
	before := e.state()
	for _, tc := range []struct {
		name  string
		extra map[string]any
		code  int
		err   string
		field string
	}{
		{"no title", map[string]any{"title": "  "}, 400, "INVALID_INPUT", "title"},
		{"title too long", map[string]any{"title": strings.Repeat("宣", 41)}, 400, "INVALID_INPUT", "title"},
		{"title with a newline", map[string]any{"title": "全民\n参保"}, 400, "INVALID_INPUT", "title"},
		{"title the poster cannot print", map[string]any{"title": "全民参保😀"}, 400, "INVALID_INPUT", "title"},
		{"bad kind", map[string]any{"kind": "festival"}, 400, "INVALID_INPUT", "kind"},
		{"no place", map[string]any{"place": ""}, 400, "INVALID_INPUT", "place"},
		{"ends before starts", map[string]any{"ends_at": at(12, 8, 0)}, 400, "INVALID_INPUT", "ends_at"},
		{"ends when it starts", map[string]any{"ends_at": at(12, 9, 0)}, 400, "INVALID_INPUT", "ends_at"},
		{"longer than 31 days", map[string]any{"ends_at": time.Date(2026, 4, 20, 9, 0, 0, 0, shanghai).Format(time.RFC3339)}, 400, "INVALID_INPUT", "ends_at"},
		{"already over", map[string]any{"starts_at": at(1, 9, 0), "ends_at": at(1, 12, 0)}, 422, "RULE_VIOLATION", "ends_at"},
		{"no start", map[string]any{"starts_at": nil}, 400, "INVALID_INPUT", "starts_at"},
		{"unknown village", map[string]any{"village_codes": []string{"zhenxing", "atlantis"}}, 400, "VILLAGE_UNKNOWN", "village_codes[1]"},
		{"village twice", map[string]any{"village_codes": []string{"zhenxing", "zhenxing"}}, 400, "INVALID_INPUT", "village_codes[1]"},
		{"village event without a village", map[string]any{"village_codes": []string{}}, 400, "INVALID_INPUT", "village_codes"},
		{"credit code too short", map[string]any{"kind": "enterprise", "employer_credit_code": "91350583MA2XXXXXI"}, 400, "CREDIT_CODE_INVALID", "employer_credit_code"},
		{"credit code with a letter outside its alphabet", map[string]any{"kind": "enterprise", "employer_credit_code": "91350583MA2XXXXXXO"}, 400, "CREDIT_CODE_INVALID", "employer_credit_code"},
		{"credit code with a wrong check character", map[string]any{"kind": "enterprise", "employer_credit_code": "91350583MA2YXK0T3B"}, 400, "CREDIT_CODE_INVALID", "employer_credit_code"},
		{"enterprise without a credit code", map[string]any{"kind": "enterprise"}, 400, "INVALID_INPUT", "employer_credit_code"},
		{"unknown field", map[string]any{"scene": "mine"}, 400, "UNKNOWN_FIELD", "scene"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/events", Token: e.staff, Body: body(tc.extra)})
			if w.Code != tc.code || w.ErrorCode() != tc.err || w.ErrorField() != tc.field {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			if !strings.ContainsFunc(string(w.Body), func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) {
				t.Fatalf("message not in Chinese: %s", w.Body)
			}
			if s := e.state(); s != before {
				t.Fatalf("changed: %+v -> %+v", before, s)
			}
		})
	}
	vadmin, _ := e.Staff(auth.RoleVillageAdmin, "zhenxing")
	if w := e.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/events", Token: vadmin, Body: body(nil)}); w.Code != 403 {
		t.Fatalf("village admin creating: %d", w.Code)
	}
	if s := e.state(); s != before {
		t.Fatalf("changed: %+v -> %+v", before, s)
	}
}

type event struct {
	ID           int64    `json:"id"`
	Title        string   `json:"title"`
	Kind         string   `json:"kind"`
	Scene        string   `json:"scene"`
	Status       string   `json:"status"`
	VillageCodes []string `json:"village_codes"`
	Credit       *string  `json:"employer_credit_code"`
	StartsAt     string   `json:"starts_at"`
}

func TestCreateListGetAndVillageScope(t *testing.T) {
	e := newEnv(t)
	a := e.create(t, nil)
	b := e.create(t, map[string]any{"title": "工业园区集中宣传", "kind": "enterprise", "place": "罗东工业园区", "village_codes": []string{"luoxi"},
		"employer_credit_code": "91350583ma2yxk0t38", "starts_at": at(10, 7, 0), "ends_at": at(10, 18, 0)})
	if len(a.Scene) != 16 || a.Scene == b.Scene || a.Status != "planned" || b.Status != "ongoing" {
		t.Fatalf("%+v %+v", a, b)
	}
	var one event
	w := e.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/events/" + itoa(b.ID), Token: e.staff})
	w.JSON(t, &one)
	if w.Code != 200 || one.Kind != "enterprise" || one.Credit == nil || *one.Credit != "91350583MA2YXK0T38" || one.VillageCodes[0] != "luoxi" ||
		one.StartsAt != "2026-03-09T23:00:00Z" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if e.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'event.create'`) != 2 {
		t.Fatal("creations not audited")
	}

	var list struct {
		Items []event `json:"items"`
		Total int     `json:"total"`
	}
	w = e.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/events?page_size=1", Token: e.staff})
	w.JSON(t, &list)
	if list.Total != 2 || len(list.Items) != 1 || list.Items[0].ID != a.ID { // latest start first
		t.Fatalf("%s", w.Body)
	}

	vadmin, _ := e.Staff(auth.RoleVillageAdmin, "zhenxing")
	w = e.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/events", Token: vadmin})
	w.JSON(t, &list)
	if list.Total != 1 || list.Items[0].ID != a.ID {
		t.Fatalf("village admin sees %s", w.Body)
	}
	for _, p := range []string{"/api/v1/admin/events/" + itoa(b.ID), "/api/v1/admin/events?village=luoxi", "/api/v1/admin/events/999999"} {
		if w := e.Do(servertest.Request{Method: "GET", Path: p, Token: vadmin}); w.Code != 404 {
			t.Fatalf("%s: %d %s", p, w.Code, w.Body)
		}
	}
	for _, p := range []string{"/qrcode", "/poster.pdf", "/stats"} {
		if w := e.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/events/" + itoa(a.ID) + p, Token: vadmin}); w.Code != 403 {
			t.Fatalf("%s: %d", p, w.Code)
		}
	}
	vol, _ := e.Staff(auth.RoleVolunteer, "zhenxing")
	for _, p := range []string{"/api/v1/admin/events", "/api/v1/admin/events/" + itoa(a.ID)} {
		if w := e.Do(servertest.Request{Method: "GET", Path: p, Token: vol}); w.Code != 403 || w.ErrorCode() != "FORBIDDEN" {
			t.Fatalf("volunteer %s: %d", p, w.Code)
		}
	}
	if w := e.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/events?village=no%20such!", Token: e.staff}); w.Code != 400 || w.ErrorField() != "village" {
		t.Fatalf("bad village filter: %d %s", w.Code, w.Body)
	}
	if w := e.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/events?page=0", Token: e.staff}); w.Code != 400 || w.ErrorCode() != "PAGE_INVALID" {
		t.Fatalf("bad page: %d %s", w.Code, w.Body)
	}
	for _, p := range []string{"", "/qrcode", "/poster.pdf", "/stats"} {
		if w := e.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/events/" + itoa(a.ID) + p}); w.Code != 401 || w.ErrorCode() != "UNAUTHENTICATED" {
			t.Fatalf("no token %s: %d", p, w.Code)
		}
		if w := e.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/events/0" + p, Token: e.staff}); w.Code != 404 {
			t.Fatalf("event 0 %s: %d", p, w.Code)
		}
	}
	if w := e.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/events"}); w.Code != 401 {
		t.Fatalf("no token: %d", w.Code)
	}
	if w := e.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/events", Body: body(nil)}); w.Code != 401 {
		t.Fatalf("no token: %d", w.Code)
	}
	if w := e.checkin("", a.Scene); w.Code != 401 {
		t.Fatalf("no token: %d", w.Code)
	}
	if n := e.Count(`SELECT COUNT(*) FROM events`); n != 2 {
		t.Fatalf("%d events", n)
	}
	if len(e.fake.WXACodes()) != 0 {
		t.Fatal("WeChat was asked for a code")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestCodeFetchedOnce: the code is asked of WeChat once, however often the code and the
// poster are asked for, also by concurrent requests; it is the fake's PNG for the event's scene.
func TestCodeFetchedOnce(t *testing.T) {
	e := newEnv(t)
	ev := e.create(t, nil)
	path := "/api/v1/admin/events/" + itoa(ev.ID) + "/qrcode"
	var wg sync.WaitGroup
	bodies := make([][]byte, 4)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := e.Do(servertest.Request{Method: "GET", Path: path, Token: e.staff})
			if w.Code != 200 || w.Header.Get("Content-Type") != "image/png" {
				t.Errorf("%d %s", w.Code, w.Header)
			}
			bodies[i] = w.Body
		}()
	}
	wg.Wait()
	w := e.Do(servertest.Request{Method: "GET", Path: path, Token: e.staff})
	if w.Code != 200 {
		t.Fatal(w.Code)
	}
	for _, b := range bodies {
		if !bytes.Equal(b, w.Body) {
			t.Fatal("answers differ")
		}
	}
	if _, err := png.Decode(bytes.NewReader(w.Body)); err != nil {
		t.Fatal(err)
	}
	if w := e.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/events/" + itoa(ev.ID) + "/poster.pdf", Token: e.staff}); w.Code != 200 {
		t.Fatal(w.Code)
	}
	calls := e.fake.WXACodes()
	if len(calls) != 1 || calls[0].Scene != ev.Scene || calls[0].Page != "pages/event/checkin" || calls[0].EnvVersion != "release" {
		t.Fatalf("WeChat calls: %+v", calls)
	}
	if e.Count(`SELECT COUNT(*) FROM event_codes`) != 1 {
		t.Fatal("code not stored")
	}
}

// TestCodeWeChatErrcode: WeChat's JSON errcode is a 503 that stores nothing; the next request
// fetches the code.
func TestCodeWeChatErrcode(t *testing.T) {
	e := newEnv(t)
	ev := e.create(t, nil)
	path := "/api/v1/admin/events/" + itoa(ev.ID) + "/qrcode"
	e.fake.FailNext(wechattest.PathWXACodeUnlimited, 45009, "reach max api daily quota limit")
	e.fake.FailNext(wechattest.PathWXACodeUnlimited, 41030, "invalid page")
	for _, want := range []int{503, 503} {
		before := e.state()
		w := e.Do(servertest.Request{Method: "GET", Path: path, Token: e.staff})
		if w.Code != want || w.ErrorCode() != "SERVICE_UNAVAILABLE" || w.Header.Get("Retry-After") == "" && false {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if e.state() != before {
			t.Fatal("a failed fetch changed something")
		}
		if strings.Contains(e.Logs.String(), e.fake.Token()) {
			t.Fatal("access token in the logs")
		}
	}
	// An expired token is refreshed and the call retried.
	e.fake.ExpireToken()
	if w := e.Do(servertest.Request{Method: "GET", Path: path, Token: e.staff}); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if n := len(e.fake.WXACodes()); n != 1 {
		t.Fatalf("%d images made", n)
	}
}

func TestPoster(t *testing.T) {
	e := newEnv(t)
	ev := e.create(t, map[string]any{"title": "全民参保集中宣传活动（振兴村专场）", "place": "振兴村村委会广场", "starts_at": at(12, 9, 30), "ends_at": at(12, 11, 45)})
	if w := e.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/events/999999/poster.pdf", Token: e.staff}); w.Code != 404 || w.ErrorCode() != "NOT_FOUND" {
		t.Fatalf("missing event: %d %s", w.Code, w.Body)
	}
	if len(e.fake.WXACodes()) != 0 {
		t.Fatal("a missing event's poster asked WeChat")
	}
	w := e.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/events/" + itoa(ev.ID) + "/poster.pdf", Token: e.staff})
	if w.Code != 200 || w.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(w.Body, []byte("%PDF-")) {
		t.Fatalf("%d %s", w.Code, w.Header)
	}
	if len(w.Body) > 400<<10 {
		t.Fatalf("poster of %d bytes: the font is not subset", len(w.Body))
	}
	text := pdfText(t, w.Body)
	// Lines may break anywhere: compare without white space, every character kept.
	flat := strings.Join(strings.Fields(text), "")
	for _, want := range []string{"全民参保集中宣传活动（振兴村专场）", "地点：振兴村村委会广场", "时间：2026年3月12日09:30—11:45",
		"城乡居民基本养老保险、企业职工基本养老保险：16至59周岁未参保人员均可现场咨询、登记参保", "微信扫一扫·现场签到", "进村宣传"} {
		if !strings.Contains(flat, want) {
			t.Errorf("poster text lacks %q:\n%s", want, text)
		}
	}
	img := rasterise(t, w.Body)
	b := img.Bounds()
	if b.Dx() < 100 || float64(b.Dy())/float64(b.Dx()) < 1.40 || float64(b.Dy())/float64(b.Dx()) > 1.43 {
		t.Fatalf("not an A4 portrait page: %v", b)
	}
	if r := dark(img, b); r < 0.03 || r > 0.5 {
		t.Fatalf("dark pixel ratio of the page %.3f", r)
	}
	// The code: 100 mm square, centred, from 76 mm down.
	mm := float64(b.Dx()) / 210
	code := image.Rect(int(57*mm), int(78*mm), int(153*mm), int(174*mm))
	if r := dark(img, code); r < 0.25 || r > 0.85 {
		t.Fatalf("dark pixel ratio of the code area %.3f", r)
	}
	margin := image.Rect(0, int(200*mm), int(15*mm), int(270*mm))
	if r := dark(img, margin); r > 0.01 {
		t.Fatalf("left margin not blank: %.3f", r)
	}
}

func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		events.NeedTool(t, "pdftotext")
	}
	cmd := exec.Command("pdftotext", "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

func rasterise(t *testing.T, pdf []byte) image.Image {
	t.Helper()
	if _, err := exec.LookPath("pdftoppm"); err != nil {
		events.NeedTool(t, "pdftoppm")
	}
	cmd := exec.Command("pdftoppm", "-png", "-gray", "-r", "40", "-singlefile", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftoppm: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func dark(img image.Image, r image.Rectangle) float64 {
	n, d := 0, 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c, _, _, _ := img.At(x, y).RGBA()
			n++
			if c < 0x8000 {
				d++
			}
		}
	}
	return float64(d) / float64(n)
}

type checkin struct {
	Event struct {
		ID       int64  `json:"id"`
		Title    string `json:"title"`
		Place    string `json:"place"`
		StartsAt string `json:"starts_at"`
	} `json:"event"`
	CheckedInAt string `json:"checked_in_at"`
}

func (e *env) checkin(tok string, scene any) *servertest.Response {
	return e.Do(servertest.Request{Method: "POST", Path: "/api/v1/events/checkin", Token: tok, Body: map[string]any{"scene": scene}})
}

func TestCheckin(t *testing.T) {
	e := newEnv(t)
	ev := e.create(t, nil) // 12 March 09:00-12:00
	tok, _ := e.Resident()
	late, _ := e.Resident()

	before := e.state()
	for _, tc := range []struct {
		name  string
		scene any
		code  int
		err   string
	}{
		{"too long", strings.Repeat("a", 33), 400, "INVALID_INPUT"},
		{"empty", "", 400, "INVALID_INPUT"},
		{"not a scene", "a b<script>", 400, "INVALID_INPUT"},
		{"Chinese", "活动", 400, "INVALID_INPUT"},
		{"not a string", 12, 400, "INVALID_INPUT"},
		{"unknown", "ZZZZZZZZZZZZZZZZ", 404, "NOT_FOUND"},
		{"before its day", ev.Scene, 422, "EVENT_CLOSED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.checkin(tok, tc.scene)
			if w.Code != tc.code || w.ErrorCode() != tc.err && !(tc.name == "not a string" && w.Code == 400) {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			if s := e.state(); s != before {
				t.Fatalf("changed: %+v -> %+v", before, s)
			}
		})
	}
	if w := e.checkin(e.staff, ev.Scene); w.Code != 403 {
		t.Fatalf("staff checking in: %d", w.Code)
	}

	e.set(time.Date(2026, 3, 12, 0, 0, 0, 0, shanghai)) // opens at 00:00 of its day
	w := e.checkin(tok, ev.Scene)
	var first checkin
	w.JSON(t, &first)
	if w.Code != 200 || first.Event.ID != ev.ID || first.Event.Title != "全民参保进村宣传" || first.Event.Place != "振兴村文化广场" ||
		first.Event.StartsAt != "2026-03-12T01:00:00Z" || first.CheckedInAt != "2026-03-11T16:00:00Z" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	e.set(time.Date(2026, 3, 12, 10, 0, 0, 0, shanghai))
	again := e.checkin(tok, ev.Scene)
	if again.Code != 200 || !bytes.Equal(again.Body, w.Body) {
		t.Fatalf("second check-in: %d %s", again.Code, again.Body)
	}
	e.set(time.Date(2026, 3, 12, 12, 0, 0, 0, shanghai)) // ends_at: closed
	before = e.state()
	if w := e.checkin(late, ev.Scene); w.Code != 422 || w.ErrorCode() != "EVENT_CLOSED" || !strings.Contains(string(w.Body), "已结束") {
		t.Fatalf("after the end: %d %s", w.Code, w.Body)
	}
	if e.state() != before {
		t.Fatal("a refused check-in changed something")
	}
	if w := e.checkin(tok, ev.Scene); w.Code != 200 || !bytes.Equal(w.Body, again.Body) {
		t.Fatalf("checked in before the end, asking after it: %d %s", w.Code, w.Body)
	}
	if n := e.Count(`SELECT COUNT(*) FROM event_checkins`); n != 1 {
		t.Fatalf("%d check-ins", n)
	}
}

// TestConcurrentDoubleCheckin: two taps at once make one check-in and the same answer.
func TestConcurrentDoubleCheckin(t *testing.T) {
	e := newEnv(t)
	ev := e.create(t, map[string]any{"starts_at": at(10, 7, 0), "ends_at": at(10, 18, 0)})
	tok, _ := e.Resident()
	var wg sync.WaitGroup
	answers := make([]*servertest.Response, 6)
	for i := range answers {
		wg.Add(1)
		go func() { defer wg.Done(); answers[i] = e.checkin(tok, ev.Scene) }()
	}
	wg.Wait()
	for _, a := range answers {
		if a.Code != 200 || !bytes.Equal(a.Body, answers[0].Body) {
			t.Fatalf("%d %s vs %s", a.Code, a.Body, answers[0].Body)
		}
	}
	if n := e.Count(`SELECT COUNT(*) FROM event_checkins`); n != 1 {
		t.Fatalf("%d check-ins", n)
	}
}

type figures struct {
	CheckedIn  int `json:"checked_in"`
	Registered int `json:"registered"`
	Enrolled   int `json:"enrolled"`
}

type stats struct {
	figures
	ByVillage []struct {
		Code string `json:"code"`
		Name string `json:"name"`
		figures
	} `json:"by_village"`
	ByAgeBand []struct {
		Key string `json:"key"`
		figures
	} `json:"by_age_band"`
	ByGender []struct {
		Key string `json:"key"`
		figures
	} `json:"by_gender"`
}

// register links account to a new roster person and records a registration made at `at`.
// The person's birth date is set so that they are spec.Age on 10 March 2026, whatever today is.
func (e *env) register(t *testing.T, account int64, spec servertest.ResidentSpec, at time.Time) int64 {
	t.Helper()
	rid, _ := e.AddResident(spec)
	e.Exec(`UPDATE residents SET birth_date = ? WHERE id = ?`, time.Date(2026-spec.Age, 1, 15, 0, 0, 0, 0, time.UTC).Format(time.DateOnly), rid)
	e.Exec(`UPDATE resident_accounts SET resident_id = ? WHERE id = ?`, rid, account)
	e.Exec(`INSERT INTO registrations (account_id, resident_id, active_resident_id, year, name, id_number_enc, phone_enc, pii_key_id,
		village_code, employed, land_expropriated, scheme, channel, register_at, status, privacy_notice_version, created_at, updated_at)
		VALUES (?, ?, ?, 2026, '测试居民', 'x', 'x', 'k1', ?, 0, 0, 'resident_pension', 'self', 'village', 'submitted', '2019-07', ?, ?)`,
		account, rid, rid, spec.Village, at.UTC(), at.UTC())
	return rid
}

func (e *env) enroll(rid int64, village string, day time.Time) {
	e.Exec(`INSERT INTO enrollments (resident_id, village_code, scheme, source, enrolled_on, created_at) VALUES (?, ?, 'resident_pension', 'registration', ?, ?)`,
		rid, village, day.Format(time.DateOnly), database.Now())
}

// TestStatsAttribution: check-ins, and the registrations and enrollments that follow within
// the window, by village, age band and gender; a later event's check-in takes the credit.
func TestStatsAttribution(t *testing.T) {
	e := newEnv(t) // events.attribution_days is 30
	ev := e.create(t, map[string]any{"starts_at": at(10, 7, 0), "ends_at": at(10, 18, 0)})
	checkinAt := time.Date(2026, 3, 10, 9, 0, 0, 0, shanghai)
	e.set(checkinAt)
	accounts := make([]int64, 5)
	for i := range accounts {
		tok, id := e.Resident()
		accounts[i] = id
		if w := e.checkin(tok, ev.Scene); w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	day := func(d int) time.Time { return time.Date(2026, 3, 10+d, 0, 0, 0, 0, time.UTC) }
	// 0: registered 2 days later and enrolled on the window's last day: counts twice.
	r0 := e.register(t, accounts[0], servertest.ResidentSpec{Village: "zhenxing", Gender: idcard.Female, Age: 35}, checkinAt.Add(48*time.Hour))
	e.enroll(r0, "zhenxing", day(30))
	// 1: registered before checking in (same day), enrolled a day after the window: neither counts.
	r1 := e.register(t, accounts[1], servertest.ResidentSpec{Village: "luoxi", Gender: idcard.Male, Age: 50}, checkinAt.Add(-time.Minute))
	e.enroll(r1, "luoxi", day(31))
	// 2: enrolled the day before checking in: does not count; registered on the window's last
	// day, 23:59: counts.
	r2 := e.register(t, accounts[2], servertest.ResidentSpec{Village: "luoxi", Gender: idcard.Female, Age: 20},
		time.Date(2026, 4, 9, 23, 59, 0, 0, shanghai))
	e.enroll(r2, "luoxi", day(-1))
	// 3: checked in to a later event too, then registered and enrolled: the later event gets both.
	later := e.create(t, map[string]any{"title": "集市宣传", "kind": "market", "place": "罗东集市", "village_codes": []string{}, "starts_at": at(15, 7, 0), "ends_at": at(15, 12, 0)})
	e.set(time.Date(2026, 3, 15, 8, 0, 0, 0, shanghai))
	tok3, _, _ := e.Server.Tokens.Issue(auth.Principal{Kind: auth.KindResident, ID: accounts[3], Role: auth.RoleResident, Version: 1})
	if w := e.checkin(tok3, later.Scene); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	r3 := e.register(t, accounts[3], servertest.ResidentSpec{Village: "zhenxing", Gender: idcard.Male, Age: 45}, time.Date(2026, 3, 16, 9, 0, 0, 0, shanghai))
	e.enroll(r3, "zhenxing", day(7))
	// 4: never registered: village, age and gender unknown.

	get := func(id int64) stats {
		w := e.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/events/" + itoa(id) + "/stats", Token: e.staff})
		if w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		var s stats
		w.JSON(t, &s)
		return s
	}
	s := get(ev.ID)
	if s.figures != (figures{5, 2, 1}) {
		t.Fatalf("totals %+v", s.figures)
	}
	village := map[string]figures{}
	for _, v := range s.ByVillage {
		village[v.Code] = v.figures
	}
	if village["zhenxing"] != (figures{2, 1, 1}) || village["luoxi"] != (figures{2, 1, 0}) || village["unknown"] != (figures{1, 0, 0}) ||
		s.ByVillage[len(s.ByVillage)-1].Code != "unknown" {
		t.Fatalf("by village %+v", s.ByVillage)
	}
	band := map[string]figures{}
	for _, v := range s.ByAgeBand {
		band[v.Key] = v.figures
	}
	if band["30-39"] != (figures{1, 1, 1}) || band["16-29"] != (figures{1, 1, 0}) || band["45-59"] != (figures{2, 0, 0}) || band["unknown"] != (figures{1, 0, 0}) {
		t.Fatalf("by age band %+v", s.ByAgeBand)
	}
	gender := map[string]figures{}
	for _, v := range s.ByGender {
		gender[v.Key] = v.figures
	}
	if gender["female"] != (figures{2, 2, 1}) || gender["male"] != (figures{2, 0, 0}) || gender["unknown"] != (figures{1, 0, 0}) {
		t.Fatalf("by gender %+v", s.ByGender)
	}
	if l := get(later.ID); l.figures != (figures{1, 1, 1}) {
		t.Fatalf("later event %+v", l.figures)
	}
	if w := e.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/events/999999/stats", Token: e.staff}); w.Code != 404 {
		t.Fatalf("%d", w.Code)
	}
}
