package seed

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/internal/account"
	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/eligibility"
	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/event"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/importer"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/registration"
	residents "github.com/canbao/canbao/internal/roster"
	"github.com/canbao/canbao/internal/rules"
	"github.com/canbao/canbao/internal/targetage"
	"github.com/canbao/canbao/internal/visit"
)

// The drive's random stream, separate from the roster's so the roster stays what it was.
const (
	driveSeedHi = 20190718
	driveSeedLo = 12
)

// paceFactors are how fast each village enrolls against a pace that would reach its task by
// the end of the year (1.0): below 1 the village is behind, from 1 up it is ahead. They are
// dealt to the villages by the drive's random stream.
var paceFactors = []float64{0.42, 0.5, 0.58, 0.64, 0.7, 0.76, 0.82, 0.88, 0.94, 1.02, 1.06, 1.1, 1.16, 1.22}

// reservePercent of each village's unenrolled people are never enrolled by the bulk imports,
// so volunteers, registrations and campaigns still have people to reach.
const (
	reservePercent = 8
	reserveMin     = 40
)

// registrationsPerVillage pending registrations wait in every third village.
const registrationsPerVillage = 3

// newPhoneVillages is how many of those villages (the first in the annex's order, zhenxing
// first) have one registration giving another phone than the roster's, so their review queue
// shows a phone_differs warning.
const newPhoneVillages = 2

// Demo campaign names; the drive is recognised by them too.
const (
	completedCampaignName = "春季参保动员提醒（示例）"
	runningCampaignName   = "入户走访提醒（示例）"
)

// defaultPrivacyNotice is the privacy notice version of the configuration's defaults.
const defaultPrivacyNotice = "2019-07"

// DriveReport says what the drive part of the demo created.
type DriveReport struct {
	Enrollments   int // new enrollments this year (imports and visits)
	Imports       int // weekly imports of the city centre's list that carried them
	Visits        int
	Registrations int // pending (submitted) registrations
	Campaigns     int
	Deliveries    int
	Conversions   int
	Events        int // publicity events (集中宣传): one held ten days ago, one in three days
}

// drivePerson is an unenrolled person of the seeded roster.
type drivePerson struct {
	ID       int64     `db:"id"`
	Village  string    `db:"village_code"`
	Name     string    `db:"name"`
	Gender   string    `db:"gender"`
	Birth    time.Time `db:"birth_date"`
	Employed bool      `db:"employed"`
	Land     bool      `db:"land_expropriated"`
	PhoneEnc []byte    `db:"phone_enc"`
	IDEnc    []byte    `db:"id_number_enc"`
	KeyID    string    `db:"pii_key_id"`

	enrollDay time.Time // zero: not enrolled by an import
	taken     bool      // visited, registered or otherwise spoken for
}

// plannedVisit is one visit to record through the visit service.
type plannedVisit struct {
	village string
	input   visit.Input
	at      time.Time
}

// drive is the plan of the demo drive, built in memory from the fixed stream before anything
// is written.
type drive struct {
	today, yearStart time.Time // civil dates (00:00 UTC)
	loc              *time.Location
	now              time.Time // the clock the drive's writes read: today, in the business zone
	privacy          string    // privacy notice version the registrations accepted
	people           map[string][]*drivePerson
	factor           map[string]float64
	visits           []plannedVisit
	registrations    []*drivePerson
	completed        campaignPlan
	running          campaignPlan
}

type campaignPlan struct {
	name     string
	villages []string
	channel  string
	text     string
	start    time.Time // instant
	end      time.Time
	sent     []sentDelivery
	queued   []*drivePerson
}

type sentDelivery struct {
	p  *drivePerson
	at time.Time
}

// civilDay is the civil date of t in loc, as 00:00 UTC.
func civilDay(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// at is the instant of the civil date day at hh:mm in loc.
func at(day time.Time, loc *time.Location, hh, mm int) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day(), hh, mm, 0, 0, loc)
}

