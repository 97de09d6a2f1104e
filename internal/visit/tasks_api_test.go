package visit_test

import (
	"testing"
	"time"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/server/servertest"
	visitpkg "github.com/canbao/canbao/internal/visit"
)

// A campaign opens a person's visit task through the visit package: a second campaign finds the
// task already open and gets its ID, and the visit that follows closes it.
func TestCampaignTaskOpensOnceAndAVisitClosesIt(t *testing.T) {
	env := servertest.New(t)
	person, _ := env.AddResident(servertest.ResidentSpec{Village: "zhenxing"})
	vol, _ := env.Staff(auth.RoleVolunteer, "zhenxing")
	due := time.Date(2026, 12, 14, 0, 0, 0, 0, time.UTC)
	open := func(campaign int64) int64 {
		t.Helper()
		id, err := visitpkg.OpenCampaignTask(servertest.Ctx(), env.DB, visitpkg.CampaignTask{ResidentID: person, Village: "zhenxing",
			CampaignID: campaign, Note: "请尽快参保", DueOn: due}, database.Now())
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	first := open(1)
	if again := open(2); again != first {
		t.Fatalf("a second campaign opened task %d beside the open %d", again, first)
	}
	if n := env.Count(`SELECT COUNT(*) FROM visit_tasks WHERE resident_id = ? AND status = 'open' AND source = 'campaign' AND campaign_id = 1`, person); n != 1 {
		t.Fatalf("open campaign tasks: %d, want 1", n)
	}
	if w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/visits", Token: vol, Body: visit(person, "considering", nil)}); w.Code != 201 {
		t.Fatalf("visit: %d %s", w.Code, w.Body)
	}
	if n := env.Count(`SELECT COUNT(*) FROM visit_tasks WHERE id = ? AND status = 'done' AND open_slot IS NULL AND visit_id IS NOT NULL`, first); n != 1 {
		t.Fatal("the visit did not close the open task")
	}
	if next := open(3); next == first {
		t.Fatal("a campaign after the visit got the closed task back")
	}
}
