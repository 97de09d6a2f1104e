// Command canbao-bench is `make bench`: it prepares a fresh database canbao_bench with a
// roster of a million residents in 300 villages, starts canbao against it (`serve --no-engine`,
// and `serve --engine-only` for the campaign workloads), and measures each workload next to a
// baseline taken in the same run on the same machine, the median of a few repeats. It writes
// docs/bench-results.json and the results table of docs/PERFORMANCE.md, then stops everything
// it started, drops canbao_bench and deletes its Redis keys. It only ever talks to 127.0.0.1.
//
//	canbao-bench -canbao bin/canbao -out docs                     the full run (about 22 minutes)
//	canbao-bench -scale 0.05 -workloads policy,progress -out ""   a quick look, nothing written
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "bare" {
		if err := bareMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bare:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "profile-import" {
		if err := profileImportMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "profile-import:", err)
			os.Exit(1)
		}
		return
	}
	if err := benchMain(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "canbao-bench:", err)
		os.Exit(1)
	}
}

var allWorkloads = []string{"policy", "registration", "mixed", "progress", "employers", "snapshot", "dispatch", "import", "checkin"}

// options are the command-line flags.
type options struct {
	canbao         string
	scale          float64
	repeats        int
	duration       time.Duration
	warmup         time.Duration
	workloads      []string
	out            string
	reuse, keep    bool
	importRepeats  int
	dispatchWindow time.Duration
	importTimeout  time.Duration
	engineLog      string
	perfDir        string
}

// bench is one run.
type bench struct {
	opt   options
	env   *env
	log   *slog.Logger
	st    *rosterState
	rep   *report
	api   *child
	token string // the bench admin's staff token

	regNext    int     // next unused registrant of the roster
	extra      *people // new people once they run out
	extraUsed  int
	registered int   // registrations sent
	baseRuns   []int // run ids of the snapshot baseline rows in bench_deliveries
	accountNo  int   // numbers the bench's resident accounts
	cpu        *cpuSampler
}

