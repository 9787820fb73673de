// Package include holds multipool.h for builds with the multipool_static tag; this file only
// keeps the directory in `go mod vendor`.
package include
