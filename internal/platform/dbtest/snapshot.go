package dbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/platform/database"
)

// migrated is the schema of the process's first migrated database, once there is one.
var migrated atomic.Pointer[snapshot]

// snapshot is a migrated database: its tables' CREATE statements and the rows in them.
type snapshot struct {
	creates []string
	rows    []tableRows
}

type tableRows struct {
	table   string
	columns []string
	values  [][]any
}

// takeSnapshot reads a freshly migrated database. Anything a CREATE TABLE would not carry
// over (views, triggers, routines, events) is refused rather than silently lost.
func takeSnapshot(ctx context.Context, db *sqlx.DB) (*snapshot, error) {
	var others int
	if err := db.GetContext(ctx, &others, `SELECT
		(SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE <> 'BASE TABLE') +
		(SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()) +
		(SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()) +
		(SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE())`); err != nil {
		return nil, err
	}
	if others != 0 {
		return nil, errors.New("the migrations made views, triggers, routines or events: copy them too, or migrate each database")
	}
	var tables []string
	if err := db.SelectContext(ctx, &tables, `SELECT TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME`); err != nil {
		return nil, err
	}
	s := &snapshot{}
	for _, name := range tables {
		var create struct {
			Table  string `db:"Table"`
			Create string `db:"Create Table"`
		}
		if err := db.QueryRowxContext(ctx, "SHOW CREATE TABLE `"+name+"`").StructScan(&create); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		s.creates = append(s.creates, create.Create)
		rows, err := readRows(ctx, db, name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(rows.values) > 0 {
			s.rows = append(s.rows, rows)
		}
	}
	return s, nil
}

func readRows(ctx context.Context, db *sqlx.DB, table string) (tableRows, error) {
	out := tableRows{table: table}
	rows, err := db.QueryContext(ctx, "SELECT * FROM `"+table+"`")
	if err != nil {
		return out, err
	}
	defer rows.Close()
	if out.columns, err = rows.Columns(); err != nil {
		return out, err
	}
	for rows.Next() {
		vals := make([]any, len(out.columns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return out, err
		}
		out.values = append(out.values, vals)
	}
	return out, rows.Err()
}

// apply makes the snapshot's tables and rows in the (empty) database of dsn, on a connection
// of its own: foreign key checks are off there so that the tables can come in any order.
func (s *snapshot) apply(ctx context.Context, dsn string) error {
	cfg, err := database.Config(dsn)
	if err != nil {
		return err
	}
	cfg.MultiStatements = true
	cfg.Params["foreign_key_checks"] = "0"
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, strings.Join(s.creates, ";\n")); err != nil {
		return err
	}
	for _, r := range s.rows {
		cols := make([]string, len(r.columns))
		for i, c := range r.columns {
			cols[i] = "`" + c + "`"
		}
		marks := strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",")
		q := "INSERT INTO `" + r.table + "` (" + strings.Join(cols, ",") + ") VALUES (" + marks + ")"
		for _, v := range r.values {
			if _, err := db.ExecContext(ctx, q, v...); err != nil {
				return fmt.Errorf("%s: %w", r.table, err)
			}
		}
	}
	return nil
}
