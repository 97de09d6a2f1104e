package employer

// SetExportLimits lowers the export's limits for a test and returns the restore.
func SetExportLimits(cases, rows int) func() {
	c, r := maxExportCases, maxExportRows
	maxExportCases, maxExportRows = cases, rows
	return func() { maxExportCases, maxExportRows = c, r }
}
