//go:build !multipool_static

package multipool

// The installed library, found through pkg-config (`make install` puts multipool.pc under
// PREFIX/lib/pkgconfig; set PKG_CONFIG_PATH if that is not a default directory, and make the
// shared library findable at run time: ldconfig, an rpath, or LD_LIBRARY_PATH).

// #cgo pkg-config: multipool
import "C"
