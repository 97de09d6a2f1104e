package roster

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"
)

// An import writes residents in bulk through a staging table: the importer validates and
// seals a chunk of rows in Go, the roster loads them with LOAD DATA LOCAL INFILE (from a Go
// reader, no file) into roster_import_stage, a TEMPORARY table of the import's own pinned
// connection, and then finds the people already on the roster with one join (in blind-index
// order, the staging table's key) and adds the new ones with one INSERT … SELECT. The statements name a table that
// exists only on that connection, so they cannot be prepared at start-up: they live here (a
// builder of database's inline-SQL test), not in queries.sql. Only the reader's name, chosen
// here, is put into a statement.
const (
	stageDrop   = `DROP TEMPORARY TABLE IF EXISTS roster_import_stage`
	stageCreate = `CREATE TEMPORARY TABLE roster_import_stage (
    id_number_bidx    BINARY(32)    NOT NULL,
    row_no            INT           NOT NULL,
    id_number_enc     VARBINARY(96) NOT NULL,
    phone_enc         VARBINARY(96) NULL,
    phone_bidx        BINARY(32)    NULL,
    pii_key_id        VARCHAR(16)   NOT NULL,
    name              VARCHAR(64)   NOT NULL,
    gender            VARCHAR(8)    NOT NULL,
    birth_date        DATE          NOT NULL,
    village_code      VARCHAR(32)   NOT NULL,
    employed          TINYINT(1)    NULL,
    land_expropriated TINYINT(1)    NULL,
    status            VARCHAR(24)   NOT NULL,
    employer_name     VARCHAR(128)  NULL,
    employer_credit_code CHAR(18)   NULL,
    PRIMARY KEY (id_number_bidx)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`
	stageTruncate = `TRUNCATE TABLE roster_import_stage`
	// %s is the reader's name (stageReaderName).
	stageLoad = `LOAD DATA LOCAL INFILE 'Reader::%s' INTO TABLE roster_import_stage CHARACTER SET utf8mb4
FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n'
(@bidx, row_no, @id_enc, @phone_enc, @phone_bidx, pii_key_id, name, gender, birth_date, village_code,
 employed, land_expropriated, status, employer_name, employer_credit_code)
SET id_number_bidx = UNHEX(@bidx), id_number_enc = UNHEX(@id_enc), phone_enc = UNHEX(@phone_enc),
    phone_bidx = UNHEX(@phone_bidx)`
	// The people of the chunk already on the roster, locked until the chunk commits (the
	// lookups of the others lock the gaps they would go into, so no one adds them meanwhile).
	stageExisting = `SELECT s.row_no, r.id, r.name, r.village_code, r.employed, r.land_expropriated, r.status,
       r.status_changed_on, r.phone_bidx, r.employer_name, r.employer_credit_code
FROM roster_import_stage s JOIN residents r ON r.id_number_bidx = s.id_number_bidx
ORDER BY s.id_number_bidx FOR UPDATE`
	// stageInsert adds staged people to residents, in the file's order, so that their ids (the
	// roster list's order) follow the file as they did when rows were inserted batch by batch.
	stageInsert = `INSERT INTO residents (id_number_enc, id_number_bidx, phone_enc, phone_bidx, pii_key_id, name, gender,
    birth_date, village_code, employed, land_expropriated, status, source, created_at, updated_at,
    employer_name, employer_credit_code)
SELECT s.id_number_enc, s.id_number_bidx, s.phone_enc, s.phone_bidx, s.pii_key_id, s.name, s.gender, s.birth_date,
       s.village_code, COALESCE(s.employed, 0), COALESCE(s.land_expropriated, 0), s.status, 'import', ?, ?,
       s.employer_name, s.employer_credit_code
FROM roster_import_stage s`
	// Every staged person is new (the lookup found none, and locked the gaps): all of them,
	// straight from the staging table.
	stageInsertAll = stageInsert + `
ORDER BY s.row_no`
	// Some are on the roster: the others; the target is read in the SELECT too, so the server
	// materialises the new rows first.
	stageInsertNew = stageInsert + ` LEFT JOIN residents r ON r.id_number_bidx = s.id_number_bidx
WHERE r.id IS NULL
ORDER BY s.row_no`
)

// Staged is one valid row of an import, sealed, as it goes into the staging table.
type Staged struct {
	Row           int
	IDEnc, IDBidx []byte
	// PhoneEnc and PhoneBidx are nil when the row gives no phone (a new person gets NULL, a
	// person on the roster keeps theirs).
	PhoneEnc, PhoneBidx []byte
	KeyID               string
	Name, Gender        string
	Birth               time.Time
	Village             string
	// Employed and Land are nil when the row does not say: false for a new person, kept for
	// a person on the roster.
	Employed, Land *bool
	Status         string
	// EmployerName and EmployerCode are nil when the row does not give them: NULL for a new
	// person, kept for a person on the roster. The importer has validated the code.
	EmployerName, EmployerCode *string
}

// StageData is a chunk of staged rows encoded for LOAD DATA (tab-separated, binary as hex).
// The rows must have distinct blind indexes; they are loaded in the order given, best sorted
// by blind index (the table's key).
type StageData struct {
	buf  []byte
	rows int
}

// Rows is the number of rows encoded.
func (d StageData) Rows() int { return d.rows }

