package api_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	kyaml "github.com/knadh/koanf/parsers/yaml"

	"github.com/canbao/canbao/api"
)

// TestOpenAPIValid loads the embedded contract and validates it as OpenAPI 3.0.
func TestOpenAPIValid(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatalf("load api/openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate api/openapi.yaml: %v", err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
}

// TestNullableHasAType: OpenAPI 3.0.3 reads `nullable: true` only beside a `type` in the same
// schema, and a subschema (`allOf`, `$ref`) still refuses null on its own; strict validators
// then reject the null the server sends. Every nullable schema states its type and carries no
// subschema.
func TestNullableHasAType(t *testing.T) {
	doc, err := kyaml.Parser().Unmarshal(api.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(n any, at string)
	walk = func(n any, at string) {
		switch v := n.(type) {
		case map[string]any:
			if v["nullable"] == true {
				if _, ok := v["type"]; !ok {
					t.Errorf("%s: nullable without a type", at)
				}
				for _, k := range []string{"allOf", "oneOf", "anyOf", "$ref"} {
					if _, ok := v[k]; ok {
						t.Errorf("%s: nullable beside %s (the subschema refuses null)", at, k)
					}
				}
			}
			for k, c := range v {
				walk(c, at+"/"+k)
			}
		case []any:
			for i, c := range v {
				walk(c, fmt.Sprintf("%s/%d", at, i))
			}
		}
	}
	walk(doc, "#")
}
