package importer

// The IDs already seen in the file being imported live in a temporary table of the import's
// own connection, so that duplicates are found across batches without holding every ID in
// memory. These statements are not in queries.sql: the table exists only during an import, on
// that connection, so they cannot be prepared at start-up (this file is listed in the
// builders of database's inline-SQL test for that reason). The lookup's IN list and the
// insert's tuples are widened to the batch with placeholders only.
const (
	seenDrop   = `DROP TEMPORARY TABLE IF EXISTS roster_import_seen`
	seenCreate = `CREATE TEMPORARY TABLE roster_import_seen (bidx BINARY(32) NOT NULL, row_no INT NOT NULL, PRIMARY KEY (bidx))`
	seenLookup = `SELECT bidx, row_no FROM roster_import_seen WHERE bidx IN (?)`
	// A batch retried after a rollback may find its own claims (the temporary table's engine need
	// not be transactional); they are left as they are.
	seenInsert = `INSERT INTO roster_import_seen (bidx, row_no) VALUES (?, ?) ON DUPLICATE KEY UPDATE row_no = row_no`
)
