package seed

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/campaigns/counters"
	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/dbtest"
	"github.com/canbao/canbao/internal/platform/web"
	"github.com/canbao/canbao/internal/progress"
	"github.com/canbao/canbao/internal/visit"
)

func TestImportDay(t *testing.T) {
	d := func(m time.Month, day int) time.Time { return time.Date(2026, m, day, 0, 0, 0, 0, time.UTC) }
	yearStart, today := d(1, 1), d(10, 20) // 2026-01-01 is a Thursday, 2026-10-20 a Tuesday
	for _, c := range []struct{ day, want time.Time }{
		{d(1, 1), d(1, 1)},  // the year's first week: its first day
		{d(1, 4), d(1, 1)},  // Sunday of that week
		{d(1, 5), d(1, 5)},  // Monday
		{d(3, 15), d(3, 9)}, // Sunday → its Monday
		{d(10, 20), d(10, 19)},
	} {
		if got := importDay(c.day, yearStart, today); !got.Equal(c.want) {
			t.Errorf("importDay(%s) = %s, want %s", c.day.Format(time.DateOnly), got.Format(time.DateOnly), c.want.Format(time.DateOnly))
		}
	}
}

// checkDrive checks the drive the first Demo put on db, as of demoToday.
func checkDrive(t *testing.T, db *sqlx.DB, kr *pii.Keyring, rep DriveReport) {
	ctx := context.Background()
	loc := shanghai(t)
	yearStart := time.Date(demoToday.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	t.Logf("drive: %+v", rep)
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := db.Get(&n, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}

	t.Run("enrollments", func(t *testing.T) {
		n := count(`SELECT COUNT(*) FROM enrollments WHERE enrolled_on BETWEEN ? AND ?`, yearStart, demoToday)
		if n == 0 || n != rep.Enrollments || n != count(`SELECT COUNT(*) FROM enrollments`) {
			t.Fatalf("%d enrollments this year, report %d", n, rep.Enrollments)
		}
		if daily := count(`SELECT COALESCE(SUM(enrolled), 0) FROM enrollment_daily WHERE enrolled_on BETWEEN ? AND ?`, yearStart, demoToday); daily != n {
			t.Errorf("enrollment_daily sums to %d, enrollments %d", daily, n)
		}
		// Per village and day too.
		if bad := count(`SELECT COUNT(*) FROM enrollment_daily d WHERE d.enrolled <> (SELECT COUNT(*) FROM enrollments e
			WHERE e.village_code = d.village_code AND e.enrolled_on = d.enrolled_on)`); bad != 0 {
			t.Errorf("%d enrollment_daily rows differ from the enrollments they count", bad)
		}
		// And the per-village running totals.
		if bad := count(`SELECT COUNT(*) FROM (SELECT village_code, COUNT(*) AS n FROM enrollments GROUP BY village_code) e
			LEFT JOIN enrollment_totals t ON t.village_code = e.village_code WHERE COALESCE(t.enrolled, 0) <> e.n`); bad != 0 {
			t.Errorf("%d villages whose enrollment_totals differ from their enrollments", bad)
		}
		// The enrolled were unenrolled roster people: now insured, changed on their enrollment day.
		if bad := count(`SELECT COUNT(*) FROM enrollments e JOIN residents r ON r.id = e.resident_id
			WHERE r.status <> 'resident_pension' OR r.source <> 'seed' OR r.village_code <> e.village_code
			   OR (e.source = 'import' AND r.status_changed_on <> e.enrolled_on)`); bad != 0 {
			t.Errorf("%d enrollments whose person is not insured, or changed on another day", bad)
		}
		if imports := count(`SELECT COUNT(*) FROM enrollments WHERE source = ?`, enrollment.SourceImport); imports == 0 ||
			count(`SELECT COUNT(*) FROM enrollments WHERE source = ?`, enrollment.SourceVisit) == 0 {
			t.Errorf("enrollments by source: %d imports, want imports and visits", imports)
		}
		if m := count(`SELECT COUNT(DISTINCT MONTH(enrolled_on)) FROM enrollments`); m != int(demoToday.Month()) {
			t.Errorf("enrollments in %d months, want every month up to %s", m, demoToday.Format("2006-01"))
		}
	})

	t.Run("progress", func(t *testing.T) {
		store := progress.NewStore(db)
		r, err := store.Progress(ctx, demoToday)
		if err != nil {
			t.Fatal(err)
		}
		// 2026 has no task in the plan: the last one (2020's, the whole target) stays in force.
		elapsed := float64(demoToday.YearDay()) / 365
		ahead, behind := 0, 0
		for _, v := range r.Villages {
			if v.Task == 0 {
				t.Fatalf("%s has no task", v.Code)
			}
			if v.NewEnrolled == 0 || v.TaskRate == nil {
				t.Errorf("%s: no new enrollments", v.Code)
				continue
			}
			if v.Population > 100 && (*v.TaskRate < 0.3 || *v.TaskRate > 1.1) {
				t.Errorf("%s: task rate %.2f, want 0.3-1.1", v.Code, *v.TaskRate)
			}
			if *v.TaskRate >= elapsed {
				ahead++
			} else {
				behind++
			}
			t.Logf("%s: %d of task %d (%.0f%%, pace %.0f%%)", v.Code, v.NewEnrolled, v.Task, *v.TaskRate*100, elapsed*100)
		}
		if ahead < 2 || behind < 2 {
			t.Errorf("%d villages ahead of pace and %d behind, want some of each", ahead, behind)
		}
		if r.Total.NewEnrolled != rep.Enrollments || *r.Total.TaskRate < 0.3 || *r.Total.TaskRate > 1.1 {
			t.Errorf("total: %d new, task rate %v", r.Total.NewEnrolled, *r.Total.TaskRate)
		}
		m, err := store.ComputeMonthly(ctx, time.Date(2026, time.October, 1, 0, 0, 0, 0, time.UTC), demoToday, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(m.BehindPace) == 0 || len(m.BehindPace) == len(m.Villages) || m.Total.NewMonth == 0 {
			t.Errorf("monthly bulletin: %d of %d villages behind pace, %d new this month", len(m.BehindPace), len(m.Villages), m.Total.NewMonth)
		}
	})

	t.Run("pending registrations", func(t *testing.T) {
		var regs []struct {
			ID       int64  `db:"id"`
			Name     string `db:"name"`
			Village  string `db:"village_code"`
			Status   string `db:"status"`
			IDEnc    []byte `db:"id_number_enc"`
			PhoneEnc []byte `db:"phone_enc"`
			KeyID    string `db:"pii_key_id"`
			RName    string `db:"r_name"`
			RVillage string `db:"r_village"`
			RBidx    []byte `db:"r_bidx"`
			RStatus  string `db:"r_status"`
			RPhone   []byte `db:"r_phone"`
			RKeyID   string `db:"r_key_id"`
		}
		if err := db.Select(&regs, `SELECT g.id, g.name, g.village_code, g.status, g.id_number_enc, g.phone_enc, g.pii_key_id,
			r.name AS r_name, r.village_code AS r_village, r.id_number_bidx AS r_bidx, r.status AS r_status,
			r.phone_enc AS r_phone, r.pii_key_id AS r_key_id
			FROM registrations g JOIN residents r ON r.id = g.resident_id ORDER BY g.id`); err != nil {
			t.Fatal(err)
		}
		if len(regs) == 0 || len(regs) != rep.Registrations {
			t.Fatalf("%d registrations, report %d", len(regs), rep.Registrations)
		}
		villages := map[string]bool{}
		var newPhone []string
		phoneRE := regexp.MustCompile(`^1[3-9]\d{9}$`)
		for _, g := range regs {
			villages[g.Village] = true
			if g.Status != "submitted" || g.Name != g.RName || g.Village != g.RVillage || g.RStatus != "unenrolled" {
				t.Errorf("registration %d: %s in %s (%s), roster %s in %s (%s)", g.ID, g.Name, g.Village, g.Status, g.RName, g.RVillage, g.RStatus)
			}
			id, err := kr.Decrypt(g.IDEnc, g.KeyID, pii.AADRegistrationIDNumber)
			if err != nil {
				t.Fatalf("registration %d: ID number does not decrypt: %v", g.ID, err)
			}
			if !bytes.Equal(kr.BlindIndex(pii.IndexIDNumber, id), g.RBidx) {
				t.Errorf("registration %d: the ID number is not the roster person's", g.ID)
			}
			phone, err := kr.Decrypt(g.PhoneEnc, g.KeyID, pii.AADRegistrationPhone)
			if err != nil || !phoneRE.MatchString(phone) {
				t.Errorf("registration %d: phone does not decrypt to a phone number (%v)", g.ID, err)
			}
			if g.RPhone != nil {
				rp, err := kr.Decrypt(g.RPhone, g.RKeyID, pii.AADResidentPhone)
				if err != nil {
					t.Fatalf("registration %d: the roster's phone does not decrypt: %v", g.ID, err)
				}
				if rp != phone {
					newPhone = append(newPhone, g.Village)
				}
			}
		}
		// A new phone (the review queue's phone_differs warning) in the first newPhoneVillages
		// villages, zhenxing first, once each.
		if len(newPhone) != newPhoneVillages || newPhone[0] != "zhenxing" || newPhone[0] == newPhone[1] {
			t.Errorf("registrations with another phone than the roster's, by village: %v", newPhone)
		}
		if len(villages) < 4 {
			t.Errorf("pending registrations in %d villages, want several", len(villages))
		}
	})

	t.Run("visits", func(t *testing.T) {
		if n := count(`SELECT COUNT(*) FROM visits`); n == 0 || n != rep.Visits {
			t.Fatalf("%d visits, report %d", n, rep.Visits)
		}
		if n := count(`SELECT COUNT(DISTINCT outcome) FROM visits`); n != 8 {
			t.Errorf("%d distinct outcomes, want all 8", n)
		}
		if n := count(`SELECT COUNT(DISTINCT reason) FROM visits WHERE outcome IN ('refused', 'considering')`); n != 4 {
			t.Errorf("%d distinct reasons, want all 4", n)
		}
		if n := count(`SELECT COUNT(*) FROM visits WHERE (reason IS NULL) = (outcome IN ('refused', 'considering'))`); n != 0 {
			t.Errorf("%d visits with a reason where none belongs, or none where one does", n)
		}
		if n := count(`SELECT COUNT(*) FROM visits v JOIN staff_users u ON u.id = v.volunteer_id
			WHERE u.username <> CONCAT(v.village_code, '-vol') OR v.note = '' OR v.visited_at > ?`, at(demoToday, loc, 20, 0)); n != 0 {
			t.Errorf("%d visits not by their village's demo volunteer, without a note, or after today", n)
		}
		// Outcomes carried over to the roster by the visit service.
		if n := count(`SELECT COUNT(*) FROM visits v JOIN residents r ON r.id = v.resident_id
			WHERE v.outcome = 'enrolled' AND r.status <> 'resident_pension'`); n != 0 {
			t.Errorf("%d people visited as enrolled are not insured", n)
		}
		// Follow-ups due today or overdue, on the volunteers' task lists.
		due := count(`SELECT COUNT(*) FROM residents WHERE status = 'unenrolled' AND follow_up_on <= ?`, demoToday)
		if due == 0 || count(`SELECT COUNT(*) FROM residents WHERE follow_up_on > ?`, demoToday) == 0 {
			t.Fatalf("%d follow-ups due, want some due and some later", due)
		}
		svc := visit.NewService(db, audit.New(db), loc, enrollment.New(loc, 30), nil).WithClock(func() time.Time { return at(demoToday, loc, 20, 0) })
		var village string
		if err := db.Get(&village, `SELECT village_code FROM residents WHERE status = 'unenrolled' AND follow_up_on <= ? ORDER BY id LIMIT 1`, demoToday); err != nil {
			t.Fatal(err)
		}
		page, err := svc.TaskList(ctx, village, web.Page{Number: 1, Size: 20}, kr)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) == 0 || page.Items[0].Kind != "follow_up" {
			t.Errorf("%s's task list does not start with a follow-up: %+v", village, page.Items)
		}
	})

	t.Run("campaigns", func(t *testing.T) {
		var cs []struct {
			ID     int64  `db:"id"`
			Name   string `db:"name"`
			Status string `db:"status"`
			Run    string `db:"run_status"`
			Target int    `db:"targeted"`
		}
		if err := db.Select(&cs, `SELECT c.id, c.name, c.status, r.status AS run_status, r.targeted FROM campaigns c
			JOIN campaign_runs r ON r.campaign_id = c.id ORDER BY c.id`); err != nil {
			t.Fatal(err)
		}
		if len(cs) != 2 || cs[0].Status != "completed" || cs[0].Run != "completed" || cs[1].Status != "running" || cs[1].Run != "dispatching" {
			t.Fatalf("campaigns: %+v", cs)
		}
		rdb, prefix := dbtest.Redis(t)
		ctr := counters.New(db, rdb, prefix, loc)
		deliveries := 0
		for i, c := range cs {
			n := count(`SELECT COUNT(*) FROM deliveries WHERE campaign_id = ?`, c.ID)
			sent := count(`SELECT COUNT(*) FROM deliveries WHERE campaign_id = ? AND status = 'sent' AND sent_at IS NOT NULL
				AND provider_msg_id IS NOT NULL AND channel IN ('log', 'visit_task')`, c.ID)
			queued := count(`SELECT COUNT(*) FROM deliveries WHERE campaign_id = ? AND status = 'queued' AND channel IS NULL AND sent_at IS NULL`, c.ID)
			conv := count(`SELECT COUNT(*) FROM conversions WHERE campaign_id = ?`, c.ID)
			deliveries += n
			if n == 0 || n != c.Target || sent+queued != n {
				t.Errorf("%s: %d deliveries (run targeted %d), %d sent, %d queued", c.Name, n, c.Target, sent, queued)
			}
			if i == 0 && (queued != 0 || conv == 0) {
				t.Errorf("%s (completed): %d queued, %d conversions", c.Name, queued, conv)
			}
			if i == 1 && (queued == 0 || sent == 0) {
				t.Errorf("%s (running): %d sent, %d queued", c.Name, sent, queued)
			}
			// What GET /api/v1/admin/campaigns/{id}/stats answers: rebuilt from the outbox.
			st, err := ctr.Stats(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if st.Targeted != int64(n) || st.Sent != int64(sent) || st.Queued != int64(queued) || st.Reached != int64(sent) || st.Converted != int64(conv) {
				t.Errorf("%s: stats %+v, outbox %d/%d sent/%d queued/%d converted", c.Name, st, n, sent, queued, conv)
			}
			t.Logf("%s: %d targeted, %d sent, %d queued, %d converted", c.Name, n, sent, queued, conv)
		}
		if deliveries != rep.Deliveries || rep.Campaigns != 2 || rep.Conversions != count(`SELECT COUNT(*) FROM conversions`) {
			t.Errorf("report %+v, %d deliveries", rep, deliveries)
		}
		// Two publicity events, with their villages and unique scenes, and no check-in.
		if rep.Events != 2 || count(`SELECT COUNT(*) FROM events`) != 2 || count(`SELECT COUNT(DISTINCT scene) FROM events`) != 2 ||
			count(`SELECT COUNT(*) FROM event_villages`) != 2 || count(`SELECT COUNT(*) FROM event_checkins`) != 0 ||
			count(`SELECT COUNT(*) FROM events WHERE ends_at <= starts_at`) != 0 {
			t.Errorf("events: report %d, %d rows", rep.Events, count(`SELECT COUNT(*) FROM events`))
		}
		// The running campaign's sent visit tasks are open on the villages' lists.
		if n := count(`SELECT COUNT(*) FROM deliveries d JOIN visit_tasks t ON CONCAT('task-', t.id) = d.provider_msg_id
			WHERE d.campaign_id = ? AND t.status = 'open' AND t.source = 'campaign'`, cs[1].ID); n != count(`SELECT COUNT(*) FROM deliveries
			WHERE campaign_id = ? AND status = 'sent'`, cs[1].ID) {
			t.Errorf("%d open visit tasks for the running campaign's sent deliveries", n)
		}
		// Every conversion is of a person reached within the attribution window before enrolling.
		if n := count(`SELECT COUNT(*) FROM conversions c JOIN deliveries d ON d.id = c.delivery_id JOIN enrollments e ON e.resident_id = c.resident_id
			WHERE c.converted_on <> e.enrolled_on OR DATE(d.sent_at) > e.enrolled_on OR DATEDIFF(e.enrolled_on, DATE(d.sent_at)) > 31`); n != 0 {
			t.Errorf("%d conversions outside their window", n)
		}
	})
}