// EncodeStage encodes rows for Stage.Load. It needs no connection: the importer encodes the
// next chunk while the previous one is written.
func EncodeStage(rows []Staged) StageData {
	var b bytes.Buffer
	b.Grow(len(rows) * 480)
	var scratch [512]byte
	hexField := func(v []byte) {
		switch {
		case v == nil:
			b.WriteString(`\N`)
		case len(v) <= len(scratch)/2:
			b.Write(scratch[:hex.Encode(scratch[:], v)])
		default:
			b.WriteString(hex.EncodeToString(v))
		}
		b.WriteByte('\t')
	}
	text := func(s string) {
		if strings.ContainsAny(s, "\\\t\n\r\x00") {
			s = stageEscaper.Replace(s)
		}
		b.WriteString(s)
		b.WriteByte('\t')
	}
	optText := func(s *string) {
		if s == nil {
			b.WriteString(`\N`)
			b.WriteByte('\t')
			return
		}
		text(*s)
	}
	flag := func(v *bool) {
		switch {
		case v == nil:
			b.WriteString(`\N`)
		case *v:
			b.WriteByte('1')
		default:
			b.WriteByte('0')
		}
		b.WriteByte('\t')
	}
	for _, r := range rows {
		hexField(r.IDBidx)
		b.WriteString(strconv.Itoa(r.Row))
		b.WriteByte('\t')
		hexField(r.IDEnc)
		hexField(r.PhoneEnc)
		hexField(r.PhoneBidx)
		text(r.KeyID)
		text(r.Name)
		text(r.Gender)
		text(r.Birth.Format(time.DateOnly))
		text(r.Village)
		flag(r.Employed)
		flag(r.Land)
		text(r.Status)
		optText(r.EmployerName)
		if r.EmployerCode == nil {
			b.WriteString(`\N`)
		} else {
			b.WriteString(stageEscaper.Replace(*r.EmployerCode))
		}
		b.WriteByte('\n')
	}
	return StageData{buf: b.Bytes(), rows: len(rows)}
}

// stageEscaper escapes what LOAD DATA's default ESCAPED BY '\\' would read as syntax.
var stageEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`, "\x00", `\0`)

// Stage is an import's staging table on the import's own connection.
type Stage struct {
	conn *sqlx.Conn
}

// OpenStage creates the staging table on conn, a connection the import holds until it ends.
// The server must allow LOAD DATA LOCAL INFILE (local_infile = ON, MariaDB's default).
func OpenStage(ctx context.Context, conn *sqlx.Conn) (*Stage, error) {
	if _, err := conn.ExecContext(ctx, stageDrop); err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, stageCreate); err != nil {
		return nil, err
	}
	return &Stage{conn: conn}, nil
}

// Close drops the staging table; on failure the connection is marked broken, so the pool
// discards it with the table.
func (s *Stage) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.conn.ExecContext(ctx, stageDrop); err != nil {
		_ = s.conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}

var readerSeq atomic.Int64

// Load empties the staging table and loads a chunk into it, outside any transaction (a
// retried chunk reuses what was loaded).
func (s *Stage) Load(ctx context.Context, d StageData) error {
	if _, err := s.conn.ExecContext(ctx, stageTruncate); err != nil {
		return err
	}
	if d.rows == 0 {
		return nil
	}
	name := fmt.Sprintf("canbao-import-stage-%d", readerSeq.Add(1))
	mysql.RegisterReaderHandler(name, func() io.Reader { return bytes.NewReader(d.buf) })
	defer mysql.DeregisterReaderHandler(name)
	res, err := s.conn.ExecContext(ctx, fmt.Sprintf(stageLoad, name))
	if err != nil {
		return fmt.Errorf("roster: load the import's staging table: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || int(n) != d.rows {
		return fmt.Errorf("roster: the import's staging table took %d of %d rows (%v)", n, d.rows, err)
	}
	return nil
}

// OnRoster is a person of the staged chunk already on the roster.
type OnRoster struct {
	Row             int            `db:"row_no"`
	ID              int64          `db:"id"`
	Name            string         `db:"name"`
	Village         string         `db:"village_code"`
	Employed        bool           `db:"employed"`
	Land            bool           `db:"land_expropriated"`
	Status          string         `db:"status"`
	StatusChangedOn sql.NullTime   `db:"status_changed_on"`
	PhoneBidx       []byte         `db:"phone_bidx"`
	EmployerName    sql.NullString `db:"employer_name"`
	EmployerCode    sql.NullString `db:"employer_credit_code"`
}

// Existing returns the staged people already on the roster, locked in tx (a transaction on
// the stage's connection) until it ends.
func (s *Stage) Existing(ctx context.Context, tx *sqlx.Tx) ([]OnRoster, error) {
	var out []OnRoster
	err := tx.SelectContext(ctx, &out, stageExisting)
	return out, err
}

// InsertNew adds the staged people not on the roster, in tx, and returns how many. onRoster
// is how many of them Existing found in the same transaction (0: all are new).
func (s *Stage) InsertNew(ctx context.Context, tx *sqlx.Tx, onRoster int, now time.Time) (int, error) {
	q := stageInsertNew
	if onRoster == 0 {
		q = stageInsertAll
	}
	res, err := tx.ExecContext(ctx, q, now, now)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
