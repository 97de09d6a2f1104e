package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/campaigns/channels"
	"github.com/canbao/canbao/campaigns/channels/sms"
	"github.com/canbao/canbao/campaigns/counters"
	"github.com/canbao/canbao/campaigns/engine"
	"github.com/canbao/canbao/configs"
	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/config"
	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/event"
	"github.com/canbao/canbao/internal/importer"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/pii/keycheck"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/logging"
	"github.com/canbao/canbao/internal/platform/web"
	"github.com/canbao/canbao/internal/progress"
	"github.com/canbao/canbao/internal/rules"
	"github.com/canbao/canbao/internal/seed"
	"github.com/canbao/canbao/internal/server"
	"github.com/canbao/canbao/internal/village"
	"github.com/canbao/canbao/internal/wechat"
	"github.com/canbao/canbao/internal/wechat/wechattest"
)

const usage = `canbao — universal social-insurance enrollment backend

usage:
  canbao serve   [--config FILE] [--no-engine|--engine-only]
                                            serve the API (127.0.0.1:8080 by default) and run
                                            the campaign engine
  canbao counters rebuild                   recompute campaign counters in Redis from MySQL
  canbao migrate [--config FILE]            create the database if needed and apply migrations
  canbao seed demo [--config FILE]          seed the Luodong 2019 demo (idempotent)
  canbao user create --username U --role R [--village CODE] [--name NAME]
                                            create a staff user; the password is read from stdin
  canbao import roster FILE [--config FILE] import a roster (CSV or XLSX) with a progress bar
  canbao report monthly --month YYYY-MM --out FILE.xlsx|FILE.json
                                            write the month's bulletin (按月通报)
  canbao version

Configuration: configs/canbao.yaml defaults, then --config FILE, then CANBAO_* variables.
`

// run is main without the process: testable, and returns instead of exiting.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, stderr)
	case "seed":
		if len(rest) == 0 || rest[0] != "demo" {
			return errors.New("usage: canbao seed demo [--config FILE]")
		}
		return cmdSeedDemo(ctx, rest[1:], stdout, stderr)
	case "user":
		if len(rest) == 0 || rest[0] != "create" {
			return errors.New("usage: canbao user create --username U --role R [--village CODE]")
		}
		return cmdUserCreate(ctx, rest[1:], stdin, stdout, stderr)
	case "import":
		if len(rest) < 2 || rest[0] != "roster" {
			return errors.New("usage: canbao import roster FILE")
		}
		return cmdImportRoster(ctx, rest[1:], stdout, stderr)
	case "counters":
		if len(rest) == 0 || rest[0] != "rebuild" {
			return errors.New("usage: canbao counters rebuild")
		}
		return cmdCountersRebuild(ctx, rest[1:], stdout, stderr)
	case "report":
		if len(rest) == 0 || rest[0] != "monthly" {
			return errors.New("usage: canbao report monthly --month YYYY-MM --out FILE")
		}
		return cmdReportMonthly(ctx, rest[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "canbao", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// app is what every command shares, built from the configuration.
type app struct {
	cfg   *config.Config
	log   *slog.Logger
	db    *sqlx.DB
	rdb   redis.UniversalClient
	kr    *pii.Keyring
	rules *rules.Book
}

func (a *app) close() {
	if a.rdb != nil {
		_ = a.rdb.Close()
	}
	if a.db != nil {
		_ = a.db.Close()
	}
}

func loadConfig(args []string, name string, stderr io.Writer) (*config.Config, *flag.FlagSet, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "YAML configuration file read on top of the defaults")
	if err := fs.Parse(args); err != nil {
		return nil, fs, err
	}
	cfg, err := config.Load(config.Options{File: *file})
	return cfg, fs, err
}

// start loads the configuration (defaults, then file, then environment) and opens what a
// command needs.
func start(ctx context.Context, file string, stderr io.Writer, withRedis bool) (*app, error) {
	cfg, err := config.Load(config.Options{File: file})
	if err != nil {
		return nil, err
	}
	return open(ctx, cfg, stderr, withRedis)
}

// open connects to what a command needs; withRedis is false for migrate.
func open(ctx context.Context, cfg *config.Config, stderr io.Writer, withRedis bool) (*app, error) {
	a := &app{cfg: cfg, log: logging.New(stderr, slog.LevelInfo)}
	kr, err := keyring(cfg)
	if err != nil {
		return nil, err
	}
	a.kr = kr
	if a.rules, err = rules.Load(configs.Policy); err != nil {
		return nil, err
	}
	a.db, err = database.Open(ctx, cfg.MySQL.DSN, database.Options{
		MaxOpenConns: cfg.MySQL.MaxOpenConns, MaxIdleConns: cfg.MySQL.MaxIdleConns, ConnMaxLifetime: cfg.MySQL.ConnMaxLifetime,
	})
	if err != nil {
		return nil, err
	}
	if withRedis {
		a.rdb = cfg.Redis.Client(2*time.Second, 2*time.Second, 2*time.Second)
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if err := a.rdb.Ping(pctx).Err(); err != nil {
			a.close()
			return nil, fmt.Errorf("cannot reach %s: %w", cfg.Redis.Describe(), err)
		}
	}
	return a, nil
}

// keyring builds the PII keyring: the active key and any retired keys ("id:base64,…").
func keyring(cfg *config.Config) (*pii.Keyring, error) {
	active, err := pii.DecodeKey(cfg.PII.Key)
	if err != nil {
		return nil, fmt.Errorf("CANBAO_PII_KEY: %w", err)
	}
	keys := map[string][]byte{cfg.PII.KeyID: active}
	for _, item := range strings.Split(cfg.PII.OldKeys, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, b64, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf("pii.old_keys: %q is not id:base64", id)
		}
		k, err := pii.DecodeKey(b64)
		if err != nil {
			return nil, fmt.Errorf("pii.old_keys %s: %w", id, err)
		}
		keys[id] = k
	}
	indexID := cfg.PII.IndexKeyID
	if indexID == "" {
		indexID = cfg.PII.KeyID
	}
	return pii.NewKeyring(cfg.PII.KeyID, keys, indexID)
}