// seedDrive puts a drive in progress on the seeded roster: this year's enrollments (weekly
// imports of the city centre's list and volunteers' visits), visits with their outcomes,
// pending registrations, a completed and a running campaign. It does nothing when the database
// already holds any enrollment, visit, registration or campaign: a re-run adds nothing.
func seedDrive(ctx context.Context, db *sqlx.DB, kr *pii.Keyring, book *rules.Book, rows []AnnexRow, opt Options, log *slog.Logger) (DriveReport, error) {
	var rep DriveReport
	var busy int
	if err := db.GetContext(ctx, &busy, Queries.Get("drive-busy")); err != nil {
		return rep, fmt.Errorf("seed: drive: %w", err)
	}
	if busy > 0 {
		log.Info("seed: drive already in progress, left alone")
		return rep, nil
	}
	loc := opt.Location
	if loc == nil {
		var err error
		if loc, err = time.LoadLocation("Asia/Shanghai"); err != nil {
			return rep, fmt.Errorf("seed: drive: %w", err)
		}
	}
	days := opt.AttributionDays
	if days < 1 {
		days = 30
	}
	d := &drive{loc: loc, privacy: opt.PrivacyNoticeVersion}
	if d.privacy == "" {
		d.privacy = defaultPrivacyNotice
	}
	if opt.Today.IsZero() {
		d.now = time.Now().In(loc)
		d.today = civilDay(d.now, loc)
	} else {
		d.today = time.Date(opt.Today.Year(), opt.Today.Month(), opt.Today.Day(), 0, 0, 0, 0, time.UTC)
		d.now = at(d.today, loc, 20, 0)
	}
	d.yearStart = time.Date(d.today.Year(), 1, 1, 0, 0, 0, 0, time.UTC)

	var people []*drivePerson
	if err := db.SelectContext(ctx, &people, Queries.Get("drive-people"), Source, StatusUnenrolled); err != nil {
		return rep, fmt.Errorf("seed: drive: %w", err)
	}
	d.people = map[string][]*drivePerson{}
	for _, p := range people {
		d.people[p.Village] = append(d.people[p.Village], p)
	}
	r := rand.New(rand.NewPCG(driveSeedHi, driveSeedLo))
	d.plan(r, rows)

	step := time.Now()
	var err error
	if rep.Campaigns, rep.Deliveries, err = d.writeCampaigns(ctx, db); err != nil {
		return rep, err
	}
	log.Info("seed: campaigns", "campaigns", rep.Campaigns, "deliveries", rep.Deliveries, "ms", since(step))

	rec := enrollment.New(loc, days)
	step = time.Now()
	if rep.Imports, rep.Enrollments, err = d.writeImports(ctx, db, rec); err != nil {
		return rep, err
	}
	log.Info("seed: enrollments by weekly imports", "imports", rep.Imports, "enrollments", rep.Enrollments, "ms", since(step))

	step = time.Now()
	visits, enrolled, err := d.writeVisits(ctx, db, rec)
	if err != nil {
		return rep, err
	}
	rep.Visits, rep.Enrollments = visits, rep.Enrollments+enrolled
	log.Info("seed: visits", "visits", visits, "enrolled", enrolled, "ms", since(step))

	step = time.Now()
	if rep.Registrations, err = d.writeRegistrations(ctx, db, kr, book); err != nil {
		return rep, err
	}
	log.Info("seed: pending registrations", "registrations", rep.Registrations, "ms", since(step))

	if rep.Events, err = d.writeEvents(ctx, db, rows); err != nil {
		return rep, err
	}
	log.Info("seed: publicity events", "events", rep.Events)

	if err := db.GetContext(ctx, &rep.Conversions, Queries.Get("conversions-count")); err != nil {
		return rep, fmt.Errorf("seed: drive: %w", err)
	}
	return rep, nil
}

