package campaigns

import (
	"testing"

	"github.com/canbao/canbao/internal/platform/database"
)

// TestWidenedQueriesHaveOneMarker: the queries widened at run time keep exactly one marker, in
// the statement and not in a comment (ExpandIn and withSegment panic otherwise, at the first
// cancel, retry or snapshot rather than at start-up).
func TestWidenedQueriesHaveOneMarker(t *testing.T) {
	for _, name := range []string{"deliveries-enqueued", "deliveries-requeue-failed"} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: %v", name, p)
				}
			}()
			database.ExpandIn(Queries.Get(name), 2)
		}()
	}
	for _, name := range []string{"campaign-preview", "run-snapshot-deliveries"} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: %v", name, p)
				}
			}()
			withSegment(Queries.Get(name), "r.opted_out = 0")
		}()
	}
}
