package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/campaigns/engine"
	"github.com/canbao/canbao/internal/server"
)

// TestServeEngineOnlyBuildsNoHTTPAPI: serve --engine-only used to build the whole HTTP API
// (every area's services and routes) and leave it unused. It now builds the engine alone: the
// API's constructor is never called and the HTTP address, held by this test, is not needed
// (a serve that listened would fail on it).
func TestServeEngineOnlyBuildsNoHTTPAPI(t *testing.T) {
	_, rdb, prefix := devEnv(t)
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	t.Setenv("CANBAO_HTTP_ADDR", held.Addr().String())
	ctx := context.Background()
	if err := run(ctx, []string{"migrate"}, nil, io.Discard, io.Discard); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	built := 0
	orig := buildServer
	buildServer = func(d server.Deps) (*server.Server, error) { built++; return orig(d) }
	t.Cleanup(func() { buildServer = orig })

	// The held address makes a serve that listens fail, so the check below can fail.
	if err := run(ctx, []string{"serve", "--no-engine"}, nil, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "address already in use") || built != 1 {
		t.Fatalf("serve --no-engine on a held address: %v (API built %d times)", err, built)
	}
	built = 0

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	logs := &bytes.Buffer{}
	go func() {
		err := run(sctx, []string{"serve", "--engine-only"}, nil, pw, logs)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	line, rerr := bufio.NewReader(pr).ReadString('\n')
	if rerr != nil {
		t.Fatalf("serve --engine-only printed nothing: %v", <-done)
	}
	go io.Copy(io.Discard, pr) //nolint:errcheck
	if line != "canbao engine running (mode dev)\n" {
		t.Fatalf("serve --engine-only printed %q", line)
	}
	// Wait on the state: an engine worker takes up a message from the delivery stream (one
	// naming no delivery, which it drops), so the engine ran past its start-up.
	stream := engine.StreamKeys(prefix)[0]
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: map[string]any{"d": "0"}}).Err(); err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(20 * time.Second); ; <-tick.C {
		if cs, err := rdb.XInfoConsumers(ctx, stream, "senders").Result(); err == nil && len(cs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no engine worker read the delivery stream")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve --engine-only: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve --engine-only did not stop")
	}
	if built != 0 {
		t.Fatalf("serve --engine-only built the HTTP API %d times", built)
	}
	if l := logs.String(); !strings.Contains(l, "campaign engine starting") || strings.Contains(l, "serving") {
		t.Fatalf("serve --engine-only logs:\n%s", l)
	}
}