// plan decides, from the stream, who enrolls when, who is visited, who registers and whom the
// campaigns reach.
func (d *drive) plan(r *rand.Rand, rows []AnnexRow) {
	nDays := int(d.today.Sub(d.yearStart).Hours()/24) + 1
	yearDays := time.Date(d.today.Year(), 12, 31, 0, 0, 0, 0, time.UTC).YearDay()
	elapsed := float64(nDays) / float64(yearDays)
	factors := append([]float64(nil), paceFactors...)
	r.Shuffle(len(factors), func(i, j int) { factors[i], factors[j] = factors[j], factors[i] })
	d.factor = map[string]float64{}

	for i, row := range rows {
		f := factors[i%len(factors)]
		d.factor[row.Code] = f
		ps := d.people[row.Code]
		r.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
		reserve := max(reserveMin, len(ps)*reservePercent/100)
		n := min(int(math.Round(float64(row.ExpansionTarget)*f*elapsed)), max(len(ps)-reserve, 0))
		for _, p := range ps[:n] {
			// Working days carry most enrollments; weekends a few.
			day := d.yearStart.AddDate(0, 0, r.IntN(nDays))
			if wd := day.Weekday(); (wd == time.Saturday || wd == time.Sunday) && r.IntN(3) > 0 {
				day = d.yearStart.AddDate(0, 0, r.IntN(nDays))
			}
			p.enrollDay = importDay(day, d.yearStart, d.today)
		}
	}

	// Visits and registrations go to people of the target group still unenrolled.
	earliest, latest := targetage.Range(d.today)
	inTarget := func(p *drivePerson) bool { return !p.Birth.Before(earliest) && !p.Birth.After(latest) }
	free := func(village string) []*drivePerson {
		var out []*drivePerson
		for _, p := range d.people[village] {
			if p.enrollDay.IsZero() && !p.taken && inTarget(p) {
				out = append(out, p)
			}
		}
		return out
	}
	for i, row := range rows {
		d.planVisits(r, row.Code, free(row.Code), i)
	}
	for i, row := range rows {
		if i%3 != 0 {
			continue
		}
		cands := free(row.Code) // the first registrationsPerVillage the mini-program takes register
		for k := 0; k < 4*registrationsPerVillage && k < len(cands); k++ {
			cands[k].taken = true
			d.registrations = append(d.registrations, cands[k])
		}
	}

	// Campaigns: the completed one went to the three villages furthest behind, some weeks ago;
	// the running one to three villages near the middle, over the last days.
	byPace := make([]string, len(rows))
	for i, row := range rows {
		byPace[i] = row.Code
	}
	sort.SliceStable(byPace, func(i, j int) bool { return d.factor[byPace[i]] < d.factor[byPace[j]] })
	d.completed = campaignPlan{name: completedCampaignName, villages: append([]string(nil), byPace[:3]...), channel: campaigns.ChannelLog,
		text: "{{name}}您好：全民参保登记正在进行，{{village}}的乡亲可在“参保”小程序或村委会办理城乡居民养老保险参保登记，缴费截止{{deadline}}。"}
	d.running = campaignPlan{name: runningCampaignName, villages: append([]string(nil), byPace[5:8]...), channel: campaigns.ChannelVisitTask,
		text: "请入户宣传全民参保政策，了解{{name}}未参保原因并协助办理参保登记。"}

	s1 := maxDay(d.yearStart, d.today.AddDate(0, 0, -50))
	d.completed.start = at(s1, d.loc, 9, 0)
	d.completed.end = at(s1.AddDate(0, 0, 7), d.loc, 18, 0)
	lo1, hi1 := targetage.Range(s1)
	for _, code := range d.completed.villages {
		for _, p := range d.people[code] {
			if (!p.enrollDay.IsZero() && p.enrollDay.Before(s1)) || p.Birth.Before(lo1) || p.Birth.After(hi1) {
				continue // enrolled already, or outside the target group on the day
			}
			day := s1.AddDate(0, 0, r.IntN(2))
			if day.After(d.today) {
				day = d.today
			}
			sent := at(day, d.loc, 10+r.IntN(6), r.IntN(60))
			if sent.After(d.now) {
				sent = d.now.Add(-time.Hour)
			}
			d.completed.sent = append(d.completed.sent, sentDelivery{p: p, at: sent})
		}
	}

	s2 := maxDay(d.yearStart, d.today.AddDate(0, 0, -2))
	d.running.start = at(s2, d.loc, 9, 0)
	d.running.end = at(d.today.AddDate(0, 0, 14), d.loc, 18, 0)
	lo2, hi2 := targetage.Range(s2)
	for _, code := range d.running.villages {
		for _, p := range d.people[code] {
			if (!p.enrollDay.IsZero() && p.enrollDay.Before(s2)) || p.taken || p.Birth.Before(lo2) || p.Birth.After(hi2) {
				// Enrolled, or outside the target group: not in the segment. The people visited or
				// registering are left out too, so no visit closes a task the campaign made later.
				continue
			}
			if r.IntN(100) < 55 {
				day := s2.AddDate(0, 0, r.IntN(int(d.today.Sub(s2).Hours()/24)+1))
				sent := at(day, d.loc, 9+r.IntN(8), r.IntN(60))
				if sent.After(d.now) {
					sent = d.now.Add(-time.Hour)
				}
				d.running.sent = append(d.running.sent, sentDelivery{p: p, at: sent})
			} else {
				d.running.queued = append(d.running.queued, p)
			}
		}
	}
}

