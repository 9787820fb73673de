// Package linux_amd64 holds libmultipool.a for linux/amd64 builds with the multipool_static tag;
// this file only keeps the directory in `go mod vendor`.
package linux_amd64
