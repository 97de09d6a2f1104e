package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/importer"
	"github.com/canbao/canbao/internal/platform/database"
)

// profileImportMain is `canbao-bench profile-import`: it runs canbao's roster importer in this
// process, with a CPU profile and a heap profile taken at the peak of the heap, against the
// canbao_bench database a `-keep` run left behind. Production code is not changed: the
// importer package is called as `canbao import roster` calls it.
//
//	canbao-bench -keep -workloads "" -out ""      # prepare canbao_bench and keep it
//	canbao-bench profile-import -rows 300000 -cpuprofile /tmp/import.cpu -memprofile /tmp/import.heap
//	go tool pprof -top /tmp/import.cpu
func profileImportMain(args []string) error {
	fs := flag.NewFlagSet("profile-import", flag.ContinueOnError)
	rows := fs.Int("rows", 300_000, "rows of new people to import")
	cpuOut := fs.String("cpuprofile", "", "CPU profile file")
	memOut := fs.String("memprofile", "", "heap profile file, written at the heap's peak")
	mysqlDSN := fs.String("mysql", "root@tcp(127.0.0.1:3306)/", "MariaDB server (127.0.0.1 only)")
	redisAddr := fs.String("redis", "127.0.0.1:6379", "Redis (127.0.0.1 only)")
	csvOnly := fs.String("csv", "", "only write the roster file to this path (for `canbao import roster` by hand)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dsnBase, err := parseDSNBase(*mysqlDSN)
	if err != nil {
		return err
	}
	if err := checkLoopback("-redis", *redisAddr); err != nil {
		return err
	}
	workDir, err := os.MkdirTemp("", "canbao-bench-profile-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(workDir)
	e := &env{workDir: workDir, dsnBase: dsnBase, redis: *redisAddr, apiAddr: loopback + ":1"}
	if err := e.load(); err != nil {
		return err
	}
	e.rdb = redis.NewClient(&redis.Options{Addr: *redisAddr})
	defer e.rdb.Close()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	st, err := e.attach(ctx, log)
	if err != nil {
		return fmt.Errorf("attach to %s (prepare it with -keep first): %w", benchDB, err)
	}
	b := &bench{env: e, st: st, log: log}
	var used int
	_ = e.db.GetContext(ctx, &used, `SELECT COUNT(*) FROM roster_imports`)
	path := workDir + "/roster.csv"
	if *csvOnly != "" {
		path = *csvOnly
	}
	if err := b.writeRosterCSV(path, *rows, importSlotBase+uint64(used+5)*importSlotBlock); err != nil {
		return err
	}
	if *csvOnly != "" {
		return nil
	}
	db, err := database.Open(ctx, e.cfg.MySQL.DSN, database.Options{MaxOpenConns: e.cfg.MySQL.MaxOpenConns,
		MaxIdleConns: e.cfg.MySQL.MaxIdleConns, ConnMaxLifetime: e.cfg.MySQL.ConnMaxLifetime})
	if err != nil {
		return err
	}
	defer db.Close()

	// Heap watcher: a heap profile whenever the heap in use passes its peak by 5%.
	var (
		mu   sync.Mutex
		peak uint64
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			mu.Lock()
			if ms.HeapInuse > peak+peak/20 {
				peak = ms.HeapInuse
				if *memOut != "" {
					if f, err := os.Create(*memOut); err == nil {
						_ = pprof.WriteHeapProfile(f)
						f.Close()
					}
				}
			}
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	if *cpuOut != "" {
		f, err := os.Create(*cpuOut)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	t := time.Now()
	res, err := importer.RunFile(ctx, importer.New(db, e.kr, e.loc, enrollment.New(e.loc, e.cfg.Campaigns.AttributionDays), log), path, io.Discard)
	wall := time.Since(t)
	if *cpuOut != "" {
		pprof.StopCPUProfile()
	}
	close(stop)
	<-done
	if err != nil {
		return err
	}
	fmt.Printf("imported %d rows (%d created) in %.1f s: %.0f rows/s; heap in use at its peak %d MiB; %s\n",
		res.RowsDone, res.Created, wall.Seconds(), float64(res.RowsDone)/wall.Seconds(), peak>>20, vmHWM())
	return nil
}

// vmHWM is this process's peak RSS line of /proc/self/status.
func vmHWM() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return "peak RSS " + strings.Join(strings.Fields(strings.TrimPrefix(l, "VmHWM:")), " ")
		}
	}
	return ""
}
