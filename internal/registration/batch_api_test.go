package registration_test

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/registration"
	"github.com/canbao/canbao/internal/server/servertest"
)

// answer is one registration's outcome in a batch test.
type answer struct {
	code    int
	errCode string
	id      int64
	account int64
}

// registerAll posts the bodies at once, each from an account of its own (the distinct-ID limit
// is per account), and returns the answers by name.
func registerAll(t *testing.T, env *servertest.Env, bodies map[string]map[string]any) map[string]answer {
	t.Helper()
	var mu sync.Mutex
	out := make(map[string]answer, len(bodies))
	var wg sync.WaitGroup
	for who, b := range bodies {
		tok, acct := env.Resident()
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := post(env, tok, b)
			a := answer{code: w.Code, errCode: w.ErrorCode(), account: acct}
			if w.Code == 201 {
				var r struct {
					ID int64 `json:"id"`
				}
				if err := json.Unmarshal(w.Body, &r); err != nil {
					t.Error(err)
				}
				a.id = r.ID
			}
			mu.Lock()
			out[who] = a
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

var named = map[string]any{"name": "测试居民"}

// A batch in which one person already holds this year's registration: the shared INSERT fails
// on the unique key, and each registration runs alone and gets its own answer; the refused one
// changes nothing.
func TestGroupCommitOneRefusedOthersStored(t *testing.T) {
	env := servertest.New(t)
	_, a := env.AddResident(servertest.ResidentSpec{Age: 50})
	_, b := env.AddResident(servertest.ResidentSpec{Age: 52, Gender: idcard.Female})
	_, c := env.AddResident(servertest.ResidentSpec{Age: 54})
	_, done := env.AddResident(servertest.ResidentSpec{Age: 56, Gender: idcard.Female})
	tok, _ := env.Resident()
	if w := post(env, tok, body(done, named)); w.Code != 201 {
		t.Fatalf("first registration: %d %s", w.Code, w.Body)
	}
	var batches []int
	var mu sync.Mutex
	registration.GroupCommit(t, 4, func(n int) { mu.Lock(); batches = append(batches, n); mu.Unlock() })
	before := snapshot(env)
	got := registerAll(t, env, map[string]map[string]any{
		"a": body(a, named), "b": body(b, named), "c": body(c, named), "done-again": body(done, named),
	})
	for _, who := range []string{"a", "b", "c"} {
		if got[who].code != 201 {
			t.Fatalf("%s: %+v", who, got[who])
		}
	}
	if r := got["done-again"]; r.code != 409 || r.errCode != "ALREADY_REGISTERED" {
		t.Fatalf("done-again: %+v", r)
	}
	after := snapshot(env)
	if after.regs-before.regs != 3 || after.audit-before.audit != 3 || after.residents != before.residents {
		t.Fatalf("stored: before %+v after %+v", before, after)
	}
	if n := env.Count(`SELECT COUNT(*) FROM resident_accounts WHERE id = ? AND resident_id IS NOT NULL`, got["done-again"].account); n != 0 {
		t.Fatalf("the refused registration linked its account")
	}
	if len(batches) != 0 {
		t.Fatalf("a batch with a refused registration committed together: %v", batches)
	}
}

// Two registrations of the same person in one batch: one is stored, the other refused, and
// the rest of the batch shares one transaction.
func TestGroupCommitSamePersonTwiceInABatch(t *testing.T) {
	env := servertest.New(t)
	_, a := env.AddResident(servertest.ResidentSpec{Age: 50})
	_, b := env.AddResident(servertest.ResidentSpec{Age: 52, Gender: idcard.Female})
	_, c := env.AddResident(servertest.ResidentSpec{Age: 54})
	var batches []int
	var mu sync.Mutex
	registration.GroupCommit(t, 4, func(n int) { mu.Lock(); batches = append(batches, n); mu.Unlock() })
	before := snapshot(env)
	got := registerAll(t, env, map[string]map[string]any{
		"a": body(a, named), "a-again": body(a, named), "b": body(b, named), "c": body(c, named),
	})
	if got["b"].code != 201 || got["c"].code != 201 {
		t.Fatalf("answers %+v", got)
	}
	x, y := got["a"], got["a-again"]
	if !(x.code == 201 && y.code == 409 && y.errCode == "ALREADY_REGISTERED" ||
		y.code == 201 && x.code == 409 && x.errCode == "ALREADY_REGISTERED") {
		t.Fatalf("same person twice: %+v / %+v", x, y)
	}
	after := snapshot(env)
	if after.regs-before.regs != 3 || after.audit-before.audit != 3 {
		t.Fatalf("stored: before %+v after %+v", before, after)
	}
	if len(batches) != 1 || batches[0] != 3 {
		t.Fatalf("batches committed together: %v", batches)
	}
}

// After the 201s of a batch, every registration has its audit row and its account its person.
func TestGroupCommitAuditAndAccountLinks(t *testing.T) {
	env := servertest.New(t)
	bodies := map[string]map[string]any{}
	people := map[string]int64{}
	for i, who := range []string{"a", "b", "c", "d", "e"} {
		id, number := env.AddResident(servertest.ResidentSpec{Age: 45 + i})
		bodies[who], people[who] = body(number, named), id
	}
	var batches []int
	var mu sync.Mutex
	registration.GroupCommit(t, 5, func(n int) { mu.Lock(); batches = append(batches, n); mu.Unlock() })
	got := registerAll(t, env, bodies)
	if len(batches) != 1 || batches[0] != 5 {
		t.Fatalf("batches committed together: %v", batches)
	}
	for who, r := range got {
		if r.code != 201 {
			t.Fatalf("%s: %+v", who, r)
		}
		if n := env.Count(`SELECT COUNT(*) FROM registrations WHERE id = ? AND resident_id = ? AND account_id = ? AND status = 'submitted'`,
			r.id, people[who], r.account); n != 1 {
			t.Fatalf("%s: registration %d not stored as answered", who, r.id)
		}
		if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'registration.create' AND object_type = 'registration' AND object_id = ? AND actor_id = ?`,
			r.id, r.account); n != 1 {
			t.Fatalf("%s: %d audit rows for registration %d", who, n, r.id)
		}
		if n := env.Count(`SELECT COUNT(*) FROM resident_accounts WHERE id = ? AND resident_id = ?`, r.account, people[who]); n != 1 {
			t.Fatalf("%s: account %d not linked to person %d", who, r.account, people[who])
		}
	}
}

// Many concurrent registrations (batched as they come): each stored exactly once, as many rows
// as 201s.
func TestGroupCommitConcurrentRegistrations(t *testing.T) {
	env := servertest.New(t)
	bodies := map[string]map[string]any{}
	for i := range 50 {
		_, number := env.AddResident(servertest.ResidentSpec{Age: 20 + i%40})
		bodies[number] = body(number, named)
	}
	before := snapshot(env)
	got := registerAll(t, env, bodies)
	created := 0
	for who, r := range got {
		if r.code != 201 {
			t.Fatalf("%s: %+v", who[:6], r)
		}
		created++
	}
	after := snapshot(env)
	if after.regs-before.regs != created || after.audit-before.audit != created || created != 50 {
		t.Fatalf("201s %d, stored: before %+v after %+v", created, before, after)
	}
	if n := env.Count(`SELECT COUNT(DISTINCT resident_id) FROM registrations`); n != 50 {
		t.Fatalf("people registered: %d", n)
	}
}
