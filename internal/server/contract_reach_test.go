package server_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/server/servertest"
)

// TestDeclaredAnswersOfCampaignsAndUsers produces answers api/openapi.yaml declares that no
// area test needed to (TestContractCoverage wants every declared answer seen): reading one
// campaign, bad filters and bodies, a retry of a draft, scheduling past the end, and the
// refusals of staff account changes.
func TestDeclaredAnswersOfCampaignsAndUsers(t *testing.T) {
	env := servertest.New(t)
	staff, _ := env.Staff(auth.RoleStaff, "")
	admin, _ := env.Staff(auth.RoleAdmin, "")
	_, volID := env.Staff(auth.RoleVolunteer, "zhenxing")
	do := func(tok, method, path string, body any) *servertest.Response {
		t.Helper()
		return env.Do(servertest.Request{Method: method, Path: path, Token: tok, Body: body})
	}
	want := func(w *servertest.Response, status int, code string) {
		t.Helper()
		if w.Code != status || w.ErrorCode() != code {
			t.Errorf("got %d %s, want %d %s", w.Code, w.Body, status, code)
		}
	}

	spec := map[string]any{"name": "九月提醒", "segment": map[string]any{}, "channels": []string{"log"},
		"template": map[string]any{"text": "{{name}}您好"}, "schedule": map[string]any{
			"start_at": time.Now().Add(time.Hour).Format(time.RFC3339), "end_at": time.Now().Add(48 * time.Hour).Format(time.RFC3339),
			"window": map[string]string{"from": "09:00", "to": "20:00"}}}
	w := do(staff, "POST", "/api/v1/admin/campaigns", spec)
	if w.Code != 201 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var created struct{ ID int64 }
	w.JSON(t, &created)
	id := strconv.FormatInt(created.ID, 10)
	if w := do(staff, "GET", "/api/v1/admin/campaigns/"+id, nil); w.Code != 200 {
		t.Errorf("get: %d %s", w.Code, w.Body)
	}
	want(do(staff, "GET", "/api/v1/admin/campaigns?status=stopped", nil), 400, "INVALID_INPUT")
	want(do(staff, "POST", "/api/v1/admin/campaigns", map[string]any{"name": "", "segment": map[string]any{},
		"channels": []string{"log"}, "template": map[string]any{"text": "t"},
		"schedule": map[string]any{"start_at": time.Now().Format(time.RFC3339), "window": map[string]string{"from": "09:00", "to": "20:00"}}}),
		400, "INVALID_INPUT")
	want(do(staff, "POST", "/api/v1/admin/campaigns/"+id+"/retry-failed", map[string]any{"include_unknown": "yes"}), 400, "INVALID_INPUT")
	want(do(staff, "POST", "/api/v1/admin/campaigns/"+id+"/retry-failed", nil), 409, "CAMPAIGN_STATE_CONFLICT")
	// The end passed while the campaign was a draft: it cannot be scheduled any more.
	env.Exec(`UPDATE campaigns SET spec = JSON_SET(spec, '$.schedule.end_at', '2019-09-30T20:00:00+08:00') WHERE id = ?`, created.ID)
	want(do(staff, "POST", "/api/v1/admin/campaigns/"+id+"/schedule", nil), 422, "RULE_VIOLATION")
	if n := env.Count(`SELECT COUNT(*) FROM campaigns WHERE id = ? AND status = 'draft'`, created.ID); n != 1 {
		t.Error("a refused schedule changed the campaign")
	}

	vol := "/api/v1/admin/users/" + strconv.FormatInt(volID, 10)
	want(do(admin, "GET", "/api/v1/admin/users?role=boss", nil), 400, "ROLE_INVALID")
	want(do(admin, "PATCH", vol, map[string]any{}), 400, "INVALID_INPUT")
	want(do(admin, "PATCH", vol, map[string]any{"role": "boss"}), 400, "ROLE_INVALID")
	want(do(admin, "PATCH", vol, map[string]any{"village_code": "nowhere"}), 400, "VILLAGE_UNKNOWN")
	want(do(admin, "POST", vol+"/password", map[string]any{"password": 12345}), 400, "INVALID_INPUT")
	want(do(admin, "POST", vol+"/password", map[string]any{"password": "short"}), 400, "PASSWORD_TOO_WEAK")
	want(do(admin, "POST", "/api/v1/admin/users/999999/password", map[string]any{"password": "Another-2019-pw"}), 404, "NOT_FOUND")
	if n := env.Count(`SELECT COUNT(*) FROM staff_users WHERE id = ? AND role = 'volunteer' AND village_code = 'zhenxing' AND password_hash = 'x'`, volID); n != 1 {
		t.Error("a refused change altered the account")
	}
}

// TestRefreshIsRateLimitedPerIP: 60 refreshes a minute per IP, then 429 with Retry-After (the
// limit api/openapi.yaml documents); a body of the wrong type is 400.
func TestRefreshIsRateLimitedPerIP(t *testing.T) {
	env := servertest.New(t)
	refresh := func(body any, ip string) *servertest.Response {
		return env.Do(servertest.Request{Method: "POST", Path: "/api/v1/auth/refresh", Body: body, Remote: ip + ":1234"})
	}
	if w := refresh(map[string]any{"refresh_token": 5}, "192.0.2.7"); w.Code != 400 || w.ErrorCode() != "INVALID_INPUT" {
		t.Fatalf("wrong type: %d %s", w.Code, w.Body)
	}
	for i := 1; i < 60; i++ {
		if w := refresh(map[string]string{"refresh_token": "nope"}, "192.0.2.7"); w.Code != 401 {
			t.Fatalf("refresh %d: %d %s", i+1, w.Code, w.Body)
		}
	}
	w := refresh(map[string]string{"refresh_token": "nope"}, "192.0.2.7")
	if w.Code != 429 || w.ErrorCode() != "RATE_LIMITED" || w.Header.Get("Retry-After") == "" {
		t.Fatalf("refresh 61: %d %s %v", w.Code, w.Body, w.Header)
	}
	if w := refresh(map[string]string{"refresh_token": "nope"}, "192.0.2.8"); w.Code != 401 {
		t.Fatalf("another IP: %d %s", w.Code, w.Body)
	}
}
