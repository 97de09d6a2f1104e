package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
)

const importMemGoal = 256 << 20

// writeRosterCSV writes n new people (not on the roster) in the import template's columns.
// With storedPath, it also writes the same people as canbao stores them (ID number and phone
// encrypted with the app's keyring, blind indexes, birth date, codes), tab-separated with the
// binary columns in hex, for the baseline's LOAD DATA.
func (b *bench) writeRosterCSV(path string, n int, fromSlot uint64, storedPath ...string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var sf *os.File
	var sw *bufio.Writer
	if len(storedPath) > 0 {
		if sf, err = os.Create(storedPath[0]); err != nil {
			f.Close()
			return err
		}
		defer sf.Close()
		sw = bufio.NewWriterSize(sf, 1<<20)
	}
	fmt.Fprintln(w, "身份证号码,姓名,性别,手机号码,村居,是否就业,是否被征地农民,参保状态")
	g := newPeople(b.env.kr, b.st.today, b.st.taken, b.st.villages, fromSlot)
	for range n {
		p := g.Next()
		fmt.Fprintf(w, "%s,%s,%s,%s,%s,%s,%s,%s\n", p.IDNumber, p.Name, genderLabel(p.Gender), p.Phone, p.Village,
			yesNo(p.Employed), yesNo(p.Land), statusLabel[p.Status])
		if sw != nil {
			if err := writeStored(sw, b.env.kr, p); err != nil {
				f.Close()
				return err
			}
		}
	}
	if sw != nil {
		if err := sw.Flush(); err != nil {
			f.Close()
			return err
		}
		if err := sf.Close(); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeStored writes one person as a residents row would hold them: id_number_enc,
// id_number_bidx, phone_enc, phone_bidx (hex, \N without a phone), pii_key_id, name, gender,
// birth_date, village_code, employed, land_expropriated, status.
func writeStored(w *bufio.Writer, kr *pii.Keyring, p person) error {
	idEnc, kid, err := kr.Encrypt(p.IDNumber, pii.AADResidentIDNumber)
	if err != nil {
		return err
	}
	phoneEnc, phoneBidx := `\N`, `\N`
	if p.Phone != "" {
		ct, _, err := kr.Encrypt(p.Phone, pii.AADResidentPhone)
		if err != nil {
			return err
		}
		phoneEnc, phoneBidx = hex.EncodeToString(ct), hex.EncodeToString(kr.BlindIndex(pii.IndexPhone, p.Phone))
	}
	_, err = fmt.Fprintf(w, "%x\t%x\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", idEnc, p.Bidx, phoneEnc, phoneBidx, kid, p.Name,
		string(p.Gender), p.Birth.Format(time.DateOnly), p.Village, b2i(p.Employed), b2i(p.Land), p.Status)
	return err
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

var importSummary = regexp.MustCompile(`import \d+: (\d+) rows, (\d+) created, (\d+) updated, (\d+) unchanged, (\d+) newly insured, (\d+) failed`)

// importRoster: `canbao import roster FILE.csv` of new people as a child process (wall time,
// peak RSS read from /proc) against LOAD DATA LOCAL INFILE of the same people, encrypted and
// blind-indexed as canbao stores them, into bench_residents: a copy of residents (CREATE
// TABLE … LIKE: every index, no foreign key) filled with residents' rows before the first
// repeat, so that each repeat's load meets indexes as large as the import does (both tables
// grow by the same rows per repeat).
func (b *bench) importRoster(ctx context.Context) ([]result, error) {
	n := int(1_000_000*b.opt.scale + 0.5)
	repeats := b.opt.importRepeats
	r := result{ID: "import", Workload: fmt.Sprintf("roster import of %d rows (`canbao import roster FILE.csv`, new people)", n),
		RatioDef: "canbao rows/s ÷ baseline rows/s", Goal: "≥ 0.6, and peak RSS ≤ 256 MiB", Repeats: repeats}
	r.Canbao = side{What: "canbao import roster", Unit: "rows/s"}
	r.Baseline = side{What: "`LOAD DATA LOCAL INFILE` of the rows as stored into a copy of `residents`", Unit: "rows/s"}

	// LOAD DATA LOCAL needs the server's local_infile and the client's allowAllFiles.
	srv, err := b.env.serverDB(ctx)
	if err != nil {
		return nil, err
	}
	var was string
	if err := srv.QueryRowContext(ctx, `SELECT @@GLOBAL.local_infile`).Scan(&was); err != nil {
		srv.Close()
		return nil, err
	}
	if was == "0" || was == "OFF" {
		if _, err := srv.ExecContext(ctx, `SET GLOBAL local_infile = 1`); err != nil {
			srv.Close()
			return nil, err
		}
		defer func() {
			_, _ = srv.ExecContext(context.WithoutCancel(ctx), `SET GLOBAL local_infile = 0`)
			srv.Close()
		}()
	} else {
		srv.Close()
	}
	loadDB, err := database.Open(ctx, b.env.dsn(benchDB, "allowAllFiles=true"), database.Options{MaxOpenConns: 1})
	if err != nil {
		return nil, err
	}
	defer loadDB.Close()
	t0 := time.Now()
	for _, q := range []string{`DROP TABLE IF EXISTS bench_residents`, `CREATE TABLE bench_residents LIKE residents`,
		`INSERT INTO bench_residents SELECT * FROM residents`} {
		if _, err := loadDB.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	defer func() { _, _ = loadDB.ExecContext(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS bench_residents`) }()
	b.log.Info("bench_residents: a copy of residents", "s", since(t0))

	var peaks []float64
	for rep := range repeats {
		r.Load1 = append(r.Load1, load1())
		path := fmt.Sprintf("%s/roster-%d.csv", b.env.workDir, rep+1)
		stored := fmt.Sprintf("%s/roster-%d.stored.tsv", b.env.workDir, rep+1)
		t := time.Now()
		if err := b.writeRosterCSV(path, n, importSlotBase+uint64(rep)*importSlotBlock, stored); err != nil {
			return nil, err
		}
		fi, _ := os.Stat(path)
		b.log.Info("roster file written", "rows", n, "bytes", fi.Size(), "s", since(t))

		// canbao
		c0 := b.counters(ctx)
		imp, err := b.runImport(ctx, path, n)
		if err != nil {
			return nil, err
		}
		b.recordCounters(&r.Canbao, rep, c0, float64(imp.rows), "row")
		peaks = append(peaks, imp.peak)
		if rep == 0 {
			r.Canbao.extra("wait4_ru_maxrss_bytes_repeat1", imp.maxrss)
		}
		r.Canbao.add(float64(imp.rows) / imp.wall.Seconds())
		if rep == 0 {
			r.Canbao.extra("rows_done_every_10s_repeat1", imp.progress)
		}
		if !imp.complete {
			r.note("repeat %d: the import was stopped after %s with %d of %d rows done (-import-timeout); its rate is rows done ÷ time", rep+1,
				imp.wall.Round(time.Second), imp.rows, n)
		} else {
			r.note("repeat %d: %d rows in %.0f s", rep+1, n, imp.wall.Seconds())
		}
		if imp.phases != "" {
			r.note("repeat %d: canbao's log of its writes (load: LOAD DATA into the staging tables, alongside the transactions; lookup, update, insert and rest: inside them; wait: the writer idle, waiting for the reader or a load): %s", rep+1, imp.phases)
		}
		b.log.Info("canbao import", "rows", imp.rows, "s", imp.wall.Seconds(), "rows_per_s", int(float64(imp.rows)/imp.wall.Seconds()),
			"peak_rss_mib", int(imp.peak/(1<<20)), "complete", imp.complete)

		// LOAD DATA of the same people as stored, into the copy of residents
		mysql.RegisterLocalFile(stored)
		t = time.Now()
		res, err := loadDB.ExecContext(ctx, `LOAD DATA LOCAL INFILE '`+stored+`' INTO TABLE bench_residents CHARACTER SET utf8mb4
			FIELDS TERMINATED BY '\t' LINES TERMINATED BY '\n'
			(@id_enc, @bidx, @phone_enc, @phone_bidx, pii_key_id, name, gender, birth_date, village_code, employed,
			 land_expropriated, status)
			SET id_number_enc = UNHEX(@id_enc), id_number_bidx = UNHEX(@bidx), phone_enc = UNHEX(@phone_enc),
			    phone_bidx = UNHEX(@phone_bidx), source = 'import', created_at = NOW(6), updated_at = NOW(6)`)
		d := time.Since(t)
		mysql.DeregisterLocalFile(stored)
		if err != nil {
			return nil, fmt.Errorf("LOAD DATA: %w", err)
		}
		if k, _ := res.RowsAffected(); int(k) != n {
			return nil, fmt.Errorf("LOAD DATA loaded %d rows, want %d", k, n)
		}
		r.Baseline.add(float64(n) / d.Seconds())
		b.log.Info("load data", "rows", n, "s", d.Seconds(), "rows_per_s", int(float64(n)/d.Seconds()))
		_ = os.Remove(path)
		_ = os.Remove(stored)
	}
	r.Canbao.settle()
	r.Baseline.settle()
	peak := median(peaks)
	r.Canbao.extra("peak_rss_bytes", peaks)
	r.Canbao.What = fmt.Sprintf("canbao import roster, peak RSS %.0f MiB", peak/(1<<20))
	r.Ratio = r.Canbao.Value / r.Baseline.Value
	r.Met = r.Ratio >= 0.6 && peak <= importMemGoal
	r.note("peak RSS of the import process: %.0f MiB (goal ≤ 256 MiB), its VmHWM read from /proc every 250 ms while it ran", peak/(1<<20))
	r.note("each repeat imports %d new people into a roster that already holds %d or more, so residents grows by %d per repeat", n, b.st.residents, n)
	if repeats < b.opt.repeats {
		r.note("%d repeat(s) only at this scale, to keep make bench within its time budget", repeats)
	}
	return []result{r}, nil
}

// importRun is one canbao import.
type importRun struct {
	rows     int
	wall     time.Duration
	peak     float64 // bytes: the highest VmHWM seen
	maxrss   float64 // bytes: wait4's ru_maxrss (includes this process's own high-water mark, see runImport)
	complete bool
	progress []int  // rows done, every 10 s
	phases   string // the import's "roster import writes" log line, from wait_ms on
}

// importPhases finds the line in canbao's log, text (key=value) or JSON ("key":value).
var importPhases = regexp.MustCompile(`"?wait_ms"?[=:]\d+[^\n]*?"?rest_ms"?[=:]\d+`)

// runImport runs `canbao import roster path` as a child process, samples its progress from
// roster_imports, and stops it (SIGTERM) after -import-timeout.
func (b *bench) runImport(ctx context.Context, path string, n int) (importRun, error) {
	var out importRun
	var lastID int64
	_ = b.env.db.GetContext(ctx, &lastID, `SELECT COALESCE(MAX(id), 0) FROM roster_imports`)
	rowsDone := func() int {
		var k int
		_ = b.env.db.GetContext(ctx, &k, `SELECT rows_done FROM roster_imports WHERE id > ? ORDER BY id DESC LIMIT 1`, lastID)
		return k
	}
	cmd := exec.CommandContext(ctx, b.env.canbao, "import", "roster", path)
	cmd.Env = b.env.childEnv()
	cmd.Dir = b.env.workDir
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	// The progress bar and the log go to stderr: kept in a file, for the log's account of
	// where the import's writes spent their time.
	errPath := path + ".stderr"
	errFile, err := os.Create(errPath)
	if err != nil {
		return out, err
	}
	defer os.Remove(errPath)
	defer errFile.Close()
	cmd.Stderr = errFile
	t := time.Now()
	if err := cmd.Start(); err != nil {
		return out, err
	}
	stopPerf := b.perf(ctx, 0, "import", cmd.Process.Pid)
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	// Peak RSS is the child's VmHWM, read while it runs. (wait4's ru_maxrss is no good here: Go
	// starts children with vfork, and Linux counts the parent's high-water mark, shared until
	// exec, as the child's.)
	hwm := time.NewTicker(250 * time.Millisecond)
	defer hwm.Stop()
	procStatus := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	timeout := time.After(b.opt.importTimeout)
	stopped := false
wait:
	for {
		select {
		case err = <-waited:
			break wait
		case <-tick.C:
			out.progress = append(out.progress, rowsDone())
		case <-hwm.C:
			if kb := statusKB(procStatus, "VmHWM:"); float64(kb)*1024 > out.peak {
				out.peak = float64(kb) * 1024
			}
		case <-timeout:
			stopped = true
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	out.wall = time.Since(t)
	stopPerf()
	if text, rerr := os.ReadFile(errPath); rerr == nil {
		if m := importPhases.FindString(string(text)); m != "" {
			out.phases = m
		}
	}
	out.maxrss = float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) * 1024 // kB on Linux
	if stopped {
		out.rows = rowsDone()
		if out.rows == 0 {
			return out, fmt.Errorf("canbao import roster: no row done in %s", b.opt.importTimeout)
		}
		return out, nil
	}
	text := stdout.String()
	if err != nil {
		return out, fmt.Errorf("canbao import roster: %w\n%s", err, text)
	}
	m := importSummary.FindStringSubmatch(text)
	if m == nil {
		return out, fmt.Errorf("canbao import roster: unexpected output %q", text)
	}
	created, _ := strconv.Atoi(m[2])
	failed, _ := strconv.Atoi(m[6])
	if created != n || failed != 0 {
		return out, fmt.Errorf("canbao import roster: %d created and %d failed of %d rows: %s", created, failed, n, text)
	}
	out.rows, out.complete = n, true
	return out, nil
}

// statusKB reads a "Key:  N kB" line of a /proc/<pid>/status file (0 when unreadable).
func statusKB(path, key string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}
