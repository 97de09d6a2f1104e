// Package api holds the HTTP contract of canbao.
package api

import _ "embed"

// OpenAPI is api/openapi.yaml, the machine-readable contract with the
// mini-program and the web console (OpenAPI 3.0.3).
//
//go:embed openapi.yaml
var OpenAPI []byte
