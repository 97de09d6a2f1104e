package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// perf records a CPU profile (perf record -g, 499 Hz) of the given processes plus mariadbd
// and redis-server while a workload's first repeat runs, when -perf names a directory. The
// returned function stops it. Read the profiles with
//
//	perf report -i DIR/NAME.data --no-children --sort comm,dso,sym --stdio
func (b *bench) perf(ctx context.Context, rep int, name string, pids ...int) func() {
	if b.opt.perfDir == "" || rep != 0 {
		return func() {}
	}
	if err := os.MkdirAll(b.opt.perfDir, 0o755); err != nil {
		b.log.Warn("perf", "err", err)
		return func() {}
	}
	for _, server := range []string{"mariadbd", "redis-server"} {
		if out, err := exec.Command("pidof", server).Output(); err == nil {
			for _, f := range strings.Fields(string(out)) {
				if pid, err := strconv.Atoi(f); err == nil {
					pids = append(pids, pid)
				}
			}
		}
	}
	list := make([]string, len(pids))
	for i, p := range pids {
		list[i] = strconv.Itoa(p)
	}
	out := filepath.Join(b.opt.perfDir, name+".data")
	cmd := exec.CommandContext(ctx, "perf", "record", "-F", "499", "-g", "-o", out, "-p", strings.Join(list, ","))
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		b.log.Warn("perf record", "err", err)
		return func() {}
	}
	b.log.Info("perf record", "file", out, "pids", strings.Join(list, ","))
	return func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		fmt.Fprintf(os.Stderr, "perf profile: %s\n", out)
	}
}
