package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/canbao/canbao/campaigns/engine"
)

// TestServeExitsWhenTheEngineCannotStart: the engine's start-up error (here XGROUP CREATE
// refused by a key of another type at the stream's name) used to be discarded, and serve
// answered ready while no campaign ever started. serve and serve --engine-only now log it and
// return it (the process exits non-zero) before serving anything.
func TestServeExitsWhenTheEngineCannotStart(t *testing.T) {
	_, rdb, prefix := devEnv(t)
	ctx := context.Background()
	if err := run(ctx, []string{"migrate"}, nil, io.Discard, io.Discard); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := rdb.Set(ctx, engine.StreamKeys(prefix)[0], "not a stream", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"serve"}, {"serve", "--engine-only"}} {
		var out, logs bytes.Buffer
		err := run(ctx, args, nil, &out, &logs)
		if err == nil || !strings.Contains(err.Error(), "campaign engine cannot start") || !strings.Contains(err.Error(), "WRONGTYPE") {
			t.Fatalf("%v: %v", args, err)
		}
		if out.Len() != 0 {
			t.Fatalf("%v printed %q: it served", args, out.String())
		}
		if !strings.Contains(logs.String(), `"msg":"the campaign engine cannot start"`) || !strings.Contains(logs.String(), "WRONGTYPE") {
			t.Fatalf("%v logs:\n%s", args, logs.String())
		}
	}
	// With the key gone, serve starts and reports the engine ready.
	if err := rdb.Del(ctx, engine.StreamKeys(prefix)[0]).Err(); err != nil {
		t.Fatal(err)
	}
	base, stop, logs, err := startServe(t)
	if err != nil {
		t.Fatalf("serve: %v\n%s", err, logs.String())
	}
	resp, err := httpGet(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp, "200 ") || !strings.Contains(resp, `"engine":"ok"`) {
		t.Fatalf("readyz: %s", resp)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func httpGet(url string) (string, error) {
	resp, err := http.Get(url) //nolint:gosec // a test's own server
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, b), err
}
