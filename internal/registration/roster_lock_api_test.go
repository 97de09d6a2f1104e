package registration_test

import (
	"context"
	"testing"
	"time"

	"github.com/canbao/canbao/internal/server/servertest"
)

// A registration of a person on the roster reads the roster row without locking it: a reader
// holding the row in share mode (a campaign snapshot's INSERT … SELECT, another table's foreign
// key check) does not make the resident wait. The unique key (year, active_resident_id) is what
// refuses a second registration, not a lock on the person.
func TestRegistrationDoesNotWaitForASharedRosterRow(t *testing.T) {
	env := servertest.New(t)
	tok, _ := env.Resident()
	rid, number := env.AddResident(servertest.ResidentSpec{Name: "陈美玲"})

	ctx := context.Background()
	holder, err := env.DB.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	var got int64
	if err := holder.GetContext(ctx, &got, `SELECT id FROM residents WHERE id = ? LOCK IN SHARE MODE`, rid); err != nil {
		t.Fatal(err)
	}

	done := make(chan *servertest.Response, 1)
	go func() { done <- post(env, tok, body(number, nil)) }()
	select {
	case w := <-done:
		if w.Code != 201 {
			t.Fatalf("register: %d %s", w.Code, w.Body)
		}
	case <-time.After(10 * time.Second): // a guard, not a timing: the registration waits for the lock until it is released
		_ = holder.Rollback()
		<-done
		t.Fatal("the registration waited for the share-mode lock on the person's roster row")
	}
	if n := env.Count(`SELECT COUNT(*) FROM registrations WHERE resident_id = ?`, rid); n != 1 {
		t.Fatalf("registrations of the person: %d", n)
	}
}
