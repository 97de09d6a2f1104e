package registration_test

import (
	"sync"
	"testing"

	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/registration"
	"github.com/canbao/canbao/internal/server/servertest"
)

// Registrations that share one transaction (group commit) get their own answers: refused ones
// are undone alone and spoil nothing for the others, which are stored exactly once.
func TestGroupCommitOneRefusedOthersStored(t *testing.T) {
	env := servertest.New(t)
	var mu sync.Mutex
	var batches []int
	registration.GroupCommit(t, 6, func(n int) { mu.Lock(); batches = append(batches, n); mu.Unlock() })

	_, a := env.AddResident(servertest.ResidentSpec{Age: 50})
	_, b := env.AddResident(servertest.ResidentSpec{Age: 52, Gender: idcard.Female})
	_, enrolled := env.AddResident(servertest.ResidentSpec{Age: 48, Status: "resident_pension"})
	newcomer := idAged(47, idcard.Male, 77) // not on the roster: added by the registration
	named := map[string]any{"name": "测试居民"}
	reqs := []struct {
		who  string
		body map[string]any
	}{
		{"a", body(a, named)}, {"a-again", body(a, named)}, {"b", body(b, named)},
		{"enrolled", body(enrolled, named)}, {"newcomer", body(newcomer, nil)}, {"newcomer-again", body(newcomer, nil)},
	}
	before := snapshot(env)
	codes := make(map[string]int)
	errCodes := make(map[string]string)
	var wg sync.WaitGroup
	for _, r := range reqs {
		tok, _ := env.Resident() // one account each: the distinct-ID limit is per account
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := post(env, tok, r.body)
			mu.Lock()
			codes[r.who], errCodes[r.who] = w.Code, w.ErrorCode()
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(batches) != 1 || batches[0] != 6 {
		t.Fatalf("batches committed: %v", batches)
	}
	if codes["b"] != 201 || codes["enrolled"] != 409 || errCodes["enrolled"] != "ALREADY_ENROLLED" {
		t.Fatalf("answers %v %v", codes, errCodes)
	}
	for _, pair := range [][2]string{{"a", "a-again"}, {"newcomer", "newcomer-again"}} {
		c1, c2 := codes[pair[0]], codes[pair[1]]
		if !(c1 == 201 && c2 == 409 || c1 == 409 && c2 == 201) {
			t.Fatalf("%s: %d and %d (%v)", pair[0], c1, c2, errCodes)
		}
		for _, w := range pair {
			if codes[w] == 409 && errCodes[w] != "ALREADY_REGISTERED" {
				t.Fatalf("%s: %s", w, errCodes[w])
			}
		}
	}
	after := snapshot(env)
	if after.regs-before.regs != 3 || after.audit-before.audit != 3 || after.residents-before.residents != 1 {
		t.Fatalf("stored: before %+v after %+v", before, after)
	}
	if n := env.Count(`SELECT COUNT(*) FROM resident_accounts WHERE resident_id IS NOT NULL`); n != 3 {
		t.Fatalf("accounts linked: %d", n)
	}
}