func benchMain(args []string) error {
	fs := flag.NewFlagSet("canbao-bench", flag.ContinueOnError)
	var o options
	var workloads, mysqlDSN, redisAddr string
	fs.StringVar(&o.canbao, "canbao", "bin/canbao", "the canbao binary")
	fs.Float64Var(&o.scale, "scale", 1, "fraction of the full size: 1 = 1,000,000 residents, imported rows and deliveries")
	fs.IntVar(&o.repeats, "repeats", 3, "repeats of each workload (the median counts)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured window of each HTTP load repeat")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up before each HTTP load repeat")
	fs.StringVar(&workloads, "workloads", strings.Join(allWorkloads, ","), "comma-separated: "+strings.Join(allWorkloads, ","))
	fs.StringVar(&o.out, "out", "docs", `where PERFORMANCE.md and bench-results.json are written ("": nowhere)`)
	fs.BoolVar(&o.reuse, "reuse", false, "use the canbao_bench database of an earlier -keep run instead of preparing a new one")
	fs.BoolVar(&o.keep, "keep", false, "keep canbao_bench and the Redis keys at the end (for -reuse)")
	fs.IntVar(&o.importRepeats, "import-repeats", 0, "repeats of the roster import (0: -repeats below scale 0.5, else 1)")
	fs.DurationVar(&o.dispatchWindow, "dispatch-window", 60*time.Second, "how long each dispatch phase is watched at most")
	fs.DurationVar(&o.importTimeout, "import-timeout", 11*time.Minute, "stop an import still running after this long (its rate is then rows done ÷ time)")
	fs.StringVar(&o.engineLog, "engine-log", "", "file for the engine's log (default /dev/null)")
	fs.StringVar(&o.perfDir, "perf", "", "directory: record perf profiles of canbao and mariadbd during each workload's first repeat")
	fs.StringVar(&mysqlDSN, "mysql", "root@tcp(127.0.0.1:3306)/", "MariaDB server (127.0.0.1 only); the bench uses database "+benchDB)
	fs.StringVar(&redisAddr, "redis", "127.0.0.1:6379", "Redis (127.0.0.1 only); the bench uses keys "+benchRedisPrefix+"*")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, w := range strings.Split(workloads, ",") {
		if w = strings.TrimSpace(w); w == "" {
			continue
		}
		if !slices.Contains(allWorkloads, w) {
			return fmt.Errorf("unknown workload %q", w)
		}
		o.workloads = append(o.workloads, w)
	}
	if o.scale <= 0 || o.scale > 1 || o.repeats < 1 {
		return errors.New("-scale must be in (0, 1] and -repeats at least 1")
	}
	if o.importRepeats == 0 {
		o.importRepeats = o.repeats
		if o.scale >= 0.5 {
			o.importRepeats = 1
		}
	}
	dsnBase, err := parseDSNBase(mysqlDSN)
	if err != nil {
		return err
	}
	if err := checkLoopback("-redis", redisAddr); err != nil {
		return err
	}
	canbaoPath, err := filepath.Abs(o.canbao)
	if err != nil {
		return err
	}
	if _, err := os.Stat(canbaoPath); err != nil {
		return fmt.Errorf("-canbao: %w (run make build first)", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	workDir, err := os.MkdirTemp("", "canbao-bench-")
	if err != nil {
		return err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return err
	}
	e := &env{canbao: canbaoPath, self: self, workDir: workDir, dsnBase: dsnBase, redis: redisAddr, apiAddr: apiAddr}
	if err := e.load(); err != nil {
		return err
	}
	e.rdb = redis.NewClient(&redis.Options{Addr: redisAddr})
	defer e.rdb.Close()

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	b := &bench{opt: o, env: e, log: log}
	start := time.Now()
	b.rep = &report{Date: today(), Command: "canbao-bench " + strings.Join(args, " "), Scale: o.scale}
	err = b.run(ctx)

	// Clean up whatever happened: children, the database, the Redis keys, the work files.
	cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer ccancel()
	stopAll()
	if e.db != nil {
		e.db.Close()
	}
	if !o.keep {
		if derr := e.dropBenchDB(cctx); derr != nil {
			log.Error("could not drop "+benchDB, "err", derr)
		}
		if n, rerr := e.clearRedis(cctx); rerr != nil {
			log.Error("could not delete the bench's Redis keys", "err", rerr)
		} else {
			log.Info("cleaned up", "database", benchDB, "redis_keys", n)
		}
	}
	if err == nil || o.perfDir != "" {
		_ = os.RemoveAll(workDir)
	} else {
		log.Info("work files kept for inspection", "dir", workDir)
	}
	if err != nil {
		return err
	}
	b.rep.Seconds = time.Since(start).Seconds()
	b.rep.LoadEnd = loadavg()
	if o.out != "" {
		if err := b.rep.write(o.out); err != nil {
			return err
		}
		log.Info("results written", "dir", o.out)
	}
	fmt.Println(b.rep.markdown())
	return nil
}

func (b *bench) run(ctx context.Context) error {
	e, o := b.env, b.opt
	b.cpu = startCPUSampler()
	defer b.cpu.Stop()
	b.rep.Commit = gitState()
	b.rep.Machine = machineInfo(ctx, e)
	b.rep.LoadStart = loadavg()
	b.rep.TopStart = topProcesses()
	b.log.Info("machine", "info", b.rep.Machine.short(), "load", b.rep.LoadStart)

	target := int(1_000_000*o.scale + 0.5)
	var err error
	t := time.Now()
	if o.reuse {
		b.st, err = e.attach(ctx, b.log)
	} else {
		b.st, err = e.prepare(ctx, target, b.log)
	}
	if err != nil {
		return err
	}
	b.rep.Residents, b.rep.Villages = b.st.residents, len(b.st.villages)
	b.rep.Notes = append(b.rep.Notes, fmt.Sprintf("Preparing %s (drop, migrate, seed demo, grow to %d residents in %d villages) took %.0f s.",
		benchDB, b.st.residents, len(b.st.villages), time.Since(t).Seconds()))
	b.log.Info("database ready", "residents", b.st.residents, "villages", len(b.st.villages), "s", since(t))

	if b.api, err = e.startAPI(ctx); err != nil {
		return fmt.Errorf("start canbao serve: %w\n%s", err, tail(e.workDir+"/serve.log", 20))
	}
	if b.token, err = e.staffToken(ctx); err != nil {
		return err
	}
	steps := map[string]func(context.Context) ([]result, error){
		"policy": b.policy, "registration": b.registration, "mixed": b.mixed, "progress": b.progress, "employers": b.employers,
		"snapshot": b.snapshot, "dispatch": b.dispatch, "import": b.importRoster, "checkin": b.checkin,
	}
	for _, w := range allWorkloads {
		if !slices.Contains(o.workloads, w) {
			continue
		}
		t := time.Now()
		b.log.Info("workload", "name", w, "load", loadavg())
		rs, err := steps[w](ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", w, err)
		}
		busy, others, iowait := b.cpu.window(t, time.Now())
		for i := range rs {
			rs[i].CPUBusy, rs[i].CPUOther, rs[i].IOWait = busy, others, iowait
		}
		for _, r := range rs {
			b.log.Info("result", "workload", r.Workload, "canbao", fmtValue(r.Canbao.Value, r.Canbao.Unit),
				"baseline", fmtValue(r.Baseline.Value, r.Baseline.Unit), "ratio", fmtRatio(r.Ratio), "met", r.Met)
		}
		b.rep.Results = append(b.rep.Results, rs...)
		b.log.Info("workload done", "name", w, "s", since(t))
	}
	return nil
}

// machineInfo describes the machine and the database server's relevant settings.
func machineInfo(ctx context.Context, e *env) machine {
	m := machine{Nproc: runtime.NumCPU(), Go: runtime.Version(), Settings: map[string]string{}}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		fmt.Sscanf(string(b), "MemTotal: %d kB", &kb)
		m.MemMiB = kb / 1024
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.CommandContext(ctx, "go", "version").Output(); err == nil {
		if f := strings.Fields(string(out)); len(f) >= 3 {
			m.Go = f[2]
		}
	}
	if db, err := e.serverDB(ctx); err == nil {
		var v string
		if db.GetContext(ctx, &v, "SELECT VERSION()") == nil {
			m.MariaDB = strings.SplitN(v, "-", 2)[0]
		}
		rows, err := db.QueryContext(ctx, `SHOW GLOBAL VARIABLES WHERE Variable_name IN ('innodb_buffer_pool_size',
			'innodb_flush_log_at_trx_commit', 'innodb_flush_method', 'innodb_log_file_size', 'innodb_io_capacity', 'innodb_doublewrite',
			'max_connections', 'transaction_isolation', 'local_infile')`)
		if err == nil {
			for rows.Next() {
				var k, v string
				if rows.Scan(&k, &v) == nil {
					m.Settings[k] = v
				}
			}
			rows.Close()
		}
		db.Close()
	}
	if info, err := e.rdb.Info(ctx, "server").Result(); err == nil {
		for _, l := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "redis_version:"); ok {
				m.Redis = v
			}
		}
	}
	return m
}

// gitState names the commit the binary was built from, and whether the tree had changes.
func gitState() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown commit"
	}
	s := "commit " + strings.TrimSpace(string(out))
	st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output()
	if err == nil {
		n := 0
		for _, l := range strings.Split(strings.TrimSpace(string(st)), "\n") {
			if l != "" && !strings.Contains(l, "docs/") && !strings.Contains(l, "Makefile") {
				n++
			}
		}
		if n > 0 {
			s += fmt.Sprintf(" + %d modified files", n)
		}
	}
	return s
}

// loadavg is the first three fields of /proc/loadavg.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func load1() float64 {
	var x float64
	fmt.Sscanf(loadavg(), "%f", &x)
	return x
}

// topProcesses lists the processes using the most CPU right now (what else runs on the machine).
func topProcesses() []string {
	out, err := exec.Command("ps", "-eo", "pcpu,rss,comm", "--sort=-pcpu").Output()
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) > 8 {
		lines = lines[:8]
	}
	for i := range lines {
		lines[i] = strings.Join(strings.Fields(lines[i]), " ")
	}
	return lines
}
