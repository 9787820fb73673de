# Build and install libmultipool like any C library.
#   make                                  # cargo build --release
#   make install PREFIX=/usr DESTDIR=/tmp/stage
#   make install BUILD_DIR=target/debug   # install what is already built, without cargo
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BUILD_DIR  ?= target/release
CARGO      ?= cargo
VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR      := $(firstword $(subst ., ,$(VERSION)))
# What the static library needs besides libc (rustc --print native-static-libs): one list, also
# read by examples-c/Makefile, the tests and the benches.
NATIVE_LIBS := $(shell cat native-libs)

.PHONY: all install uninstall
all:
	$(CARGO) build --release --lib

# The shared library is installed under its full version, with the soname link
# (libmultipool.so.MAJOR, what programs load) and the development link (what -lmultipool finds).
install:
	install -d "$(DESTDIR)$(LIBDIR)/pkgconfig" "$(DESTDIR)$(INCLUDEDIR)"
	install -m 644 include/multipool.h "$(DESTDIR)$(INCLUDEDIR)/multipool.h"
	install -m 755 "$(BUILD_DIR)/libmultipool.so" "$(DESTDIR)$(LIBDIR)/libmultipool.so.$(VERSION)"
	ln -sf "libmultipool.so.$(VERSION)" "$(DESTDIR)$(LIBDIR)/libmultipool.so.$(MAJOR)"
	ln -sf "libmultipool.so.$(MAJOR)" "$(DESTDIR)$(LIBDIR)/libmultipool.so"
	install -m 644 "$(BUILD_DIR)/libmultipool.a" "$(DESTDIR)$(LIBDIR)/libmultipool.a"
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' -e 's|@NATIVE_LIBS@|$(NATIVE_LIBS)|' multipool.pc.in > "$(DESTDIR)$(LIBDIR)/pkgconfig/multipool.pc"

uninstall:
	rm -f "$(DESTDIR)$(INCLUDEDIR)/multipool.h" "$(DESTDIR)$(LIBDIR)/pkgconfig/multipool.pc" \
	      "$(DESTDIR)$(LIBDIR)/libmultipool.so" "$(DESTDIR)$(LIBDIR)/libmultipool.so.$(MAJOR)" \
	      "$(DESTDIR)$(LIBDIR)/libmultipool.so.$(VERSION)" "$(DESTDIR)$(LIBDIR)/libmultipool.a"
