# Build and install libmultipool like any C library.
#   make                                  # cargo build --release, then mphash
#   make install PREFIX=/usr DESTDIR=/tmp/stage
#   make install BUILD_DIR=target/debug   # install what is already built, without cargo
#   make uninstall PREFIX=/usr DESTDIR=/tmp/stage
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
BUILD_DIR  ?= target/release
CARGO      ?= cargo
CC         ?= cc
VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR      := $(firstword $(subst ., ,$(VERSION)))
# What the static library needs besides libc (rustc --print native-static-libs): one list, also
# read by examples-c/Makefile, the tests and the benches.
NATIVE_LIBS := $(shell cat native-libs)

.PHONY: all lib install uninstall go-static
all: lib $(BUILD_DIR)/mphash

# The release build is cargo's to bring up to date; another BUILD_DIR (a test's debug build)
# must already hold the library: install never builds with other flags than it was given.
lib:
ifeq ($(BUILD_DIR),target/release)
	$(CARGO) build --release --lib
else
	@test -f "$(BUILD_DIR)/libmultipool.so" -a -f "$(BUILD_DIR)/libmultipool.a" || \
	  { echo "make: $(BUILD_DIR) holds no libmultipool.so and .a: build them first" >&2; exit 1; }
endif

# mphash, linked against the static archive of BUILD_DIR (it needs no installed library).
# Linked under a name of its own and renamed into place: several installs may share a
# BUILD_DIR at once (the tests do), and none may install a binary another is still writing.
$(BUILD_DIR)/mphash: examples-c/mphash.c include/multipool.h lib
	$(CC) -std=c99 -O2 -Wall -Wextra -Iinclude -o $@.$$$$.tmp examples-c/mphash.c \
	  "$(BUILD_DIR)/libmultipool.a" $(NATIVE_LIBS) && mv -f $@.$$$$.tmp $@

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
#
# Everything is built before anything is installed, so that a failed build leaves no partial
# prefix. The shared library keeps its symbol table (only debug info is stripped): valgrind,
# perf and gdb then name its functions, and the suppression file installed under
# share/multipool/ can match the one allocation valgrind cannot follow (see that file).
install: all
	install -d "$(DESTDIR)$(LIBDIR)/pkgconfig" "$(DESTDIR)$(INCLUDEDIR)" "$(DESTDIR)$(CMAKEDIR)" \
	  "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(MANDIR)/man1" "$(DESTDIR)$(DATADIR)/multipool"
	install -m 755 "$(BUILD_DIR)/mphash" "$(DESTDIR)$(BINDIR)/mphash"
	strip --strip-debug "$(DESTDIR)$(BINDIR)/mphash"
	install -m 644 docs/mphash.1 "$(DESTDIR)$(MANDIR)/man1/mphash.1"
	install -m 644 tests/valgrind.supp "$(DESTDIR)$(DATADIR)/multipool/valgrind.supp"
	install -m 644 include/multipool.h include/multipool.hpp include/module.modulemap "$(DESTDIR)$(INCLUDEDIR)/"
	install -m 755 "$(BUILD_DIR)/libmultipool.so" "$(DESTDIR)$(LIBDIR)/libmultipool.so.$(VERSION)"
	strip --strip-debug "$(DESTDIR)$(LIBDIR)/libmultipool.so.$(VERSION)"
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

# Removes every file install put there, then every directory it may have made that is now
# empty (deepest first), up to the prefix itself.
INSTALLED_DIRS = $(CMAKEDIR) $(LIBDIR)/cmake $(LIBDIR)/pkgconfig $(LIBDIR) $(INCLUDEDIR) \
	$(BINDIR) $(MANDIR)/man1 $(MANDIR) $(DATADIR)/multipool $(DATADIR) $(PREFIX)
uninstall:
	rm -f "$(DESTDIR)$(INCLUDEDIR)/multipool.h" "$(DESTDIR)$(INCLUDEDIR)/multipool.hpp" \
	      "$(DESTDIR)$(INCLUDEDIR)/module.modulemap" "$(DESTDIR)$(LIBDIR)/pkgconfig/multipool.pc" \
	      "$(DESTDIR)$(LIBDIR)/libmultipool.so" "$(DESTDIR)$(LIBDIR)/libmultipool.so.$(MAJOR)" \
	      "$(DESTDIR)$(LIBDIR)/libmultipool.so.$(VERSION)" "$(DESTDIR)$(LIBDIR)/libmultipool.a" \
	      "$(DESTDIR)$(CMAKEDIR)/multipoolConfig.cmake" "$(DESTDIR)$(CMAKEDIR)/multipoolConfigVersion.cmake" \
	      "$(DESTDIR)$(BINDIR)/mphash" "$(DESTDIR)$(MANDIR)/man1/mphash.1" \
	      "$(DESTDIR)$(DATADIR)/multipool/valgrind.supp"
	for dir in $(INSTALLED_DIRS); do \
	  if [ -d "$(DESTDIR)$$dir" ]; then rmdir --ignore-fail-on-non-empty "$(DESTDIR)$$dir"; fi; \
	done
