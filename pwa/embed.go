// Package pwa holds the progressive web app's static files, embedded in the
// server binary.
package pwa

import (
	"embed"
	"io/fs"
)

//go:embed index.html manifest.webmanifest sw.js js css i18n icons
var files embed.FS

// FS returns the app's files.
func FS() fs.FS { return files }