// importDay is the Monday of day's week on which the city centre's list that carried the
// enrollment was imported: never before the year's first day, nor after today.
func importDay(day, yearStart, today time.Time) time.Time {
	off := (int(day.Weekday()) + 6) % 7 // days since Monday
	m := day.AddDate(0, 0, -off)
	return minDay(maxDay(m, yearStart), today)
}

func maxDay(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minDay(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// visitPlan is what a village's volunteer records: outcome, reason, and when a follow-up falls.
type visitPlan struct {
	outcome, reason string
	follow          int // 0 none; 1 due today or overdue; 2 later
}

var villageVisits = []visitPlan{
	{"enrolled", "", 0}, {"enrolled", "", 0}, {"enrolled", "", 0}, {"enrolled", "", 0},
	{"agreed", "", 1}, {"agreed", "", 2}, {"agreed", "", 2},
	{"considering", "cannot_afford", 1}, {"considering", "inconvenient", 1}, {"considering", "unwilling", 2}, {"considering", "cannot_afford", 2},
	{"refused", "unwilling", 0}, {"refused", "cannot_afford", 0}, {"refused", "unable", 0},
	{"not_home", "", 1}, {"not_home", "", 1}, {"not_home", "", 2}, {"not_home", "", 2},
	{"moved_away", "", 0}, {"insured_elsewhere", "", 0},
}

// visitNotes are what volunteers write, by outcome.
var visitNotes = map[string][]string{
	"enrolled":          {"已在村委会办理城乡居民养老保险参保登记", "现场协助在小程序完成登记，已缴费", "本人已到社保窗口办理参保"},
	"agreed":            {"同意参保，约好下周带身份证到村委会办理", "愿意参保，等家人商量好缴费档次"},
	"considering":       {"觉得每年缴费压力大，想再考虑", "外出务工，回来后再决定", "对待遇计算有疑问，已讲解政策"},
	"refused":           {"明确表示暂不参保", "认为年纪轻，不急着参保", "家中困难，暂无能力缴费"},
	"not_home":          {"家中无人，已留联系卡", "邻居说白天在厂里上班，晚上再来", "大门紧锁，改日回访"},
	"moved_away":        {"已全家迁往泉州市区居住"},
	"insured_elsewhere": {"在晋江企业上班，已参加职工养老保险"},
	"deceased":          {"家属告知本人已去世"},
}

// planVisits plans one village's visits over the last five weeks, with follow-ups due today
// or overdue for some of them.
func (d *drive) planVisits(r *rand.Rand, village string, cands []*drivePerson, i int) {
	plans := append([]visitPlan(nil), villageVisits...)
	if i%4 == 1 {
		plans = append(plans, visitPlan{"deceased", "", 0})
	}
	for k, vp := range plans {
		if k >= len(cands) {
			return
		}
		p := cands[k]
		p.taken = true
		var visitDay time.Time
		var follow *string
		switch vp.follow {
		case 1: // follow-up due today or a few days overdue
			fd := d.today.AddDate(0, 0, -r.IntN(5))
			visitDay = fd.AddDate(0, 0, -(2 + r.IntN(10)))
			s := fd.Format(time.DateOnly)
			follow = &s
		case 2:
			visitDay = d.today.AddDate(0, 0, -(1 + r.IntN(20)))
			s := d.today.AddDate(0, 0, 1+r.IntN(14)).Format(time.DateOnly)
			follow = &s
		default:
			visitDay = d.today.AddDate(0, 0, -(1 + r.IntN(35)))
		}
		if visitDay.Before(d.yearStart) {
			visitDay = d.yearStart
		}
		when := at(visitDay, d.loc, 9+r.IntN(9), r.IntN(60))
		if when.After(d.now) {
			when = d.now.Add(-time.Hour)
		}
		notes := visitNotes[vp.outcome]
		note := notes[r.IntN(len(notes))]
		in := visit.Input{
			ClientID:   uuid.NewSHA1(uuid.NameSpaceOID, []byte("canbao-demo-visit:"+village+":"+strconv.Itoa(k))).String(),
			ResidentID: p.ID, VisitedAt: when.Format(time.RFC3339), Outcome: vp.outcome, Note: &note, FollowUpOn: follow,
		}
		if vp.reason != "" {
			reason := vp.reason
			in.Reason = &reason
		}
		d.visits = append(d.visits, plannedVisit{village: village, input: in, at: when})
	}
}

// staffIDs maps the demo accounts that exist to their ids.
func staffIDs(ctx context.Context, db *sqlx.DB) (map[string]int64, error) {
	var rows []struct {
		ID       int64  `db:"id"`
		Username string `db:"username"`
	}
	if err := db.SelectContext(ctx, &rows, Queries.Get("staff-ids")); err != nil {
		return nil, fmt.Errorf("seed: drive: %w", err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.Username] = r.ID
	}
	return out, nil
}

// writeCampaigns writes the two campaigns as the engine leaves them: the completed one with its
// run completed and every delivery sent through the log channel; the running one with its run
// dispatching, part of its deliveries sent as visit tasks (the task on the village's list) and
// the rest queued.
func (d *drive) writeCampaigns(ctx context.Context, db *sqlx.DB) (int, int, error) {
	staff, err := staffIDs(ctx, db)
	if err != nil {
		return 0, 0, err
	}
	store := campaigns.NewStore(db)
	deliveries := 0
	err = database.InTx(ctx, db, func(tx *sqlx.Tx) error {
		deliveries = 0
		for _, c := range []*campaignPlan{&d.completed, &d.running} {
			n, err := d.writeCampaign(ctx, tx, store, c, staff["staff"])
			if err != nil {
				return fmt.Errorf("seed: campaign %s: %w", c.name, err)
			}
			deliveries += n
		}
		return nil
	})
	return 2, deliveries, err
}

func (d *drive) writeCampaign(ctx context.Context, tx *sqlx.Tx, store *campaigns.Store, c *campaignPlan, by int64) (int, error) {
	end := c.end
	spec := campaigns.Spec{
		Name:     c.name,
		Segment:  campaigns.Segment{Villages: c.villages, Statuses: []string{StatusUnenrolled}},
		Channels: []string{c.channel},
		Template: campaigns.Template{Text: c.text},
		Schedule: campaigns.ScheduleSpec{StartAt: c.start.UTC(), EndAt: &end, Window: campaigns.Window{From: "09:00", To: "20:00"}},
		// The demo's own rate: the engine, when it runs, sends what is queued at this pace.
		RatePerMinute: 60,
	}
	if c.channel == campaigns.ChannelVisitTask {
		days := 30
		spec.Segment.NotContactedDays = &days
	}
	id, err := store.Create(ctx, tx, spec, by)
	if err != nil {
		return 0, err
	}
	start := c.start.UTC()
	if err := campaigns.Move(ctx, tx, id, campaigns.StatusDraft, campaigns.StatusScheduled, campaigns.SetNextRun(&start)); err != nil {
		return 0, err
	}
	if err := campaigns.Move(ctx, tx, id, campaigns.StatusScheduled, campaigns.StatusRunning, campaigns.SetNextRun(nil)); err != nil {
		return 0, err
	}
	completed := len(c.queued) == 0
	if completed {
		if err := campaigns.Move(ctx, tx, id, campaigns.StatusRunning, campaigns.StatusCompleted, campaigns.SetNextRun(nil)); err != nil {
			return 0, err
		}
	}
	// The rows carry the campaign's own times, not the seeding's.
	created := c.start.Add(-24 * time.Hour).UTC()
	last := c.start.UTC()
	for _, s := range c.sent {
		if s.at.After(last) {
			last = s.at.UTC()
		}
	}
	if err := campaigns.Backdate(ctx, tx, id, created, last, by); err != nil {
		return 0, database.Map(err)
	}

	var maxID int64
	if err := tx.GetContext(ctx, &maxID, Queries.Get("residents-max-id")); err != nil {
		return 0, database.Map(err)
	}
	status, snapDone := "dispatching", c.start.Add(time.Minute).UTC()
	var completedAt *time.Time
	if completed {
		status, completedAt = "completed", &last
	}
	targeted := len(c.sent) + len(c.queued)
	runID, err := campaigns.InsertPastRun(ctx, tx, campaigns.PastRun{Campaign: id, Status: status, Cursor: maxID,
		Targeted: targeted, Started: start, SnapshotDone: snapDone, Completed: completedAt})
	if err != nil {
		return 0, database.Map(err)
	}

	// The outbox rows, in resident order as the snapshot writes them.
	type row struct {
		p    *drivePerson
		sent time.Time
	}
	all := make([]row, 0, targeted)
	for _, s := range c.sent {
		all = append(all, row{s.p, s.at.UTC()})
	}
	for _, p := range c.queued {
		all = append(all, row{p: p})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].p.ID < all[j].p.ID })
	channel := c.channel
	for startAt := 0; startAt < len(all); startAt += 500 {
		chunk := all[startAt:min(startAt+500, len(all))]
		ds := make([]campaigns.PastDelivery, 0, len(chunk))
		for _, r := range chunk {
			if r.sent.IsZero() {
				ds = append(ds, campaigns.PastDelivery{Campaign: id, Run: runID, Resident: r.p.ID, Village: r.p.Village,
					Status: "queued", Created: snapDone, Updated: snapDone})
				continue
			}
			enq, sent := r.sent.Add(-time.Minute), r.sent
			ds = append(ds, campaigns.PastDelivery{Campaign: id, Run: runID, Resident: r.p.ID, Village: r.p.Village,
				Status: "sent", Channel: &channel, Attempts: 1, Enqueued: &enq, Sent: &sent, Created: snapDone, Updated: r.sent})
		}
		if err := campaigns.InsertPastDeliveries(ctx, tx, ds); err != nil {
			return 0, database.Map(err)
		}
	}
	switch c.channel {
	case campaigns.ChannelLog:
		if err := campaigns.StampPastMsgIDs(ctx, tx, id, c.channel); err != nil {
			return 0, database.Map(err)
		}
	case campaigns.ChannelVisitTask:
		// What the visit_task channel does: an open task on the village's list, due in a week.
		if len(c.sent) > 0 {
			tasks := make([]visit.OpenedTask, 0, len(c.sent))
			for _, s := range c.sent {
				due := civilDay(s.at, d.loc).AddDate(0, 0, 7)
				note := campaigns.Render(c.text, campaigns.Vars{Name: s.p.Name})
				tasks = append(tasks, visit.OpenedTask{CampaignTask: visit.CampaignTask{ResidentID: s.p.ID, Village: s.p.Village,
					CampaignID: id, Note: note, DueOn: due}, At: s.at.UTC()})
			}
			if err := visit.OpenCampaignTasks(ctx, tx, tasks); err != nil {
				return 0, database.Map(err)
			}
			if err := campaigns.StampPastMsgIDs(ctx, tx, id, c.channel); err != nil {
				return 0, database.Map(err)
			}
		}
	}
	return targeted, nil
}

