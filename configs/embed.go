// Package configs embeds the default configuration and the yearly policy data, so the binary
// runs anywhere; files on disk and the environment override them.
package configs

import "embed"

// Default is configs/canbao.yaml as shipped.
//
//go:embed canbao.yaml
var Default []byte

// Policy holds policy/<year>.yaml: contribution tiers, subsidies and the guidance rule's bounds.
//
//go:embed policy/*.yaml
var Policy embed.FS
