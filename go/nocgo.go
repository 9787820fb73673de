//go:build !cgo

// The package is a binding of libmultipool's C API and needs cgo: without it (CGO_ENABLED=0,
// or no C compiler found) the build stops here, on a name that says what to do, instead of on
// every identifier of the package being undefined.

package multipool

var _ = multipool_needs_cgo__build_with_CGO_ENABLED_1