// checkKey refuses a PII key other than the one this database's personal data was written
// with, recording the key check value of a key id used for the first time.
func (a *app) checkKey(ctx context.Context) error {
	err := keycheck.Ensure(ctx, a.db, a.kr)
	var me *keycheck.MismatchError
	if errors.As(err, &me) && a.cfg.Mode == config.ModeDev {
		return fmt.Errorf("%w (dev mode: without CANBAO_PII_KEY the key comes from %s, made for this checkout; "+
			"use the file of the checkout that wrote the data, or a database of this checkout's own)", err, a.cfg.Dev.SecretsFile)
	}
	return err
}

func cmdMigrate(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, _, err := loadConfig(args, "migrate", stderr)
	if err != nil {
		return err
	}
	if err := database.EnsureDatabase(ctx, cfg.MySQL.DSN); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	a, err := open(ctx, cfg, stderr, false)
	if err != nil {
		return err
	}
	defer a.close()
	if err := database.Migrate(ctx, a.db, a.log); err != nil {
		return err
	}
	if err := a.checkKey(ctx); err != nil {
		return err
	}
	a.log.Info("schema is up to date")
	return nil
}

func cmdSeedDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// --baseline: the 2019 plan, roster and content only, without the drive in progress (the
	// fault drills start from it: their campaigns must be the only ones the engine sends).
	baseline := false
	rest := args[:0:0]
	for _, a := range args {
		if a == "--baseline" || a == "-baseline" {
			baseline = true
			continue
		}
		rest = append(rest, a)
	}
	cfg, _, err := loadConfig(rest, "seed demo", stderr)
	if err != nil {
		return err
	}
	a, err := open(ctx, cfg, stderr, false)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.checkKey(ctx); err != nil {
		return err
	}
	opt := seed.Options{Log: a.log, Location: cfg.Location(), AttributionDays: cfg.Campaigns.AttributionDays,
		PrivacyNoticeVersion: cfg.Business.PrivacyNoticeVersion, BaselineOnly: baseline}
	if cfg.Mode == config.ModeDev {
		s, err := config.LoadDevSecrets(cfg.Dev.SecretsFile)
		if err != nil {
			return err
		}
		opt.DemoPassword = s.DemoPassword
	}
	rep, err := seed.Demo(ctx, a.db, a.kr, a.rules, opt)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo data ready in %s: %d villages, %d residents, %d articles, %d tiers, %d users created by this run\n",
		rep.Duration.Round(time.Millisecond), rep.Villages, rep.Residents, rep.Articles, rep.Tiers, rep.Users)
	if d := rep.Drive; d.Campaigns > 0 {
		fmt.Fprintf(stdout, "drive in progress: %d enrollments this year (%d weekly imports and visits), %d visits, %d pending registrations, "+
			"%d campaigns with %d deliveries and %d conversions, %d publicity events\n", d.Enrollments, d.Imports, d.Visits, d.Registrations, d.Campaigns, d.Deliveries, d.Conversions, d.Events)
		fmt.Fprintln(stdout, "campaign counters are rebuilt from MySQL when first read; after reseeding a database, run `canbao counters rebuild`")
	} else {
		fmt.Fprintln(stdout, "drive in progress: already there, nothing added")
	}
	if opt.DemoPassword != "" {
		fmt.Fprintf(stdout, "\nDemo staff accounts (dev mode), all with the password %s (kept in %s):\n", opt.DemoPassword, cfg.Dev.SecretsFile)
		fmt.Fprintln(stdout, "  admin            labour office admin (镇劳保所)")
		fmt.Fprintln(stdout, "  staff            propaganda staff (宣传干事)")
		fmt.Fprintln(stdout, "  <village>-admin  village admin, e.g. zhenxing-admin")
		fmt.Fprintln(stdout, "  <village>-vol    village volunteer, e.g. zhenxing-vol")
		fmt.Fprintf(stdout, "Log in: curl -s -XPOST http://%s/api/v1/auth/staff -H 'Content-Type: application/json' -d '{\"username\":\"admin\",\"password\":\"%s\"}'\n",
			cfg.HTTP.Addr, opt.DemoPassword)
	}
	return nil
}

