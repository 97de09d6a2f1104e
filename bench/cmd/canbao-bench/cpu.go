package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// cpuSampler measures, once a second, how busy the machine is and how much of that is the
// benchmark's: this process, its descendants (canbao, the bare servers, perf) and the
// database and Redis servers. The rest is other people's work on the shared machine.
type cpuSampler struct {
	mu      sync.Mutex
	samples []cpuSample
	stop    chan struct{}
	done    chan struct{}
}

type cpuSample struct {
	at          time.Time
	busy, total float64 // machine jiffies in the interval
	iowait      float64
	ours        float64 // jiffies of the bench's processes in the interval
}

func startCPUSampler() *cpuSampler {
	s := &cpuSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop()
	return s
}

func (s *cpuSampler) Stop() {
	close(s.stop)
	<-s.done
}

func (s *cpuSampler) loop() {
	defer close(s.done)
	prevBusy, prevTotal, prevIO := machineJiffies()
	prevOurs := oursJiffies()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			busy, total, io := machineJiffies()
			ours := oursJiffies()
			s.mu.Lock()
			s.samples = append(s.samples, cpuSample{at: now, busy: busy - prevBusy, total: total - prevTotal, iowait: io - prevIO, ours: ours - prevOurs})
			s.mu.Unlock()
			prevBusy, prevTotal, prevOurs, prevIO = busy, total, ours, io
		}
	}
}

// window summarises [from, to]: the machine's busy share and the share used by processes
// outside the benchmark, both as a fraction of all CPUs.
func (s *cpuSampler) window(from, to time.Time) (busy, others, iowait float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b, t, o, w float64
	for _, x := range s.samples {
		if x.at.Before(from) || x.at.After(to) {
			continue
		}
		b += x.busy
		t += x.total
		w += x.iowait
		o += max(0, x.busy-x.ours)
	}
	if t == 0 {
		return 0, 0, 0
	}
	return b / t, o / t, w / t
}

// machineJiffies reads the cpu line of /proc/stat.
func machineJiffies() (busy, total, iowait float64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:] {
		x, _ := strconv.ParseFloat(v, 64)
		total += x
		switch i {
		case 3: // idle
		case 4:
			iowait += x
		default:
			busy += x
		}
	}
	return busy, total, iowait
}

// procStat is the parent pid, command and CPU jiffies (user+system, with waited-for
// children) of a process.
func procStat(pid string) (ppid int, comm string, jiffies float64, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return 0, "", 0, false
	}
	s := string(b)
	l, r := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if l < 0 || r < l {
		return 0, "", 0, false
	}
	comm = s[l+1 : r]
	f := strings.Fields(s[r+1:])
	if len(f) < 15 {
		return 0, "", 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
		x, _ := strconv.ParseFloat(f[i], 64)
		jiffies += x
	}
	return ppid, comm, jiffies, true
}

// oursJiffies sums the CPU of this process, its descendants, mariadbd and redis-server.
func oursJiffies() float64 {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	type proc struct {
		ppid int
		comm string
		j    float64
	}
	procs := map[int]proc{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, comm, j, ok := procStat(e.Name()); ok {
			procs[pid] = proc{ppid, comm, j}
		}
	}
	self := os.Getpid()
	var sum float64
	for pid, p := range procs {
		if p.comm == "mariadbd" || p.comm == "redis-server" {
			sum += p.j
			continue
		}
		for q, hops := pid, 0; q > 1 && hops < 16; hops++ {
			if q == self {
				sum += p.j
				break
			}
			q = procs[q].ppid
		}
	}
	return sum
}
