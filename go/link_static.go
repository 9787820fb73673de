//go:build multipool_static

package multipool

// The static archive placed inside the module, so that `go build -tags multipool_static`
// needs no installed library: `make go-static` in the repository builds it and copies it, with
// the header, into native/. The blank imports keep those directories in `go mod vendor`, which
// drops directories without Go files (golang/go#26366).

// #cgo CFLAGS: -I${SRCDIR}/native/include
// #cgo linux,amd64 LDFLAGS: ${SRCDIR}/native/linux_amd64/libmultipool.a -lpthread -ldl -lm -lrt -lutil
import "C"

import (
	_ "github.com/multipool/multipool/go/native/include"
	_ "github.com/multipool/multipool/go/native/linux_amd64"
)