func cmdUserCreate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "YAML configuration file")
	username := fs.String("username", "", "login name (lower case)")
	role := fs.String("role", "", "volunteer | village_admin | staff | admin")
	villageCode := fs.String("village", "", "village code, for volunteer and village_admin")
	name := fs.String("name", "", "display name")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *username == "" || *role == "" {
		return errors.New("--username and --role are required")
	}
	password, err := readPassword(stdin)
	if err != nil {
		return err
	}
	a, err := start(ctx, *file, stderr, false)
	if err != nil {
		return err
	}
	defer a.close()
	var id int64
	err = database.InTx(ctx, a.db, func(tx *sqlx.Tx) error {
		id, err = auth.CreateStaffUser(ctx, tx, village.NewStore(a.db), auth.NewStaffUser{
			Username: strings.ToLower(*username), DisplayName: *name, Password: password,
			Role: auth.Role(*role), VillageCode: *villageCode,
		})
		if err != nil {
			return err
		}
		return audit.New(a.db).RecordTx(ctx, tx, audit.System("cli").Event("user.create", "staff_user", id, audit.Success, "role="+*role))
	})
	if err != nil {
		return describe(err)
	}
	fmt.Fprintf(stdout, "created %s user %q (id %d)\n", *role, *username, id)
	return nil
}

