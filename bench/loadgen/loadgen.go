// Package loadgen is a small closed-loop HTTP load generator: a fixed number of keep-alive
// connections, each sending its next request as soon as the previous answer has been read.
// It records the latency of every request completed inside the measured window.
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Request is one request to send and the status it must get.
type Request struct {
	Name   string // what the request is, for the per-kind counts of a mixed load
	Method string
	Path   string
	Body   []byte
	Token  string // sent as Authorization: Bearer …
	Expect int    // the status that counts as success
}

// Spec describes one run.
type Spec struct {
	BaseURL  string        // http://127.0.0.1:port
	Conns    int           // connections, one goroutine each
	Warmup   time.Duration // sent but not measured
	Duration time.Duration // measured window
	// Next returns connection worker's next request, or false when there is none left (a pool of
	// one-time requests, such as registrations by distinct people, ran out).
	Next func(worker int, r *rand.Rand) (Request, bool)
}

// Result is what a run measured.
type Result struct {
	Requests int64 `json:"requests"` // completed inside the measured window
	Sent     int64 `json:"sent"`     // completed in all, warm-up included
	// RPS counts the successful requests of the measured window.
	Errors    int64              `json:"errors"`
	Elapsed   time.Duration      `json:"elapsed_ns"`
	RPS       float64            `json:"rps"`
	P50       time.Duration      `json:"p50_ns"`
	P90       time.Duration      `json:"p90_ns"`
	P99       time.Duration      `json:"p99_ns"`
	Max       time.Duration      `json:"max_ns"`
	ByName    map[string]int64   `json:"by_name,omitempty"`
	MeanMs    map[string]float64 `json:"mean_ms_by_name,omitempty"` // mean latency of each kind
	ErrByName map[string]int64   `json:"errors_by_name,omitempty"`
	FirstErr  string             `json:"first_error,omitempty"`
	Exhausted bool               `json:"exhausted,omitempty"`
}

// String is a one-line summary.
func (r Result) String() string {
	s := fmt.Sprintf("%.0f req/s, p50 %s, p99 %s, %d requests, %d errors", r.RPS, round(r.P50), round(r.P99), r.Requests, r.Errors)
	if r.Exhausted {
		s += " (request pool ran out)"
	}
	return s
}

func round(d time.Duration) time.Duration {
	switch {
	case d > 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// NewClient returns an HTTP client with conns keep-alive connections to one host.
func NewClient(conns int) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

type workerStats struct {
	lat       []time.Duration
	byName    map[string]int64
	errByName map[string]int64
	errors    int64
	lastDone  time.Time
	sent      int64
	latByName map[string]time.Duration
}

// Run sends the load of spec until its window ends or ctx is cancelled.
func Run(ctx context.Context, spec Spec) (Result, error) {
	if spec.Conns < 1 || spec.Duration <= 0 || spec.Next == nil {
		return Result{}, errors.New("loadgen: bad spec")
	}
	client := NewClient(spec.Conns)
	defer client.CloseIdleConnections()

	start := time.Now()
	measureFrom := start.Add(spec.Warmup)
	end := measureFrom.Add(spec.Duration)
	ctx, cancel := context.WithDeadline(ctx, end.Add(30*time.Second))
	defer cancel()

	var (
		wg        sync.WaitGroup
		exhausted atomic.Bool
		firstErr  atomic.Pointer[string]
	)
	stats := make([]*workerStats, spec.Conns)
	for w := range spec.Conns {
		st := &workerStats{byName: map[string]int64{}, errByName: map[string]int64{}, latByName: map[string]time.Duration{},
			lat: make([]time.Duration, 0, 1<<14)}
		stats[w] = st
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w)+1, uint64(start.UnixNano())))
			for {
				now := time.Now()
				if !now.Before(end) || ctx.Err() != nil {
					return
				}
				req, ok := spec.Next(w, rnd)
				if !ok {
					exhausted.Store(true)
					return
				}
				t0 := time.Now()
				status, body, err := do(ctx, client, spec.BaseURL, req)
				t1 := time.Now()
				st.sent++
				if t0.Before(measureFrom) || t1.After(end) {
					continue // warm-up, or finished after the window
				}
				st.lastDone = t1
				st.lat = append(st.lat, t1.Sub(t0))
				st.byName[req.Name]++
				st.latByName[req.Name] += t1.Sub(t0)
				if err != nil || status != req.Expect {
					st.errors++
					st.errByName[req.Name]++
					if firstErr.Load() == nil {
						msg := fmt.Sprintf("%s %s: ", req.Method, req.Path)
						if err != nil {
							msg += err.Error()
						} else {
							msg += fmt.Sprintf("%d %s", status, truncate(body, 300))
						}
						firstErr.CompareAndSwap(nil, &msg)
					}
				}
			}
		}()
	}
	wg.Wait()

	res := Result{ByName: map[string]int64{}, ErrByName: map[string]int64{}, MeanMs: map[string]float64{}}
	latSum := map[string]time.Duration{}
	var all []time.Duration
	last := measureFrom
	for _, st := range stats {
		all = append(all, st.lat...)
		res.Errors += st.errors
		res.Sent += st.sent
		for k, v := range st.byName {
			res.ByName[k] += v
		}
		for k, v := range st.latByName {
			latSum[k] += v
		}
		for k, v := range st.errByName {
			res.ErrByName[k] += v
		}
		if st.lastDone.After(last) {
			last = st.lastDone
		}
	}
	for k, n := range res.ByName {
		if n > 0 {
			res.MeanMs[k] = float64(latSum[k].Microseconds()) / 1000 / float64(n)
		}
	}
	res.Requests = int64(len(all))
	res.Exhausted = exhausted.Load()
	window := end.Sub(measureFrom)
	if res.Exhausted && last.Before(end) {
		window = last.Sub(measureFrom)
	}
	res.Elapsed = window
	if window > 0 {
		res.RPS = float64(res.Requests-res.Errors) / window.Seconds() // successful requests only
	}
	if p := firstErr.Load(); p != nil {
		res.FirstErr = *p
	}
	if len(all) > 0 {
		slices.Sort(all)
		res.P50, res.P90, res.P99, res.Max = pct(all, 0.50), pct(all, 0.90), pct(all, 0.99), all[len(all)-1]
	}
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return res, ctx.Err()
	}
	return res, nil
}

func pct(sorted []time.Duration, p float64) time.Duration {
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func do(ctx context.Context, client *http.Client, base string, r Request) (int, []byte, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, base+r.Path, body)
	if err != nil {
		return 0, nil, err
	}
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == r.Expect {
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, b, err
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
