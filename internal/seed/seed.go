// Package seed loads the Luodong 2019 demo: the villages and the plan of 罗政〔2019〕185号 with
// its annex (the per-village task table), the contribution tiers of every configured year, the
// policy explainers, a synthetic roster that reproduces the annex exactly (as of 2019), demo
// staff accounts, and a drive in progress on top of it (drive.go): this year's enrollments,
// visits, pending registrations and two campaigns. Seeding is deterministic (fixed random
// streams) and idempotent (a re-run adds nothing).
package seed

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/policy"
	"github.com/canbao/canbao/internal/progress"
	"github.com/canbao/canbao/internal/rules"
	"github.com/canbao/canbao/internal/seed/content"
	"github.com/canbao/canbao/internal/village"
)

//go:embed queries.sql
var queryFS embed.FS

// Queries are the package's named SQL, checked against the server at start-up.
var Queries = database.RegisterQueries("seed", queryFS, "queries.sql")

// The plan of the source document.
const (
	PlanCode     = "luodong-2019"
	PlanTitle    = "罗东镇全面推进全民参保计划实施方案"
	PlanDocument = "罗政〔2019〕185号"
	PlanBaseYear = 2019
)

// planMilestones are the plan's year-end goals (section 三(二)), used when the policy book
// configures none for the base year.
var planMilestones = map[int]float64{2019: 0.8, 2020: 1.0}

// Options controls the demo seed.
type Options struct {
	DemoPassword string       // when set, demo staff accounts are created with it (dev mode)
	Log          *slog.Logger // progress lines; nil = quiet

	// BaselineOnly leaves out the drive in progress: the 2019 plan and roster only, for tests
	// that count their own enrollments from zero.
	BaselineOnly bool

	// The drive in progress on top of the 2019 roster (see seedDrive).
	Location             *time.Location // business time zone (config business.timezone); nil = Asia/Shanghai
	AttributionDays      int            // config campaigns.attribution_days; 0 = 30
	PrivacyNoticeVersion string         // config business.privacy_notice_version; "" = the default's
	Today                time.Time      // the civil date the drive has reached (its Y-M-D); zero = today in Location
}

// Report says what Demo did.
type Report struct {
	Villages, Residents, Articles, Tiers, Users int     // rows created by this run (0 on a re-run)
	Logins                                      []Login // demo accounts (username, role, village), passwords are NOT in here
	Drive                                       DriveReport
	Duration                                    time.Duration
}

// Login is one demo staff account. Logins lists every demo account when DemoPassword is set,
// including ones that already existed (their password is whatever it was set to).
type Login struct{ Username, Role, VillageCode string }

// Demo seeds the Luodong 2019 demo; deterministic and idempotent. Villages, the plan, its
// targets and tasks, and the tiers are inserted where missing; an article whose slug exists is
// left alone; the roster is written in one transaction, so it is either complete (a re-run skips
// it) or absent. A roster that is partly there (rows deleted by hand) is an error: reset the database.
// The drive is added only to a database without enrollments, visits, registrations or campaigns.
func Demo(ctx context.Context, db *sqlx.DB, kr *pii.Keyring, book *rules.Book, opt Options) (Report, error) {
	start := time.Now()
	var rep Report
	if db == nil || kr == nil || book == nil {
		return rep, errors.New("seed: Demo needs a database, a keyring and a policy book")
	}
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rows, total, err := Annex()
	if err != nil {
		return rep, err
	}

	step := time.Now()
	if rep.Villages, err = seedPlan(ctx, db, book, rows, total); err != nil {
		return rep, err
	}
	log.Info("seed: villages and plan", "plan", PlanCode, "villages", len(rows), "villages_created", rep.Villages, "ms", since(step))

	step = time.Now()
	if rep.Tiers, err = seedTiers(ctx, db, book); err != nil {
		return rep, err
	}
	log.Info("seed: contribution tiers", "years", len(book.Years()), "created", rep.Tiers, "ms", since(step))

	step = time.Now()
	if rep.Articles, err = seedArticles(ctx, db); err != nil {
		return rep, err
	}
	log.Info("seed: policy articles", "created", rep.Articles, "ms", since(step))

	step = time.Now()
	if rep.Residents, err = seedRoster(ctx, db, kr, rows, total, log); err != nil {
		return rep, err
	}
	log.Info("seed: roster", "residents", total.Population, "created", rep.Residents, "ms", since(step))

	if opt.DemoPassword != "" {
		step = time.Now()
		if rep.Logins, rep.Users, err = seedUsers(ctx, db, rows, opt.DemoPassword); err != nil {
			return rep, err
		}
		log.Info("seed: demo staff accounts", "accounts", len(rep.Logins), "created", rep.Users, "ms", since(step))
	}
	if !opt.BaselineOnly {
		step = time.Now()
		if rep.Drive, err = seedDrive(ctx, db, kr, book, rows, opt, log); err != nil {
			return rep, err
		}
		log.Info("seed: drive in progress", "enrollments", rep.Drive.Enrollments, "visits", rep.Drive.Visits,
			"registrations", rep.Drive.Registrations, "campaigns", rep.Drive.Campaigns, "ms", since(step))
	}

	rep.Duration = time.Since(start)
	log.Info("seed: done", "villages", rep.Villages, "residents", rep.Residents, "articles", rep.Articles,
		"tiers", rep.Tiers, "users", rep.Users, "ms", rep.Duration.Milliseconds())
	return rep, nil
}