func cmdImportRoster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import roster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "YAML configuration file")
	path := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	a, err := start(ctx, *file, stderr, false)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.checkKey(ctx); err != nil {
		return err
	}
	cfg := a.cfg
	res, err := importer.RunFile(ctx, importer.New(a.db, a.kr, cfg.Location(), enrollment.New(cfg.Location(), cfg.Campaigns.AttributionDays), a.log), path, stderr)
	if err != nil {
		return describe(err)
	}
	fmt.Fprintf(stdout, "import %d: %d rows, %d created, %d updated, %d unchanged, %d newly insured, %d failed\n",
		res.ImportID, res.RowsTotal, res.Created, res.Updated, res.Unchanged, res.Enrolled, res.RowsFailed)
	for i, e := range res.Errors {
		if i == 20 {
			fmt.Fprintf(stdout, "  … %d more errors (GET /api/v1/admin/imports/%d/errors.xlsx)\n", len(res.Errors)-20, res.ImportID)
			break
		}
		fmt.Fprintf(stdout, "  row %d %s: %s\n", e.Row, e.Field, e.Message)
	}
	return nil
}

func cmdReportMonthly(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report monthly", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "YAML configuration file")
	monthFlag := fs.String("month", "", "the month, YYYY-MM")
	out := fs.String("out", "", "output file: .xlsx or .json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	month, err := web.ParseMonth(*monthFlag, "month")
	if err != nil {
		return fmt.Errorf("--month must be YYYY-MM, %d to %d", web.FirstRecordYear, web.MaxYear)
	}
	if !strings.HasSuffix(*out, ".xlsx") && !strings.HasSuffix(*out, ".json") {
		return errors.New("--out must name a .xlsx or .json file")
	}
	a, err := start(ctx, *file, stderr, false)
	if err != nil {
		return err
	}
	defer a.close()
	cfg := a.cfg
	now := time.Now()
	today := web.Today(now, cfg.Location())
	if month.After(today) {
		return errors.New("that month has not started yet")
	}
	events := event.NewService(event.Deps{DB: a.db, Location: cfg.Location(), AttributionDays: cfg.Events.AttributionDays})
	m, err := progress.NewStore(a.db).WithLocation(cfg.Location()).WithEvents(events).Monthly(ctx, month, today, now)
	if err != nil {
		return describe(err)
	}
	var body []byte
	if strings.HasSuffix(*out, ".xlsx") {
		body, err = progress.MonthlyXLSX(m)
	} else {
		body, err = json.MarshalIndent(m, "", "  ")
	}
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, body, 0o644); err != nil {
		return err
	}
	if err := audit.New(a.db).Record(ctx, audit.System("cli").Event("report.export", "monthly_report", 0, audit.Success, "month="+m.Month)); err != nil {
		return err
	}
	state := "live"
	if m.Frozen {
		state = "frozen"
	}
	fmt.Fprintf(stdout, "wrote %s: %s, as of %s (%s), %d new this month, %d to date, %d villages behind pace\n",
		*out, m.Month, m.AsOf, state, m.Total.NewMonth, m.Total.NewToDate, len(m.BehindPace))
	return nil
}

// readPassword takes the first line of stdin.
func readPassword(stdin io.Reader) (string, error) {
	if f, ok := stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprint(os.Stderr, "password: ")
		}
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 1024)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on stdin (pipe it in: echo 'S3cure-pass!' | canbao user create …)")
	}
	return line, nil
}