// writeImports records the bulk of the year's enrollments as the importer does: each Monday's
// list from the city centre is an import, the people it shows insured change status and count
// once through the enrollment recorder (daily totals and campaign conversions included), all
// in one transaction.
func (d *drive) writeImports(ctx context.Context, db *sqlx.DB, rec *enrollment.Recorder) (int, int, error) {
	staff, err := staffIDs(ctx, db)
	if err != nil {
		return 0, 0, err
	}
	byDay := map[time.Time][]*drivePerson{}
	var days []time.Time
	for _, ps := range d.people {
		for _, p := range ps {
			if p.enrollDay.IsZero() {
				continue
			}
			if byDay[p.enrollDay] == nil {
				days = append(days, p.enrollDay)
			}
			byDay[p.enrollDay] = append(byDay[p.enrollDay], p)
		}
	}
	sort.Slice(days, func(i, j int) bool { return days[i].Before(days[j]) })
	var by *int64
	if id, ok := staff["admin"]; ok {
		by = &id
	}
	imports, enrolled := 0, 0
	err = database.InTx(ctx, db, func(tx *sqlx.Tx) error {
		imports, enrolled = 0, 0
		now := database.Now()
		var all []enrollment.Enrollment
		for _, day := range days {
			ps := byDay[day]
			sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
			started := at(day, d.loc, 9, 30).UTC()
			finished := started.Add(40 * time.Second)
			importID, err := importer.InsertCompleted(ctx, tx, importer.Completed{
				FileName: "市社保中心参保名单-" + day.Format("20060102") + ".xlsx", FileBytes: 9000 + len(ps)*96, Rows: len(ps),
				CreatedBy: by, Started: started, Finished: finished})
			if err != nil {
				return database.Map(err)
			}
			imports++
			ids := make([]int64, 0, len(ps))
			es := make([]enrollment.Enrollment, 0, len(ps))
			for _, p := range ps {
				ids = append(ids, p.ID)
				es = append(es, enrollment.Enrollment{ResidentID: p.ID, Village: p.Village, Scheme: StatusResidentPension,
					Source: enrollment.SourceImport, SourceID: importID, Day: day})
			}
			if err := residents.SetStatuses(ctx, tx, ids, StatusUnenrolled, StatusResidentPension, day, now); err != nil {
				return database.Map(err)
			}
			all = append(all, es...)
		}
		// One batch for the year, in day order: a few statements per thousand.
		n, err := rec.RecordBatch(ctx, tx, all)
		if err != nil {
			return err
		}
		if n != len(all) {
			return fmt.Errorf("seed: imports: %d of %d enrollments counted", n, len(all))
		}
		enrolled = n
		return nil
	})
	return imports, enrolled, err
}

