package server_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/server/servertest"
)

// TestErrorCodesMatchErrs: api/openapi.yaml's ErrorCode enum is exactly the errs table (this
// package links every area, so the areas' registered codes are in it), and every code an
// operation lists under a status in x-error-codes maps to that status.
func TestErrorCodesMatchErrs(t *testing.T) {
	v := servertest.Contract(t)
	table := errs.Codes()
	schema := v.Doc().Components.Schemas["ErrorCode"]
	if schema == nil || schema.Value == nil {
		t.Fatal("api/openapi.yaml has no components.schemas.ErrorCode")
	}
	inSpec := map[errs.Code]bool{}
	for _, e := range schema.Value.Enum {
		s, ok := e.(string)
		if !ok {
			t.Fatalf("ErrorCode enum holds %T", e)
		}
		inSpec[errs.Code(s)] = true
		if _, ok := table[errs.Code(s)]; !ok {
			t.Errorf("ErrorCode lists %s, which the errs table does not have", s)
		}
	}
	for _, c := range slices.Sorted(maps.Keys(table)) {
		if !inSpec[c] {
			t.Errorf("errs code %s (%d) is missing from ErrorCode in api/openapi.yaml", c, table[c])
		}
	}
	used := map[errs.Code]bool{}
	for _, r := range v.Routes() {
		codes, err := v.ErrorCodes(r[0], r[1])
		if err != nil {
			t.Fatalf("%s %s: %v", r[0], r[1], err)
		}
		for status, list := range codes {
			for _, c := range list {
				used[errs.Code(c)] = true
				if got, ok := table[errs.Code(c)]; !ok {
					t.Errorf("%s %s: x-error-codes %d lists unknown code %s", r[0], r[1], status, c)
				} else if got != status {
					t.Errorf("%s %s: x-error-codes lists %s under %d, but errs maps it to %d", r[0], r[1], c, status, got)
				}
			}
		}
	}
	// Codes no operation lists: the two any route may answer (documented once, in
	// info.description), and one the HTTP layer never answers.
	notPerOperation := map[errs.Code]string{
		errs.Internal:       "any route, documented once",
		errs.RequestTimeout: "any route with a body, documented once",
		errs.Conflict:       "used by the roster importer's job runner only, never answered",
	}
	for c := range table {
		if !used[c] && notPerOperation[c] == "" {
			t.Errorf("errs code %s is answered by no operation in api/openapi.yaml", c)
		}
		if used[c] && notPerOperation[c] != "" {
			t.Errorf("errs code %s is listed by an operation, but is meant for none (%s)", c, notPerOperation[c])
		}
	}
}
