package importer_test

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/xuri/excelize/v2"

	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/importer"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/dbtest"
	"github.com/canbao/canbao/internal/platform/logging"
	"github.com/canbao/canbao/internal/platform/web"
	"github.com/canbao/canbao/internal/server/servertest"
)

var shanghai = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return l
}()

// today is the import date as the importer sees it.
func today() string { return web.Today(time.Now(), shanghai).Format(time.DateOnly) }

// idAged is a valid synthetic ID number of someone aged years (and 10 days) today.
func idAged(years int, g idcard.Gender, seq int) string {
	y, m, d := time.Now().In(shanghai).Date()
	birth := time.Date(y-years, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -10)
	return idcard.Generate("350583", birth, seq, g)
}

// badChecksum changes the check character of a valid number.
func badChecksum(id string) string {
	last := id[17]
	repl := byte('0')
	if last == '0' {
		repl = '1'
	}
	return id[:17] + string(repl)
}

// storeEnv is an importer on a database of its own with the two test villages.
type storeEnv struct {
	t    *testing.T
	db   *sqlx.DB
	kr   *pii.Keyring
	im   *importer.Importer
	logs *servertest.SafeBuffer
	dir  string
}

func newStore(t *testing.T) *storeEnv {
	t.Helper()
	db := dbtest.New(t)
	now := database.Now()
	if _, err := db.Exec(`INSERT INTO villages (code,name,town,sort_order,created_at) VALUES
		('zhenxing','振兴村','罗东镇',1,?),('luoxi','罗溪村','罗东镇',2,?)`, now, now); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	kr, err := pii.NewKeyring("k1", map[string][]byte{"k1": key}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	logs := &servertest.SafeBuffer{}
	im := importer.New(db, kr, shanghai, enrollment.New(shanghai, 30), logging.New(logs, slog.LevelDebug))
	t.Cleanup(func() {
		if pii.ContainsPII(logs.String()) {
			t.Errorf("the logs contain an ID number or phone:\n%s", logs.String())
		}
	})
	return &storeEnv{t: t, db: db, kr: kr, im: im, logs: logs, dir: t.TempDir()}
}

// file writes content to a file of the test's own.
func (e *storeEnv) file(name string, content []byte) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, content, 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *storeEnv) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.Get(&n, q, args...); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// resident is a roster row with its personal data decrypted.
type resident struct {
	ID               int64
	IDNumber, Phone  string
	Name, Gender     string
	Birth            string
	Village, Status  string
	Employed, Land   bool
	Source           string
	StatusChangedOn  string
	UpdatedAt        time.Time
	PhoneBidxMatches bool
}

// residents reads the roster by ID number.
func (e *storeEnv) residents() map[string]resident {
	e.t.Helper()
	var rows []struct {
		ID              int64        `db:"id"`
		IDEnc           []byte       `db:"id_number_enc"`
		IDBidx          []byte       `db:"id_number_bidx"`
		PhoneEnc        []byte       `db:"phone_enc"`
		PhoneBidx       []byte       `db:"phone_bidx"`
		KeyID           string       `db:"pii_key_id"`
		Name            string       `db:"name"`
		Gender          string       `db:"gender"`
		Birth           time.Time    `db:"birth_date"`
		Village         string       `db:"village_code"`
		Employed        bool         `db:"employed"`
		Land            bool         `db:"land_expropriated"`
		Status          string       `db:"status"`
		Source          string       `db:"source"`
		StatusChangedOn sql.NullTime `db:"status_changed_on"`
		UpdatedAt       time.Time    `db:"updated_at"`
	}
	if err := e.db.Select(&rows, `SELECT id, id_number_enc, id_number_bidx, phone_enc, phone_bidx, pii_key_id, name, gender,
		birth_date, village_code, employed, land_expropriated, status, source, status_changed_on, updated_at FROM residents`); err != nil {
		e.t.Fatal(err)
	}
	out := map[string]resident{}
	for _, r := range rows {
		id, err := e.kr.Decrypt(r.IDEnc, r.KeyID, pii.AADResidentIDNumber)
		if err != nil {
			e.t.Fatal(err)
		}
		if !bytes.Equal(r.IDBidx, e.kr.BlindIndex(pii.IndexIDNumber, id)) {
			e.t.Errorf("resident %d: blind index does not match the ID number", r.ID)
		}
		res := resident{ID: r.ID, IDNumber: id, Name: r.Name, Gender: r.Gender, Birth: r.Birth.Format(time.DateOnly),
			Village: r.Village, Status: r.Status, Employed: r.Employed, Land: r.Land, Source: r.Source, UpdatedAt: r.UpdatedAt,
			PhoneBidxMatches: r.PhoneEnc == nil && r.PhoneBidx == nil}
		if r.PhoneEnc != nil {
			if res.Phone, err = e.kr.Decrypt(r.PhoneEnc, r.KeyID, pii.AADResidentPhone); err != nil {
				e.t.Fatal(err)
			}
			res.PhoneBidxMatches = bytes.Equal(r.PhoneBidx, e.kr.BlindIndex(pii.IndexPhone, res.Phone))
		}
		if r.StatusChangedOn.Valid {
			res.StatusChangedOn = r.StatusChangedOn.Time.Format(time.DateOnly)
		}
		out[id] = res
	}
	return out
}

// csvOf joins rows into CSV text (cells are simple: no quoting needed).
func csvOf(rows [][]string) []byte {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strings.Join(r, ","))
		b.WriteString("\n")
	}
	return []byte(b.String())
}

// xlsxOf writes rows to the first sheet of a workbook, every cell as text.
func xlsxOf(t testing.TB, rows [][]string) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, r := range rows {
		cells := make([]any, len(r))
		for j, c := range r {
			cells[j] = c
		}
		if len(r) == 0 {
			continue
		}
		if err := f.SetSheetRow("Sheet1", fmt.Sprintf("A%d", i+1), &cells); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// errorPairs reduces row errors to "row:field".
func errorPairs(errs []importer.RowError) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = fmt.Sprintf("%d:%s", e.Row, e.Field)
	}
	return out
}