// writeVisits records the visits through the visit service, as each village's volunteer:
// outcomes change the person's status and count enrollments the way a phone's post does.
// Villages without their demo volunteer (no demo password) get no visits.
func (d *drive) writeVisits(ctx context.Context, db *sqlx.DB, rec *enrollment.Recorder) (int, int, error) {
	staff, err := staffIDs(ctx, db)
	if err != nil {
		return 0, 0, err
	}
	now := d.now
	svc := visit.NewService(db, audit.New(db), d.loc, rec, nil).WithClock(func() time.Time { return now })
	byVillage := map[string][]plannedVisit{}
	var order []string
	for _, v := range d.visits {
		if byVillage[v.village] == nil {
			order = append(order, v.village)
		}
		byVillage[v.village] = append(byVillage[v.village], v)
	}
	visits := 0
	for _, code := range order {
		volID, ok := staff[code+"-vol"]
		if !ok {
			continue
		}
		vs := byVillage[code]
		sort.SliceStable(vs, func(i, j int) bool { return vs[i].at.Before(vs[j].at) })
		inputs := make([]visit.Input, len(vs))
		for i, v := range vs {
			inputs[i] = v.input
		}
		p := &auth.Principal{Kind: auth.KindStaff, ID: volID, Role: auth.RoleVolunteer, Village: code}
		actx := audit.Context{ActorKind: string(auth.KindStaff), ActorID: volID, Role: string(auth.RoleVolunteer), RequestID: "seed-demo"}
		for start := 0; start < len(inputs); start += visit.MaxBatch {
			res, err := svc.Record(ctx, actx, p, inputs[start:min(start+visit.MaxBatch, len(inputs))], true)
			if err != nil {
				return visits, 0, fmt.Errorf("seed: visits in %s: %w", code, err)
			}
			visits += res.Created
		}
	}
	var counted int
	if err := db.GetContext(ctx, &counted, Queries.Get("enrollments-of-source"), enrollment.SourceVisit); err != nil {
		return visits, 0, fmt.Errorf("seed: visits: %w", err)
	}
	return visits, counted, nil
}

