package account_test

import (
	"testing"

	"github.com/canbao/canbao/internal/server/servertest"
)

// A resident's logout goes through internal/account (which owns resident_accounts): the
// account's token version moves on, and the token it had stops working at once.
func TestResidentLogoutRevokesTheAccountsTokens(t *testing.T) {
	env, _ := newEnv(t)
	tok, id := env.Resident()
	logout := func() int {
		return env.Do(servertest.Request{Method: "POST", Path: "/api/v1/auth/logout", Token: tok}).Code
	}
	if code := logout(); code != 204 {
		t.Fatalf("logout: %d, want 204", code)
	}
	var version int
	if err := env.DB.Get(&version, `SELECT token_version FROM resident_accounts WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	if version != 2 {
		t.Fatalf("token_version after logout = %d, want 2", version)
	}
	if code := logout(); code != 401 {
		t.Fatalf("the token after logout: %d, want 401", code)
	}
}
