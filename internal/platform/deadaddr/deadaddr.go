// Package deadaddr gives tests a loopback address that refuses every
// connection for as long as the test runs.
//
// The usual trick, starting an httptest server and closing it, frees the
// port: the next server the test (or a parallel one) starts may be given
// the same port, and the "refused" call then reaches it. That happened in
// CI (a WeChat client meant to see a refused connection got an errcode from
// the test's own fake). Here the port stays bound to a socket that never
// listens, so the kernel answers every SYN with a reset and nobody else can
// take the port until the test ends.
package deadaddr

import (
	"net"
	"strconv"
	"syscall"
	"testing"
)

// Refused returns "127.0.0.1:port" whose port is held, not listening,
// until t ends.
func Refused(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("deadaddr: socket: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("deadaddr: bind: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("deadaddr: getsockname: %v", err)
	}
	port := sa.(*syscall.SockaddrInet4).Port
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// RefusedURL is Refused as an http:// base URL.
func RefusedURL(t testing.TB) string {
	return "http://" + Refused(t)
}