// writeRegistrations submits pending registrations as residents do from the mini-program,
// under the roster's name and village, with the ID number and a phone encrypted like real
// ones: each with its own resident account, waiting for the village admin's review. The phone
// is the roster's when it has one, except for the first such registration of newPhoneVillages
// villages, which gives a new number. It writes through the registration package's statements
// (Register itself needs Redis for its limits).
func (d *drive) writeRegistrations(ctx context.Context, db *sqlx.DB, kr *pii.Keyring, book *rules.Book) (int, error) {
	y, err := book.For(d.today.Year())
	if err != nil {
		return 0, fmt.Errorf("seed: registrations: %w", err)
	}
	if len(y.Tiers) == 0 {
		return 0, fmt.Errorf("seed: registrations: no contribution tiers for %d", d.today.Year())
	}
	r := rand.New(rand.NewPCG(driveSeedHi, driveSeedLo+1))
	created := 0
	err = database.InTx(ctx, db, func(tx *sqlx.Tx) error {
		created = 0
		perVillage := map[string]int{}
		newPhone := map[string]bool{}
		for i, p := range d.registrations {
			if perVillage[p.Village] == registrationsPerVillage {
				continue
			}
			idNumber, err := kr.Decrypt(p.IDEnc, p.KeyID, pii.AADResidentIDNumber)
			if err != nil {
				return fmt.Errorf("seed: registrations: resident %d: %w", p.ID, err)
			}
			phone := fmt.Sprintf("1%d%09d", 3+r.IntN(7), r.IntN(1_000_000_000))
			rosterPhone := ""
			if len(p.PhoneEnc) > 0 {
				if rosterPhone, err = kr.Decrypt(p.PhoneEnc, p.KeyID, pii.AADResidentPhone); err != nil {
					return fmt.Errorf("seed: registrations: resident %d: %w", p.ID, err)
				}
			}
			person := eligibility.Person{Gender: idcard.Gender(p.Gender), Birth: p.Birth, Employed: p.Employed, LandExpropriated: p.Land}
			res, err := eligibility.Evaluate(y, person, d.today)
			if err != nil {
				continue // not someone the mini-program would take
			}
			opt, ok := res.OptionFor(eligibility.ResidentPension)
			if !ok {
				continue
			}
			// The random phone is drawn for everyone, so the stream stays what it was.
			if rosterPhone != "" {
				if !newPhone[p.Village] && len(newPhone) < newPhoneVillages && phone != rosterPhone {
					newPhone[p.Village] = true
				} else {
					phone = rosterPhone
				}
			}
			tier := y.Tiers[r.IntN(min(3, len(y.Tiers)))].Amount
			idEnc, keyID, err := kr.Encrypt(idNumber, pii.AADRegistrationIDNumber)
			if err != nil {
				return err
			}
			phoneEnc, _, err := kr.Encrypt(phone, pii.AADRegistrationPhone)
			if err != nil {
				return err
			}
			when := at(d.today.AddDate(0, 0, -r.IntN(7)), d.loc, 8+r.IntN(13), r.IntN(60))
			if when.After(d.now) {
				when = d.now.Add(-time.Duration(1+i) * time.Minute)
			}
			ts := when.UTC()
			accountID, err := account.InsertDemoAccount(ctx, tx, "demo-openid-"+strconv.FormatInt(p.ID, 10), ts)
			if err != nil {
				return database.Map(err)
			}
			if _, err := registration.Insert(ctx, tx, registration.Row{AccountID: accountID, ResidentID: p.ID, Year: d.today.Year(),
				Name: p.Name, IDEnc: idEnc, PhoneEnc: phoneEnc, KeyID: keyID, Village: p.Village, Employed: p.Employed, Land: p.Land,
				Scheme: opt.Scheme, Channel: opt.Channel, RegisterAt: opt.RegisterAt, Tier: &tier,
				Status: registration.StatusSubmitted, Privacy: d.privacy, At: ts}); err != nil {
				return database.Map(err)
			}
			if err := account.LinkPerson(ctx, tx, accountID, p.ID); err != nil {
				return database.Map(err)
			}
			perVillage[p.Village]++
			created++
		}
		return nil
	})
	return created, err
}

// writeEvents adds two publicity events (集中宣传): a village event in the first two villages of
// the annex ten days ago, and a market event in three days. They have no check-ins, so no
// figure of the drive changes.
func (d *drive) writeEvents(ctx context.Context, db *sqlx.DB, rows []AnnexRow) (int, error) {
	if len(rows) < 2 {
		return 0, nil
	}
	past, next := d.today.AddDate(0, 0, -10), d.today.AddDate(0, 0, 3)
	events := []event.Demo{
		{Title: "全民参保进村集中宣传", Kind: event.KindVillage, Place: rows[0].Village + "村民委员会广场",
			StartsAt: at(past, d.loc, 9, 0), EndsAt: at(past, d.loc, 12, 0), Villages: []string{rows[0].Code, rows[1].Code}},
		{Title: "赶集日参保政策宣传咨询", Kind: event.KindMarket, Place: "镇农贸市场入口",
			StartsAt: at(next, d.loc, 8, 0), EndsAt: at(next, d.loc, 11, 30)},
	}
	if err := event.InsertDemo(ctx, db, events); err != nil {
		return 0, fmt.Errorf("seed: events: %w", err)
	}
	return len(events), nil
}
