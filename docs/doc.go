// Package docs holds canbao's documentation (ARCHITECTURE.md, SECURITY.md, ERRORS.md,
// PERFORMANCE.md and the console's screenshots) and the tests that keep it true: nothing in
// the repository cites a document that is not in it, and every test the documents name exists.
package docs
