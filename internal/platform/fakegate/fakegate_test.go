package fakegate

import (
	"context"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// waitHeld waits until g holds n requests.
func waitHeld(t *testing.T, g *Gate, n int) {
	t.Helper()
	for g.Held() != n {
		runtime.Gosched()
	}
}

func TestGateLetsPassThroughThenHoldsUntilRelease(t *testing.T) {
	var g Gate
	if !g.Wait(httptest.NewRequest("POST", "/", strings.NewReader("x"))) {
		t.Fatal("the zero Gate held a request")
	}
	release := g.Hold(1)
	if !g.Wait(httptest.NewRequest("POST", "/", strings.NewReader("first"))) {
		t.Fatal("the request Hold lets pass was held")
	}
	done := make(chan bool)
	go func() { done <- g.Wait(httptest.NewRequest("POST", "/", strings.NewReader("second"))) }()
	waitHeld(t, &g, 1)
	select {
	case <-done:
		t.Fatal("a held request went through before the release")
	default:
	}
	release()
	if !<-done {
		t.Fatal("a released request was dropped")
	}
	waitHeld(t, &g, 0)
	release() // twice is harmless
	if !g.Wait(httptest.NewRequest("POST", "/", strings.NewReader("after"))) {
		t.Fatal("a request after the release was held")
	}
}

func TestGateDropsARequestWhoseClientGaveUp(t *testing.T) {
	var g Gate
	release := g.Hold(0)
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool)
	go func() {
		done <- g.Wait(httptest.NewRequest("POST", "/", strings.NewReader("x")).WithContext(ctx))
	}()
	waitHeld(t, &g, 1)
	cancel()
	if <-done {
		t.Fatal("a request whose client gave up went through")
	}
	if n := g.Held(); n != 0 {
		t.Fatalf("%d still held", n)
	}
}