// describe turns a domain error into a line an operator reads.
func describe(err error) error {
	if de, ok := errs.As(err); ok && de.Err == nil {
		if de.Field != "" {
			return fmt.Errorf("%s: %s", de.Field, de.Message)
		}
		return errors.New(de.Message)
	}
	return err
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "YAML configuration file read on top of the defaults")
	noEngine := fs.Bool("no-engine", false, "serve the API only")
	engineOnly := fs.Bool("engine-only", false, "run the campaign engine only, no HTTP")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *noEngine && *engineOnly {
		return errors.New("--no-engine and --engine-only exclude each other")
	}
	a, err := start(ctx, *file, stderr, true)
	if err != nil {
		return err
	}
	defer a.close()
	cfg := a.cfg
	if err := database.CheckSchema(ctx, a.db); err != nil {
		return err
	}
	if err := database.CheckRegistered(ctx, a.db); err != nil {
		return err
	}
	if err := a.checkKey(ctx); err != nil {
		return err
	}
	if cfg.Mode == config.ModeDev && cfg.WeChat.AppID == "" {
		stop, err := serveDevWeChat(cfg, a.log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *engineOnly {
		// The engine alone: its counters and WeChat client, no HTTP API and no listener.
		eng := newEngine(a, counters.New(a.db, a.rdb, cfg.Redis.Prefix, cfg.Location()), server.WeChatClient(cfg, a.rdb, a.log))
		a.log.Info("campaign engine starting", "instance", eng.ID())
		engineCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
		defer stopEngine()
		if err := eng.Start(engineCtx); err != nil {
			a.log.Error("the campaign engine cannot start", "err", err)
			return fmt.Errorf("the campaign engine cannot start: %w", err)
		}
		fmt.Fprintf(stdout, "canbao engine running (mode %s)\n", cfg.Mode)
		<-ctx.Done()
		a.log.Info("shutting down the engine")
		stopEngine()
		eng.Wait()
		return nil
	}
	srv, err := buildServer(server.Deps{Config: cfg, DB: a.db, Redis: a.rdb, Keyring: a.kr, Rules: a.rules, Log: a.log})
	if err != nil {
		return err
	}

	// The engine stops with its own context, after HTTP has drained.
	engineCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	defer stopEngine()
	engineDone := make(chan error, 1)
	if !*noEngine {
		// An engine that cannot start stops serve: an instance without its engine would answer
		// ready while its campaigns stay scheduled. Once started, /readyz reports its loops.
		eng := newEngine(a, srv.Counters, srv.WeChat)
		srv.WatchEngine(eng.Check)
		a.log.Info("campaign engine starting", "instance", eng.ID())
		if err := eng.Start(engineCtx); err != nil {
			a.log.Error("the campaign engine cannot start", "err", err)
			return fmt.Errorf("the campaign engine cannot start: %w", err)
		}
		go func() { eng.Wait(); engineDone <- nil }()
	} else {
		engineDone <- nil
	}

	if n, err := srv.Importer.FailStale(ctx); err != nil {
		return err
	} else if n > 0 {
		a.log.Warn("roster imports interrupted by a restart marked failed", "count", n)
	}
	// Uploaded imports wait in the database: this instance runs those no live instance runs
	// (one at a time), including those another instance received or left half done.
	queueCtx, stopQueue := context.WithCancel(context.WithoutCancel(ctx))
	queueDone := make(chan struct{})
	go func() { defer close(queueDone); srv.Importer.RunQueued(queueCtx, 5*time.Second) }()
	defer func() { stopQueue(); <-queueDone }()
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return err
	}
	// Expired Idempotency-Key records are purged in the background until shutdown.
	purgeCtx, stopPurge := context.WithCancel(context.WithoutCancel(ctx))
	purgeDone := make(chan struct{})
	go func() {
		defer close(purgeDone)
		srv.Idem.RunPurge(purgeCtx, cfg.Idem.PurgeInterval, cfg.Idem.PurgeBatch, nil)
	}()
	defer func() { stopPurge(); <-purgeDone }()
	hs := &http.Server{
		Handler:           srv.Engine,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadHeaderTimeout + cfg.HTTP.BodyTimeout, // fallback: web.BodyDeadline sets each route's body deadline
		WriteTimeout:      server.UploadTimeout + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	a.log.Info("serving", "addr", ln.Addr().String(), "mode", cfg.Mode)
	fmt.Fprintf(stdout, "canbao serving on http://%s (mode %s)\n", ln.Addr(), cfg.Mode)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Shut down in order: stop accepting and drain HTTP, stop the engine's workers (in-flight
	// sends finish), stop imports, then close Redis and MySQL (deferred).
	a.log.Info("shutting down", "grace", cfg.HTTP.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	stopEngine()
	select {
	case <-engineDone:
	case <-sctx.Done():
		a.log.Error("the campaign engine did not stop in time")
	}
	if err := srv.Importer.Shutdown(sctx); err != nil {
		a.log.Error("roster imports did not stop in time", "err", err)
	}
	a.log.Info("stopped")
	return nil
}

// buildServer builds the HTTP API (a variable so a test can see that serve --engine-only never
// calls it).
var buildServer = server.New

// engineConfig is the engine's configuration from the campaigns settings.
func engineConfig(cfg *config.Config) engine.Config {
	ec := engine.DefaultConfig()
	ec.Workers = cfg.Campaigns.Workers
	ec.RemindersForVisit = cfg.Campaigns.RemindersForVisit
	ec.VisitedRecently = time.Duration(cfg.Campaigns.VisitedRecentlyDays) * 24 * time.Hour
	ec.Lease, ec.RequeueAfter = cfg.Campaigns.Lease, cfg.Campaigns.RequeueAfter
	ec.FailAfter, ec.StaleAfter, ec.ScheduleLease = cfg.Campaigns.HealthFailAfter, cfg.Campaigns.HealthSilentAfter, cfg.Campaigns.ScheduleLease
	ec.ChannelRates = cfg.Campaigns.ChannelRates()
	return ec
}

// newEngine builds the campaign engine with its channels; the API shares its counters and
// WeChat client when both run in one process.
func newEngine(a *app, stats *counters.Counters, wx *wechat.Client) *engine.Engine {
	cfg := a.cfg
	smsClient := sms.NewClient(sms.Config{APIBase: cfg.SMS.APIBase, AccessKeyID: cfg.SMS.AccessKeyID,
		AccessKeySecret: cfg.SMS.AccessKeySecret, Timeout: cfg.SMS.Timeout}, a.log)
	ec := engineConfig(cfg)
	return engine.New(engine.Deps{
		DB: a.db, Redis: a.rdb, Prefix: cfg.Redis.Prefix, Keyring: a.kr, Rules: a.rules, Location: cfg.Location(), Log: a.log,
		Counters: stats,
		Channels: map[string]channels.Channel{
			campaigns.ChannelWeChat:    channels.WeChat{Client: wx},
			campaigns.ChannelSMS:       channels.SMS{Client: smsClient},
			campaigns.ChannelVisitTask: channels.VisitTask{DB: a.db, Loc: cfg.Location()},
			campaigns.ChannelLog:       channels.Log{Log: a.log},
		},
	}, ec)
}

func cmdCountersRebuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, _, err := loadConfig(args, "counters rebuild", stderr)
	if err != nil {
		return err
	}
	a, err := open(ctx, cfg, stderr, true)
	if err != nil {
		return err
	}
	defer a.close()
	n, err := counters.New(a.db, a.rdb, cfg.Redis.Prefix, cfg.Location()).RebuildAll(ctx, false)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rebuilt the counters of %d campaigns from the delivery outbox\n", n)
	return nil
}

// Dev-mode WeChat stand-in credentials: the stand-in accepts only these, like WeChat checks an
// app's own.
const (
	devWeChatAppID  = "wxdev0canbao00000"
	devWeChatSecret = "canbao-dev-wechat-secret"
)

// serveDevWeChat serves, in dev mode with no AppID configured, a local stand-in for WeChat's
// login and message APIs (the same fake the tests use, accepting any wx.login code) on a
// loopback port, and points the WeChat client at it. Production mode never gets here.
func serveDevWeChat(cfg *config.Config, log *slog.Logger) (stop func(), err error) {
	if cfg.Mode != config.ModeDev {
		return nil, errors.New("the WeChat stand-in is for dev mode only")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("dev WeChat stand-in: %w", err)
	}
	fake := wechattest.New(devWeChatAppID, devWeChatSecret)
	fake.AcceptAnyCode()
	hs := &http.Server{Handler: fake.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	cfg.WeChat.APIBase = "http://" + ln.Addr().String()
	cfg.WeChat.AppID, cfg.WeChat.Secret = devWeChatAppID, devWeChatSecret
	log.Warn("dev mode: WeChat calls go to a local stand-in, any login code is accepted", "addr", ln.Addr().String())
	return func() { _ = hs.Close() }, nil
}
