package seed

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/configs"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/dbtest"
	"github.com/canbao/canbao/internal/rules"
	"github.com/canbao/canbao/internal/seed/content"
)

const demoPassword = "Demo-Passw0rd!x"

// The printed annex does not add up: its rows are rounded one by one, so the village targets sum
// to 9778 and the 2019 tasks to 7821, while its own total row says 9777 and 7822. The seed
// reproduces the table as printed; these are the numbers the tests expect.
const (
	printedTotalPopulation = 39042
	printedTotalEnrolled   = 23309
	printedTotalUnenrolled = 15733
	printedTotalTarget     = 9777
	printedTotalTask       = 7822
	sumOfRowTargets        = 9778
	sumOfRowTasks          = 7821
)

// demoToday is the day the tests' drive has reached: late October, so about four fifths of
// the year's pace is due.
var demoToday = time.Date(2026, time.October, 20, 0, 0, 0, 0, time.UTC)

func shanghai(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// demoOptions are the options cmd/canbao passes, with the drive's day fixed.
func demoOptions(t testing.TB, password string) Options {
	return Options{DemoPassword: password, Location: shanghai(t), AttributionDays: 30, PrivacyNoticeVersion: "2019-07", Today: demoToday}
}

func testKeyring(t testing.TB) *pii.Keyring {
	t.Helper()
	kr, err := pii.NewKeyring("k1", map[string][]byte{"k1": bytes.Repeat([]byte{7}, pii.KeySize)}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func testBook(t testing.TB) *rules.Book {
	t.Helper()
	book, err := rules.Load(configs.Policy)
	if err != nil {
		t.Fatal(err)
	}
	return book
}

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAnnex(t *testing.T) {
	rows, total, err := Annex()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 14 {
		t.Fatalf("%d village rows, want 14", len(rows))
	}
	wantCodes := []string{"zhenxing", "luoxi", "weixin", "xinming", "luodong", "puxin", "shanban", "caicuo",
		"xiashan", "jingkeng", "gaotang", "tanxi", "xinyuting", "yinhexincheng"}
	for i, row := range rows {
		if row.Code != wantCodes[i] {
			t.Errorf("row %d (%s): code %q, want %q", i, row.Village, row.Code, wantCodes[i])
		}
	}
	if rows[0] != (AnnexRow{"振兴村", "zhenxing", 4921, 3227, 1694, 1053, 842}) {
		t.Errorf("first row = %+v", rows[0])
	}
	if total != (AnnexRow{Village: "合计", Population: printedTotalPopulation, Enrolled: printedTotalEnrolled,
		Unenrolled: printedTotalUnenrolled, ExpansionTarget: printedTotalTarget, Task2019: printedTotalTask}) {
		t.Errorf("total row = %+v", total)
	}
	var sum AnnexRow
	for _, row := range rows {
		sum.Population += row.Population
		sum.Enrolled += row.Enrolled
		sum.Unenrolled += row.Unenrolled
		sum.ExpansionTarget += row.ExpansionTarget
		sum.Task2019 += row.Task2019
	}
	if sum.Population != total.Population || sum.Enrolled != total.Enrolled || sum.Unenrolled != total.Unenrolled {
		t.Errorf("village sums %d/%d/%d differ from the total row %d/%d/%d",
			sum.Population, sum.Enrolled, sum.Unenrolled, total.Population, total.Enrolled, total.Unenrolled)
	}
	// The printed rows do not add up to the printed total (each village rounded separately).
	if sum.ExpansionTarget != sumOfRowTargets || total.ExpansionTarget != printedTotalTarget {
		t.Errorf("targets: rows sum to %d (want %d), total row %d (want %d)", sum.ExpansionTarget, sumOfRowTargets, total.ExpansionTarget, printedTotalTarget)
	}
	if sum.Task2019 != sumOfRowTasks || total.Task2019 != printedTotalTask {
		t.Errorf("tasks: rows sum to %d (want %d), total row %d (want %d)", sum.Task2019, sumOfRowTasks, total.Task2019, printedTotalTask)
	}
}

// TestRosterShape checks the in-memory roster without a database: exact counts per village and
// status, ages, and the rough shares.
func TestRosterShape(t *testing.T) {
	rows, total, err := Annex()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	people, err := roster(rows)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("roster of %d people built in memory in %v", len(people), time.Since(start))
	if len(people) != total.Population {
		t.Fatalf("%d people, want %d", len(people), total.Population)
	}
	type key struct{ village, status string }
	count := map[key]int{}
	ageSum := map[string]int{}
	statusN := map[string]int{}
	employed := map[string]int{}
	var male, land, phones int
	for _, p := range people {
		count[key{p.Village, p.Status}]++
		age := idcard.AgeOn(p.Birth, ReferenceDate)
		if age < MinAge || age > MaxAge {
			t.Fatalf("age %d on %s out of range", age, ReferenceDay)
		}
		ageSum[p.Status] += age
		statusN[p.Status]++
		if p.Employed {
			employed[p.Status]++
		}
		if p.Gender == idcard.Male {
			male++
		}
		if p.LandExpropriated {
			land++
		}
		if p.Phone != "" {
			phones++
		}
	}
	for _, row := range rows {
		rest := row.Unenrolled - row.ExpansionTarget
		emp, ex := count[key{row.Code, StatusEmployeePension}], count[key{row.Code, StatusExempt}]
		if count[key{row.Code, StatusResidentPension}] != row.Enrolled || count[key{row.Code, StatusUnenrolled}] != row.ExpansionTarget || emp+ex != rest {
			t.Errorf("%s: counts %v", row.Code, count)
		}
		if rest >= 100 && (emp*100 < rest*65 || emp*100 > rest*75) {
			t.Errorf("%s: employee_pension %d of %d beyond the target, want about 70%%", row.Code, emp, rest)
		}
	}
	mean := func(s string) float64 { return float64(ageSum[s]) / float64(statusN[s]) }
	t.Logf("mean age: resident_pension %.1f, unenrolled %.1f, employee_pension %.1f, exempt %.1f",
		mean(StatusResidentPension), mean(StatusUnenrolled), mean(StatusEmployeePension), mean(StatusExempt))
	if mean(StatusResidentPension) <= mean(StatusUnenrolled)+3 {
		t.Errorf("the enrolled should skew older than the unenrolled")
	}
	share := func(n, of int) float64 { return float64(n) / float64(of) }
	checkShare := func(what string, got, lo, hi float64) {
		t.Helper()
		if got < lo || got > hi {
			t.Errorf("%s share %.3f, want %.2f..%.2f", what, got, lo, hi)
		}
	}
	checkShare("male", share(male, len(people)), 0.48, 0.52)
	checkShare("land_expropriated", share(land, len(people)), 0.04, 0.06)
	checkShare("phone", share(phones, len(people)), 0.83, 0.87)
	checkShare("employed unenrolled", share(employed[StatusUnenrolled], statusN[StatusUnenrolled]), 0.32, 0.38)
	checkShare("employed employee_pension", share(employed[StatusEmployeePension], statusN[StatusEmployeePension]), 0.56, 0.64)
}

func TestDemo(t *testing.T) {
	ctx := context.Background()
	kr, book := testKeyring(t), testBook(t)
	rows, total, err := Annex()
	if err != nil {
		t.Fatal(err)
	}
	articles, err := content.Articles()
	if err != nil {
		t.Fatal(err)
	}
	wantTiers := 0
	for _, y := range book.Years() {
		py, err := book.For(y)
		if err != nil {
			t.Fatal(err)
		}
		wantTiers += len(py.Tiers)
	}

	db := dbtest.New(t)
	var logs syncBuffer
	opt := demoOptions(t, demoPassword)
	opt.Log = slog.New(slog.NewTextHandler(&logs, nil))
	rep, err := Demo(ctx, db, kr, book, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first Demo took %v (with %d demo accounts); its log:\n%s", rep.Duration, rep.Users, logs.String())
	if m := regexp.MustCompile(`msg="seed: roster" .*ms=(\d+)`).FindStringSubmatch(logs.String()); m != nil {
		t.Logf("roster seed (build + encrypt + insert of %d rows): %s ms", total.Population, m[1])
	}
	if pii.ContainsPII(logs.String()) {
		t.Errorf("the seed log contains an ID or phone number")
	}
	if rep.Villages != 14 || rep.Residents != total.Population || rep.Articles != len(articles) ||
		rep.Tiers != wantTiers || rep.Users != 2+2*len(rows) || len(rep.Logins) != 2+2*len(rows) {
		t.Fatalf("report = %+v", rep)
	}

	t.Run("villages", func(t *testing.T) {
		var got []struct {
			Code, Name, Town string
			SortOrder        int `db:"sort_order"`
		}
		if err := db.Select(&got, "SELECT code, name, town, sort_order FROM villages ORDER BY sort_order"); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(rows) {
			t.Fatalf("%d villages", len(got))
		}
		for i, v := range got {
			if v.Code != rows[i].Code || v.Name != rows[i].Village || v.Town != "罗东镇" || v.SortOrder != i+1 {
				t.Errorf("village %d = %+v", i, v)
			}
		}
	})

	// The annex is the 2019 baseline: the drive's changes of status are events on top of it.
	// Every person whose status changed (status_changed_on set) was unenrolled in 2019.
	t.Run("roster reproduces the annex", func(t *testing.T) {
		var got []struct {
			Village    string `db:"village_code"`
			Population int    `db:"population"`
			Enrolled   int    `db:"enrolled"`
			Unenrolled int    `db:"unenrolled"`
			Target     int    `db:"target"`
		}
		if err := db.Select(&got, `SELECT village_code, COUNT(*) AS population,
  SUM(baseline = 'resident_pension') AS enrolled, SUM(baseline <> 'resident_pension') AS unenrolled,
  SUM(baseline = 'unenrolled') AS target
FROM (SELECT village_code, IF(status_changed_on IS NULL, status, 'unenrolled') AS baseline FROM residents) r
GROUP BY village_code`); err != nil {
			t.Fatal(err)
		}
		byCode := map[string]int{}
		for i, g := range got {
			byCode[g.Village] = i
		}
		if len(got) != len(rows) {
			t.Fatalf("%d villages in residents, want %d", len(got), len(rows))
		}
		var pop, enr, unr, tgt int
		for _, row := range rows {
			i, ok := byCode[row.Code]
			if !ok {
				t.Fatalf("no residents in %s", row.Code)
			}
			g := got[i]
			if g.Population != row.Population || g.Enrolled != row.Enrolled || g.Unenrolled != row.Unenrolled || g.Target != row.ExpansionTarget {
				t.Errorf("%s: residents give %+v, annex %+v", row.Code, g, row)
			}
			pop, enr, unr, tgt = pop+g.Population, enr+g.Enrolled, unr+g.Unenrolled, tgt+g.Target
		}
		if pop != total.Population || enr != total.Enrolled || unr != total.Unenrolled {
			t.Errorf("sums %d/%d/%d, printed total %d/%d/%d", pop, enr, unr, total.Population, total.Enrolled, total.Unenrolled)
		}
		// The village targets add up to 9778 while the printed total row says 9777.
		if tgt != sumOfRowTargets {
			t.Errorf("unenrolled (target) residents: %d, want %d", tgt, sumOfRowTargets)
		}
	})

	t.Run("plan, targets and tasks equal the annex", func(t *testing.T) {
		var plan struct {
			ID       int64
			Title    string
			Document string
			BaseYear int `db:"base_year"`
			Quota    int
		}
		if err := db.Get(&plan, "SELECT id, title, document, base_year, quota FROM plans WHERE code = 'luodong-2019'"); err != nil {
			t.Fatal(err)
		}
		if plan.Title != "罗东镇全面推进全民参保计划实施方案" || plan.Document != "罗政〔2019〕185号" || plan.BaseYear != 2019 || plan.Quota != printedTotalTarget {
			t.Errorf("plan = %+v", plan)
		}
		var ms []struct {
			Year  int
			Ratio float64
		}
		if err := db.Select(&ms, "SELECT year, ratio FROM plan_milestones WHERE plan_id = ? ORDER BY year", plan.ID); err != nil {
			t.Fatal(err)
		}
		if len(ms) != 2 || ms[0].Year != 2019 || ms[0].Ratio != 0.8 || ms[1].Year != 2020 || ms[1].Ratio != 1.0 {
			t.Errorf("milestones = %+v", ms)
		}

		targets := map[string][4]int{}
		trows, err := db.Query(`SELECT village_code, population_16_59, enrolled_baseline, unenrolled_baseline, expansion_target
FROM plan_targets WHERE plan_id = ?`, plan.ID)
		if err != nil {
			t.Fatal(err)
		}
		for trows.Next() {
			var code string
			var v [4]int
			if err := trows.Scan(&code, &v[0], &v[1], &v[2], &v[3]); err != nil {
				t.Fatal(err)
			}
			targets[code] = v
		}
		trows.Close()
		tasks := map[string]map[int]int{}
		krows, err := db.Query("SELECT village_code, year, task FROM plan_tasks WHERE plan_id = ?", plan.ID)
		if err != nil {
			t.Fatal(err)
		}
		for krows.Next() {
			var code string
			var year, task int
			if err := krows.Scan(&code, &year, &task); err != nil {
				t.Fatal(err)
			}
			if tasks[code] == nil {
				tasks[code] = map[int]int{}
			}
			tasks[code][year] = task
		}
		krows.Close()
		if len(targets) != len(rows) || len(tasks) != len(rows) {
			t.Fatalf("%d targets, %d villages with tasks", len(targets), len(tasks))
		}
		sumTarget, sumTask := 0, 0
		for _, row := range rows {
			if got, want := targets[row.Code], [4]int{row.Population, row.Enrolled, row.Unenrolled, row.ExpansionTarget}; got != want {
				t.Errorf("%s: target %v, annex %v", row.Code, got, want)
			}
			if len(tasks[row.Code]) != 2 || tasks[row.Code][2019] != row.Task2019 || tasks[row.Code][2020] != row.ExpansionTarget {
				t.Errorf("%s: tasks %v, annex 2019 %d, target %d", row.Code, tasks[row.Code], row.Task2019, row.ExpansionTarget)
			}
			sumTarget += targets[row.Code][3]
			sumTask += tasks[row.Code][2019]
		}
		// As printed: 9778 and 7821 against the total row's 9777 and 7822.
		if sumTarget != sumOfRowTargets || sumTask != sumOfRowTasks {
			t.Errorf("plan_targets sum %d (want %d), 2019 plan_tasks sum %d (want %d)", sumTarget, sumOfRowTargets, sumTask, sumOfRowTasks)
		}
	})

	t.Run("tiers and articles", func(t *testing.T) {
		var n int
		if err := db.Get(&n, "SELECT COUNT(*) FROM contribution_tiers"); err != nil || n != wantTiers {
			t.Errorf("contribution_tiers: %d rows (%v), want %d", n, err, wantTiers)
		}
		for _, a := range articles {
			var got struct {
				ID          int64
				Title, Body string
				Published   bool
				Version     int
				PublishedAt sql.NullTime `db:"published_at"`
				Revisions   int          `db:"revisions"`
			}
			err := db.Get(&got, `SELECT a.id, a.title, a.body, a.published, a.version, a.published_at,
  (SELECT COUNT(*) FROM policy_article_revisions r WHERE r.article_id = a.id AND r.version = 1 AND r.body = a.body) AS revisions
FROM policy_articles a WHERE a.slug = ?`, a.Slug)
			if err != nil {
				t.Fatalf("%s: %v", a.Slug, err)
			}
			if got.Title != a.Title || got.Body != a.Body || !got.Published || got.Version != 1 || !got.PublishedAt.Valid || got.Revisions != 1 {
				t.Errorf("%s: %+v", a.Slug, got)
			}
		}
	})

	t.Run("personal data", func(t *testing.T) {
		var rs []struct {
			IDEnc     []byte         `db:"id_number_enc"`
			IDBidx    []byte         `db:"id_number_bidx"`
			PhoneEnc  []byte         `db:"phone_enc"`
			PhoneBidx []byte         `db:"phone_bidx"`
			KeyID     string         `db:"pii_key_id"`
			Gender    string         `db:"gender"`
			Birth     time.Time      `db:"birth_date"`
			Source    string         `db:"source"`
			Changed   sql.NullTime   `db:"status_changed_on"`
			Name      sql.NullString `db:"name"`
		}
		if err := db.Select(&rs, `SELECT id_number_enc, id_number_bidx, phone_enc, phone_bidx, pii_key_id, gender,
  birth_date, source, status_changed_on, name FROM residents`); err != nil {
			t.Fatal(err)
		}
		if len(rs) != total.Population {
			t.Fatalf("%d residents", len(rs))
		}
		phoneRE := regexp.MustCompile(`^1[3-9]\d{9}$`)
		ids := make(map[string]bool, len(rs))
		phones, now := 0, time.Now()
		yearStart := time.Date(demoToday.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		for i, r := range rs {
			changedThisYear := !r.Changed.Valid || (!r.Changed.Time.Before(yearStart) && !r.Changed.Time.After(demoToday))
			if r.KeyID != kr.ActiveKeyID() || r.Source != "seed" || !changedThisYear || r.Name.String == "" {
				t.Fatalf("row %d: key %q source %q status_changed_on %v", i, r.KeyID, r.Source, r.Changed)
			}
			num, err := kr.Decrypt(r.IDEnc, r.KeyID, pii.AADResidentIDNumber)
			if err != nil {
				t.Fatalf("row %d: ID number does not decrypt: %v", i, err)
			}
			id, err := idcard.Parse(num, now)
			if err != nil {
				t.Fatalf("row %d: ID number does not parse: %v", i, err)
			}
			if id.Area != AreaCode || string(id.Gender) != r.Gender || !id.Birth.Equal(r.Birth) {
				t.Fatalf("row %d: ID area %s gender %s birth %s, columns %s %s", i, id.Area, id.Gender,
					id.Birth.Format(time.DateOnly), r.Gender, r.Birth.Format(time.DateOnly))
			}
			if age := idcard.AgeOn(id.Birth, ReferenceDate); age < 16 || age > 59 {
				t.Fatalf("row %d: age %d on %s", i, age, ReferenceDay)
			}
			if !bytes.Equal(r.IDBidx, kr.BlindIndex(pii.IndexIDNumber, num)) {
				t.Fatalf("row %d: ID blind index does not match", i)
			}
			if ids[num] {
				t.Fatalf("row %d: duplicate ID number", i)
			}
			ids[num] = true
			if r.PhoneEnc == nil {
				if r.PhoneBidx != nil {
					t.Fatalf("row %d: phone index without a phone", i)
				}
				continue
			}
			phones++
			phone, err := kr.Decrypt(r.PhoneEnc, r.KeyID, pii.AADResidentPhone)
			if err != nil {
				t.Fatalf("row %d: phone does not decrypt: %v", i, err)
			}
			if !phoneRE.MatchString(phone) {
				t.Fatalf("row %d: phone has the wrong shape", i)
			}
			if !bytes.Equal(r.PhoneBidx, kr.BlindIndex(pii.IndexPhone, phone)) {
				t.Fatalf("row %d: phone blind index does not match", i)
			}
		}
		if share := float64(phones) / float64(len(rs)); share < 0.83 || share > 0.87 {
			t.Errorf("%.3f of residents have a phone, want about 0.85", share)
		}
		var distinctPhones int
		if err := db.Get(&distinctPhones, "SELECT COUNT(DISTINCT phone_bidx) FROM residents"); err != nil || distinctPhones != phones {
			t.Errorf("%d distinct phones of %d (%v)", distinctPhones, phones, err)
		}
	})

	t.Run("raw rows hold no ID or phone number", func(t *testing.T) {
		rs, err := db.Query("SELECT * FROM residents")
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		cols, err := rs.Columns()
		if err != nil {
			t.Fatal(err)
		}
		raw := make([]sql.RawBytes, len(cols))
		dest := make([]any, len(cols))
		for i := range raw {
			dest[i] = &raw[i]
		}
		n := 0
		var line strings.Builder
		for rs.Next() {
			if err := rs.Scan(dest...); err != nil {
				t.Fatal(err)
			}
			line.Reset()
			for i, b := range raw {
				line.WriteString(cols[i])
				line.WriteByte('=')
				line.Write(b)
				line.WriteByte(' ')
			}
			if pii.ContainsPII(line.String()) {
				t.Fatalf("row %d holds an ID or phone number in clear", n)
			}
			n++
		}
		if err := rs.Err(); err != nil {
			t.Fatal(err)
		}
		if n != total.Population {
			t.Fatalf("scanned %d rows", n)
		}
	})

	t.Run("demo accounts", func(t *testing.T) {
		var users []struct {
			Username string
			Role     string
			Village  sql.NullString `db:"village_code"`
			Hash     string         `db:"password_hash"`
		}
		if err := db.Select(&users, "SELECT username, role, village_code, password_hash FROM staff_users"); err != nil {
			t.Fatal(err)
		}
		got := map[string]Login{}
		for _, u := range users {
			got[u.Username] = Login{u.Username, u.Role, u.Village.String}
			if u.Username == "admin" {
				if ok, err := auth.VerifyPassword(u.Hash, demoPassword); err != nil || !ok {
					t.Errorf("admin's password is not the demo password (%v)", err)
				}
			}
		}
		want := []Login{{"admin", "admin", ""}, {"staff", "staff", ""}}
		for _, row := range rows {
			want = append(want, Login{row.Code + "-admin", "village_admin", row.Code}, Login{row.Code + "-vol", "volunteer", row.Code})
		}
		if len(got) != len(want) {
			t.Errorf("%d staff users, want %d", len(got), len(want))
		}
		for i, w := range want {
			if got[w.Username] != w {
				t.Errorf("account %s = %+v, want %+v", w.Username, got[w.Username], w)
			}
			if rep.Logins[i] != w {
				t.Errorf("report login %d = %+v, want %+v", i, rep.Logins[i], w)
			}
		}
	})

	t.Run("a drive in progress", func(t *testing.T) { checkDrive(t, db, kr, rep.Drive) })

	t.Run("idempotent", func(t *testing.T) {
		tables := []string{"villages", "plans", "plan_milestones", "plan_targets", "plan_tasks", "residents",
			"contribution_tiers", "policy_articles", "policy_article_revisions", "staff_users",
			"enrollments", "roster_imports", "visits", "visit_tasks", "registrations", "resident_accounts",
			"campaigns", "campaign_runs", "deliveries", "conversions"}
		counts := func() map[string]int {
			out := map[string]int{}
			for _, tb := range tables {
				var n int
				if err := db.Get(&n, "SELECT COUNT(*) FROM "+tb); err != nil {
					t.Fatal(err)
				}
				out[tb] = n
			}
			var daily, unenrolled int
			if err := db.Get(&daily, "SELECT COALESCE(SUM(enrolled), 0) FROM enrollment_daily"); err != nil {
				t.Fatal(err)
			}
			if err := db.Get(&unenrolled, "SELECT COUNT(*) FROM residents WHERE status = 'unenrolled'"); err != nil {
				t.Fatal(err)
			}
			out["enrollment_daily (sum)"], out["residents (unenrolled)"] = daily, unenrolled
			return out
		}
		before := counts()
		// A day later, as an operator would re-run it: still nothing new.
		opt := demoOptions(t, demoPassword)
		opt.Today = demoToday.AddDate(0, 0, 1)
		again, err := Demo(ctx, db, kr, book, opt)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("second Demo took %v", again.Duration)
		if again.Villages+again.Residents+again.Articles+again.Tiers+again.Users != 0 || again.Drive != (DriveReport{}) {
			t.Errorf("second run created rows: %+v", again)
		}
		if len(again.Logins) != len(rep.Logins) {
			t.Errorf("second run lists %d logins, want %d", len(again.Logins), len(rep.Logins))
		}
		after := counts()
		for tb := range before {
			if before[tb] != after[tb] {
				t.Errorf("%s: %d rows before the second run, %d after", tb, before[tb], after[tb])
			}
		}
	})

	// Two more databases, seeded side by side (each seed is a few seconds of CPU and a few of
	// waiting for MariaDB); the group ends when both have, before db is changed below.
	t.Run("other databases", func(t *testing.T) {
		t.Run("deterministic across databases", func(t *testing.T) {
			t.Parallel()
			db2 := dbtest.New(t)
			rep2, err := Demo(ctx, db2, kr, book, demoOptions(t, demoPassword))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("second database seeded in %v", rep2.Duration)
			if rep2.Drive != rep.Drive {
				t.Errorf("drive %+v, first database %+v", rep2.Drive, rep.Drive)
			}
			a, b := fingerprint(t, db), fingerprint(t, db2)
			if len(b) != total.Population || len(a) != total.Population {
				t.Fatalf("%d and %d residents", len(a), len(b))
			}
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("resident %d differs: %+v vs %+v", i, a[i], b[i])
				}
			}
			for _, q := range []string{
				`SELECT CONCAT_WS('/', resident_id, village_code, source, enrolled_on) FROM enrollments ORDER BY resident_id`,
				`SELECT CONCAT_WS('/', client_id, resident_id, visited_at, outcome, COALESCE(reason, ''), note, COALESCE(follow_up_on, '')) FROM visits ORDER BY client_id`,
				`SELECT CONCAT_WS('/', resident_id, village_code, status, tier, created_at) FROM registrations ORDER BY resident_id`,
				`SELECT CONCAT_WS('/', campaign_id, resident_id, status, COALESCE(channel, ''), COALESCE(sent_at, '')) FROM deliveries ORDER BY campaign_id, resident_id`,
				`SELECT CONCAT_WS('/', resident_id, campaign_id, converted_on) FROM conversions ORDER BY resident_id`,
			} {
				var x, y []string
				if err := db.Select(&x, q); err != nil {
					t.Fatal(err)
				}
				if err := db2.Select(&y, q); err != nil {
					t.Fatal(err)
				}
				if strings.Join(x, "\n") != strings.Join(y, "\n") {
					t.Errorf("%s: the two databases differ (%d and %d rows)", q, len(x), len(y))
				}
			}
		})

		t.Run("without a demo password", func(t *testing.T) {
			t.Parallel()
			db3 := dbtest.New(t)
			rep3, err := Demo(ctx, db3, kr, book, demoOptions(t, ""))
			if err != nil {
				t.Fatal(err)
			}
			if rep3.Users != 0 || rep3.Logins != nil {
				t.Errorf("accounts without a demo password: %+v", rep3)
			}
			var users, visits int
			if err := db3.Get(&users, "SELECT COUNT(*) FROM staff_users"); err != nil || users != 0 {
				t.Errorf("%d staff users without a demo password (%v)", users, err)
			}
			// No volunteer accounts, so no visits; the rest of the drive is there.
			if err := db3.Get(&visits, "SELECT COUNT(*) FROM visits"); err != nil || visits != 0 || rep3.Drive.Visits != 0 {
				t.Errorf("%d visits without volunteer accounts (%v)", visits, err)
			}
			if rep3.Drive.Enrollments == 0 || rep3.Drive.Campaigns != 2 || rep3.Drive.Registrations == 0 {
				t.Errorf("drive without a demo password: %+v", rep3.Drive)
			}
		})
	})

	t.Run("a partial roster is refused", func(t *testing.T) {
		// The last resident nothing refers to (the drive's rows refer to some).
		if _, err := db.Exec(`DELETE FROM residents WHERE status = 'exempt' AND status_changed_on IS NULL
  AND id NOT IN (SELECT resident_id FROM deliveries) ORDER BY id DESC LIMIT 1`); err != nil {
			t.Fatal(err)
		}
		_, err := Demo(ctx, db, kr, book, Options{})
		if err == nil || !strings.Contains(err.Error(), "reset the database") {
			t.Errorf("Demo on a partial roster: %v, want an error asking to reset the database", err)
		}
	})
}

type residentPrint struct {
	Name             string `db:"name"`
	Gender           string `db:"gender"`
	Birth            string `db:"birth"`
	Village          string `db:"village_code"`
	Status           string `db:"status"`
	Employed         bool   `db:"employed"`
	LandExpropriated bool   `db:"land_expropriated"`
	IDBidx           string `db:"id_bidx"`
	PhoneBidx        string `db:"phone_bidx"`
}

// fingerprint lists what must not change between two seeds, in id order. The blind indexes
// stand for the ID and phone numbers (same keyring): the ciphertexts differ, the values not.
func fingerprint(t *testing.T, db *sqlx.DB) []residentPrint {
	t.Helper()
	var out []residentPrint
	if err := db.Select(&out, `SELECT name, gender, DATE_FORMAT(birth_date, '%Y-%m-%d') AS birth, village_code, status,
  employed, land_expropriated, HEX(id_number_bidx) AS id_bidx, COALESCE(HEX(phone_bidx), '') AS phone_bidx
FROM residents ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	return out
}
