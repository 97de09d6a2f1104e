package deadaddr

import (
	"errors"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// The address must refuse connections, and no server may take its port
// while the test runs (a closed httptest server fails the second part).
func TestRefusedStaysRefused(t *testing.T) {
	addr := Refused(t)
	if ln, err := net.Listen("tcp", addr); err == nil {
		ln.Close()
		t.Fatalf("another listener took %s: the address is not held", addr)
	}
	_, err := net.DialTimeout("tcp", addr, time.Second)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: want connection refused, got %v", addr, err)
	}
	resp, err := http.Get(RefusedURL(t))
	if err == nil {
		resp.Body.Close()
		t.Fatal("GET on a refused address answered")
	}
}
