// Package web holds the staff web console: a Vue single-page app whose sources live in this
// folder (package.json, src/) and whose build output, dist/, is committed and embedded so that
// `go build` never needs Node. `make web` rebuilds dist/; `make web-check` proves that the
// committed dist/ is what the sources build to.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// DistFS is the built console: index.html at its root, hashed files under assets/.
var DistFS = mustSub(dist, "dist")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
