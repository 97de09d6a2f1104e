// Package fakegate holds requests in the test fakes of outside providers (the SMS and WeChat
// fakes), so that a test knows which sends are in flight instead of guessing from delays.
package fakegate

import (
	"io"
	"net/http"
	"sync"
)

// Gate lets requests through, or holds them once Hold is in force. The zero value lets every
// request through.
type Gate struct {
	mu   sync.Mutex
	gate chan struct{} // Hold: closed by its release
	pass int           // Hold: requests still let through before holding
	held int
}

// Hold lets the next pass requests through and holds every later one, unanswered, until
// release is called. A held request whose client gives up (its timeout, or its process killed)
// is dropped: Wait says false.
func (g *Gate) Hold(pass int) (release func()) {
	ch := make(chan struct{})
	g.mu.Lock()
	g.gate, g.pass = ch, pass
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			if g.gate == ch {
				g.gate = nil
			}
			g.mu.Unlock()
			close(ch)
		})
	}
}

// Held is how many requests Hold is holding now.
func (g *Gate) Held() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held
}

// Wait holds r while a Hold is in force; false if its client gave up meanwhile. It reads r's
// body to its end: only then does the server notice a client that gave up.
func (g *Gate) Wait(r *http.Request) bool {
	g.mu.Lock()
	ch := g.gate
	if ch == nil || g.pass > 0 {
		if ch != nil {
			g.pass--
		}
		g.mu.Unlock()
		return true
	}
	g.held++
	g.mu.Unlock()
	_, _ = io.Copy(io.Discard, r.Body)
	defer func() {
		g.mu.Lock()
		g.held--
		g.mu.Unlock()
	}()
	select {
	case <-ch:
		return true
	case <-r.Context().Done():
		return false
	}
}
