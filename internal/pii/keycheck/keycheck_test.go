package keycheck_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/pii/keycheck"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/dbtest"
)

func key(b byte) []byte {
	k := make([]byte, 32)
	k[0] = b
	return k
}

func ring(t *testing.T, active string, keys map[string][]byte) *pii.Keyring {
	t.Helper()
	kr, err := pii.NewKeyring(active, keys, active)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func checks(t *testing.T, db *sqlx.DB) map[string]string {
	t.Helper()
	var rows []struct {
		ID string `db:"key_id"`
		V  []byte `db:"check_value"`
	}
	if err := db.Select(&rows, `SELECT key_id, check_value FROM pii_key_checks`); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r.ID] = string(r.V)
	}
	return out
}

func TestEnsureRecordsFirstUseAndRefusesAnotherKey(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	a := ring(t, "k1", map[string][]byte{"k1": key(1)})
	if err := keycheck.Ensure(ctx, db, a); err != nil {
		t.Fatal(err)
	}
	if got := checks(t, db); len(got) != 1 || got["k1"] != string(a.CheckValue("k1")) {
		t.Fatalf("recorded: %v", got)
	}
	if err := keycheck.Ensure(ctx, db, a); err != nil {
		t.Fatalf("same key again: %v", err)
	}
	b := ring(t, "k1", map[string][]byte{"k1": key(2)})
	err := keycheck.Ensure(ctx, db, b)
	var me *keycheck.MismatchError
	if !errors.As(err, &me) || !me.Active || me.KeyID != "k1" || !strings.Contains(err.Error(), "CANBAO_PII_KEY") {
		t.Fatalf("another key: %v", err)
	}
	if got := checks(t, db); len(got) != 1 || got["k1"] != string(a.CheckValue("k1")) {
		t.Fatalf("a refused key changed the record: %v", got)
	}
	if err := keycheck.Verify(ctx, db, b); !errors.As(err, &me) {
		t.Fatalf("verify another key: %v", err)
	}
	if err := keycheck.Verify(ctx, db, a); err != nil {
		t.Fatalf("verify the right key: %v", err)
	}

	// Rotation: a new active key under a new id, the old one kept for decryption.
	rotated := ring(t, "k2", map[string][]byte{"k1": key(1), "k2": key(3)})
	if err := keycheck.Ensure(ctx, db, rotated); err != nil {
		t.Fatalf("rotation: %v", err)
	}
	if got := checks(t, db); len(got) != 2 {
		t.Fatalf("after rotation: %v", got)
	}
	wrongOld := ring(t, "k2", map[string][]byte{"k1": key(9), "k2": key(3)})
	err = keycheck.Ensure(ctx, db, wrongOld)
	if !errors.As(err, &me) || me.Active || me.KeyID != "k1" || !strings.Contains(err.Error(), "CANBAO_PII_OLD_KEYS") {
		t.Fatalf("wrong old key: %v", err)
	}
}

// A database written before key checks existed has data but no check value: the first key
// to come must open that data before its check value is recorded.
func TestEnsureProbesDataWrittenBeforeKeyChecks(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	a := ring(t, "k1", map[string][]byte{"k1": key(1)})
	now := database.Now()
	if _, err := db.Exec(`INSERT INTO villages (code, name, town, sort_order, created_at) VALUES ('zhenxing','振兴村','罗东镇',1,?)`, now); err != nil {
		t.Fatal(err)
	}
	ct, kid, _ := a.Encrypt("350583198005060031", pii.AADResidentIDNumber)
	res, err := db.Exec(`INSERT INTO residents (id_number_enc, id_number_bidx, pii_key_id, name, gender, birth_date, village_code, status, source, created_at, updated_at)
		VALUES (?, ?, ?, '测试', 'female', '1980-05-06', 'zhenxing', 'unenrolled', 'seed', ?, ?)`, ct, a.BlindIndex(pii.IndexIDNumber, "350583198005060031"), kid, now, now)
	if err != nil {
		t.Fatal(err)
	}
	rowID, _ := res.LastInsertId()
	b := ring(t, "k1", map[string][]byte{"k1": key(2)})
	err = keycheck.Ensure(ctx, db, b)
	var me *keycheck.MismatchError
	if !errors.As(err, &me) || me.Table != "residents" || me.RowID != rowID || !strings.Contains(err.Error(), "CANBAO_PII_KEY") {
		t.Fatalf("another key on existing data: %v", err)
	}
	if got := checks(t, db); len(got) != 0 {
		t.Fatalf("a refused key was recorded: %v", got)
	}
	if err := keycheck.Ensure(ctx, db, a); err != nil {
		t.Fatalf("the right key: %v", err)
	}
	if got := checks(t, db); got["k1"] != string(a.CheckValue("k1")) {
		t.Fatalf("recorded: %v", got)
	}
}
