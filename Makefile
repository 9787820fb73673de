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

.PHONY: all install uninstall go-static
all:
	$(CARGO) build --release --lib

# Paths between the installed directories, so that the .pc and CMake files find the rest from
# where they lie (relocatable: the installed tree can be moved).
rel = $(shell realpath -m --relative-to="$(1)" "$(2)")
SUBST = sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@MAJOR@|$(MAJOR)|g' \
	-e 's|@NATIVE_LIBS@|$(NATIVE_LIBS)|g' \
	-e 's|@CMAKE_NATIVE_LIBS@|$(subst $(space),;,$(patsubst -l%,%,$(filter-out -lpthread,$(NATIVE_LIBS))))|g' \
	-e 's|@SIZEOF_VOID_P@|$(shell expr $$(getconf LONG_BIT) / 8)|g' \
	-e 's|@PC_TO_PREFIX@|$(call rel,$(LIBDIR)/pkgconfig,$(PREFIX))|g' \
	-e 's|@CMAKE_TO_PREFIX@|$(call rel,$(CMAKEDIR),$(PREFIX))|g' \
	-e 's|@PREFIX_TO_LIBDIR@|$(call rel,$(PREFIX),$(LIBDIR))|g' \
	-e 's|@PREFIX_TO_INCLUDEDIR@|$(call rel,$(PREFIX),$(INCLUDEDIR))|g'
space := $(subst ,, )
CMAKEDIR   = $(LIBDIR)/cmake/multipool

# The shared library is installed under its full version, with the soname link
# (libmultipool.so.MAJOR, what programs load) and the development link (what -lmultipool finds).
# Installed libraries carry no debug info. The static archive is localized first: its only
# global symbols are the multipool_ functions (tools/localize-archive.sh says why).
install:
	install -d "$(DESTDIR)$(LIBDIR)/pkgconfig" "$(DESTDIR)$(INCLUDEDIR)" "$(DESTDIR)$(CMAKEDIR)"
	install -m 644 include/multipool.h include/multipool.hpp include/module.modulemap "$(DESTDIR)$(INCLUDEDIR)/"
	install -m 755 "$(BUILD_DIR)/libmultipool.so" "$(DESTDIR)$(LIBDIR)/libmultipool.so.$(VERSION)"
	strip --strip-unneeded "$(DESTDIR)$(LIBDIR)/libmultipool.so.$(VERSION)"
	ln -sf "libmultipool.so.$(VERSION)" "$(DESTDIR)$(LIBDIR)/libmultipool.so.$(MAJOR)"
	ln -sf "libmultipool.so.$(MAJOR)" "$(DESTDIR)$(LIBDIR)/libmultipool.so"
	tools/localize-archive.sh "$(BUILD_DIR)/libmultipool.a" "$(DESTDIR)$(LIBDIR)/libmultipool.a"
	chmod 644 "$(DESTDIR)$(LIBDIR)/libmultipool.a"
	$(SUBST) multipool.pc.in > "$(DESTDIR)$(LIBDIR)/pkgconfig/multipool.pc"
	$(SUBST) cmake/multipoolConfig.cmake.in > "$(DESTDIR)$(CMAKEDIR)/multipoolConfig.cmake"
	$(SUBST) cmake/multipoolConfigVersion.cmake.in > "$(DESTDIR)$(CMAKEDIR)/multipoolConfigVersion.cmake"

# The Go module's static build (go build -tags multipool_static): the localized archive and the
# header, placed inside the module (GO_DIR, default go/) where its cgo flags look for them.
GO_DIR ?= go
GOARCH_DIR := $(shell uname -s | tr A-Z a-z)_$(patsubst x86_64,amd64,$(patsubst aarch64,arm64,$(shell uname -m)))
go-static:
	@test "$(BUILD_DIR)" != target/release || $(CARGO) build --release --lib
	tools/localize-archive.sh "$(BUILD_DIR)/libmultipool.a" "$(GO_DIR)/native/$(GOARCH_DIR)/libmultipool.a"
	cp include/multipool.h "$(GO_DIR)/native/include/multipool.h"

uninstall:
	rm -f "$(DESTDIR)$(INCLUDEDIR)/multipool.h" "$(DESTDIR)$(INCLUDEDIR)/multipool.hpp" \
	      "$(DESTDIR)$(INCLUDEDIR)/module.modulemap" "$(DESTDIR)$(LIBDIR)/pkgconfig/multipool.pc" \
	      "$(DESTDIR)$(LIBDIR)/libmultipool.so" "$(DESTDIR)$(LIBDIR)/libmultipool.so.$(MAJOR)" \
	      "$(DESTDIR)$(LIBDIR)/libmultipool.so.$(VERSION)" "$(DESTDIR)$(LIBDIR)/libmultipool.a" \
	      "$(DESTDIR)$(CMAKEDIR)/multipoolConfig.cmake" "$(DESTDIR)$(CMAKEDIR)/multipoolConfigVersion.cmake"
