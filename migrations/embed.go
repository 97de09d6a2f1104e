// Package migrations holds canbao's schema as numbered, plain-SQL goose migrations, embedded in
// the binary and applied by `canbao migrate`. A landed migration is never edited: add a new one.
//
// The SQL is portable across MariaDB 10.11+, MySQL 8 and TiDB: utf8mb4, DATETIME(6) in UTC,
// no MariaDB-only syntax, partial uniqueness through nullable "slot" columns the code maintains.
package migrations

import "embed"

// FS holds the *.sql files.
//
//go:embed *.sql
var FS embed.FS