func since(t time.Time) int64 { return time.Since(t).Milliseconds() }

// seedPlan inserts the villages, the plan, its milestones, targets and tasks where missing and
// returns how many villages it created.
func seedPlan(ctx context.Context, db *sqlx.DB, book *rules.Book, rows []AnnexRow, total AnnexRow) (int, error) {
	milestones, err := milestonesOf(book)
	if err != nil {
		return 0, err
	}
	created := 0
	err = database.InTx(ctx, db, func(tx *sqlx.Tx) error {
		created = 0
		now := database.Now()
		for i, row := range rows {
			res, err := tx.ExecContext(ctx, Queries.Get("village-insert"), row.Code, row.Village, Town, i+1, now)
			if err != nil {
				return fmt.Errorf("seed: village %s: %w", row.Code, err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				created++
			}
		}

		plan := progress.AdoptedPlan{Code: PlanCode, Title: PlanTitle, Document: PlanDocument, BaseYear: PlanBaseYear,
			Quota: total.ExpansionTarget}
		for _, year := range sortedYears(milestones) {
			plan.Milestones = append(plan.Milestones, progress.Milestone{Year: year, Ratio: milestones[year]})
		}
		for _, row := range rows {
			// 2019: the printed task (80% of the unrounded share); 2020: the whole target (100%).
			plan.Villages = append(plan.Villages, progress.VillageTarget{Code: row.Code, Population: row.Population,
				Enrolled: row.Enrolled, Unenrolled: row.Unenrolled, ExpansionTarget: row.ExpansionTarget,
				Tasks: []int{row.Task2019, row.ExpansionTarget}})
		}
		if err := progress.InsertAdoptedPlan(ctx, tx, plan, now); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		return nil
	})
	return created, err
}

// milestonesOf returns the base year's configured milestones, or the plan's own.
func milestonesOf(book *rules.Book) (map[int]float64, error) {
	y, err := book.For(PlanBaseYear)
	if err != nil || len(y.Milestones) == 0 {
		return planMilestones, nil
	}
	out := make(map[int]float64, len(y.Milestones))
	for k, v := range y.Milestones {
		year, err := strconv.Atoi(k)
		if err != nil || v < 0 || v > 1 {
			return nil, fmt.Errorf("seed: policy %d: bad milestone %q: %v", PlanBaseYear, k, v)
		}
		out[year] = v
	}
	return out, nil
}

func sortedYears(m map[int]float64) []int {
	out := make([]int, 0, len(m))
	for y := range m {
		out = append(out, y)
	}
	sort.Ints(out)
	return out
}

// seedTiers inserts the contribution tiers of every configured year where missing.
func seedTiers(ctx context.Context, db *sqlx.DB, book *rules.Book) (int, error) {
	created := 0
	err := database.InTx(ctx, db, func(tx *sqlx.Tx) error {
		created = 0
		for _, year := range book.Years() {
			y, err := book.For(year)
			if err != nil {
				return fmt.Errorf("seed: tiers: %w", err)
			}
			for _, t := range y.Tiers {
				res, err := tx.ExecContext(ctx, Queries.Get("tier-insert"), year, t.Amount, t.Subsidy)
				if err != nil {
					return fmt.Errorf("seed: tier %d/%d: %w", year, t.Amount, err)
				}
				if n, _ := res.RowsAffected(); n == 1 {
					created++
				}
			}
		}
		return nil
	})
	return created, err
}

// seedArticles publishes every content article whose slug is not there yet, with its revision 1.
// An existing slug is left alone: staff may have edited it.
func seedArticles(ctx context.Context, db *sqlx.DB) (int, error) {
	articles, err := content.Articles()
	if err != nil {
		return 0, err
	}
	created := 0
	err = database.InTx(ctx, db, func(tx *sqlx.Tx) error {
		created = 0
		now := database.Now()
		for _, a := range articles {
			ok, err := policy.InsertPublished(ctx, tx, policy.Article{Slug: a.Slug, Title: a.Title, Summary: a.Summary,
				Body: a.Body, Category: a.Category}, now)
			if err != nil {
				return fmt.Errorf("seed: article %s: %w", a.Slug, err)
			}
			if !ok {
				continue // already there
			}
			created++
		}
		return nil
	})
	return created, err
}

// seedRoster writes the synthetic roster unless it is already there and returns how many rows
// it created.
func seedRoster(ctx context.Context, db *sqlx.DB, kr *pii.Keyring, rows []AnnexRow, total AnnexRow, log *slog.Logger) (int, error) {
	var have int
	if err := db.GetContext(ctx, &have, Queries.Get("roster-count"), Source); err != nil {
		return 0, fmt.Errorf("seed: roster: %w", err)
	}
	switch {
	case have == total.Population:
		return 0, nil
	case have != 0:
		return 0, fmt.Errorf("seed: roster: the database holds %d seeded residents, not 0 or %d: "+
			"it was changed by hand; reset the database (drop it, migrate) and seed again", have, total.Population)
	}

	step := time.Now()
	people, err := roster(rows)
	if err != nil {
		return 0, err
	}
	if len(people) != total.Population {
		return 0, fmt.Errorf("seed: roster: built %d people, the annex total is %d", len(people), total.Population)
	}
	log.Info("seed: roster built in memory", "people", len(people), "ms", since(step))

	step = time.Now()
	if err := insertRoster(ctx, db, kr, people); err != nil {
		return 0, err
	}
	log.Info("seed: roster encrypted and inserted", "rows", len(people), "batch", rosterBatchRows, "ms", since(step))
	return len(people), nil
}

// demoAccount is a demo staff account to create.
type demoAccount struct {
	Login
	DisplayName string
}

func demoAccounts(rows []AnnexRow) []demoAccount {
	out := []demoAccount{
		{Login{"admin", string(auth.RoleAdmin), ""}, "劳保所管理员"},
		{Login{"staff", string(auth.RoleStaff), ""}, "宣传干事"},
	}
	for _, row := range rows {
		out = append(out,
			demoAccount{Login{row.Code + "-admin", string(auth.RoleVillageAdmin), row.Code}, row.Village + "经办"},
			demoAccount{Login{row.Code + "-vol", string(auth.RoleVolunteer), row.Code}, row.Village + "协管员"},
		)
	}
	return out
}

// seedUsers creates the demo staff accounts that do not exist yet, two at a time (hashing a
// password takes tens of milliseconds).
func seedUsers(ctx context.Context, db *sqlx.DB, rows []AnnexRow, password string) ([]Login, int, error) {
	accounts := demoAccounts(rows)
	logins := make([]Login, len(accounts))
	names := make([]string, len(accounts))
	for i, a := range accounts {
		logins[i], names[i] = a.Login, a.Username
	}
	q, args, err := sqlx.In(Queries.Get("staff-usernames-in"), names)
	if err != nil {
		return nil, 0, err
	}
	var existing []string
	if err := db.SelectContext(ctx, &existing, db.Rebind(q), args...); err != nil {
		return nil, 0, fmt.Errorf("seed: demo accounts: %w", err)
	}
	exists := make(map[string]bool, len(existing))
	for _, u := range existing {
		exists[u] = true
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan demoAccount)
	var (
		wg       sync.WaitGroup
		created  atomic.Int64
		errOnce  sync.Once
		firstErr error
	)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range work {
				_, err := auth.CreateStaffUser(ctx, db, village.NewStore(db), auth.NewStaffUser{
					Username: a.Username, DisplayName: a.DisplayName, Password: password,
					Role: auth.Role(a.Role), VillageCode: a.VillageCode,
				})
				if e, ok := errs.As(err); ok && e.Code == errs.UsernameTaken {
					continue // created meanwhile
				}
				if err != nil {
					errOnce.Do(func() {
						firstErr = fmt.Errorf("seed: demo account %s: %w", a.Username, err)
						cancel()
					})
					continue
				}
				created.Add(1)
			}
		}()
	}
feed:
	for _, a := range accounts {
		if exists[a.Username] {
			continue
		}
		select {
		case work <- a:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err() // the caller's context ended (cancel above runs only with firstErr set)
	}
	return logins, int(created.Load()), firstErr
}
