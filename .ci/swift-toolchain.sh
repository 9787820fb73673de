#!/usr/bin/env bash
# The Swift toolchain of the Swift package's tests and benchmark, on a Debian 12 machine, which
# has no Swift: Debian 13 ("trixie") with its swiftlang package, in a chroot of its own. The
# host's root is never touched (trixie's packages would replace its C library).
#
#   .ci/swift-toolchain.sh prepare
#       Installs the chroot where it is missing (debootstrap from the host's Debian mirror, then
#       apt-get install swiftlang libc6-dev pkg-config git: about a minute and 2.8 GB) and
#       reuses it where present. Built under ROOT.partial and renamed into place when complete,
#       so an interrupted run leaves nothing that a later one would take for a toolchain.
#       Needs root and the Debian mirror; exits 3 with the reason when it cannot.
#   .ci/swift-toolchain.sh run [-b DIR]... [-C DIR] [-e NAME=VALUE]... [-P] -- COMMAND [ARG]...
#       Runs COMMAND in the chroot, in a mount namespace of its own (unshare -m): /proc, /dev,
#       /sys and a fresh /tmp are mounted there, and each DIR is bound at its own path, so that
#       paths mean the same inside and out. The mounts end with the command, however it ends. -C is
#       the working directory (default: the current one, which must be bound), -e passes a
#       variable (the environment is otherwise a clean one), -P drops the capabilities that let
#       root bypass file permissions (so that a file with mode 000 is unreadable, as for any
#       other user).
#
# ROOT is $MULTIPOOL_SWIFT_ROOT, default /var/lib/multipool/swift-trixie.
set -euo pipefail

root=${MULTIPOOL_SWIFT_ROOT:-/var/lib/multipool/swift-trixie}
suite=trixie
packages=(swiftlang libc6-dev pkg-config git)
# What a complete toolchain holds; written last, read to tell a complete one from a partial one.
stamp_text="multipool swift toolchain: $suite ${packages[*]}"
stamp=.multipool-toolchain

cannot() {
  echo "swift-toolchain: cannot prepare the Swift toolchain: $*" >&2
  exit 3
}

ready() {
  [ -f "$root/$stamp" ] && [ "$(cat "$root/$stamp")" = "$stamp_text" ]
}

# The host's Debian mirror, from its apt sources (deb822 or one-line form).
mirror() {
  local uri
  uri=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -v -e security -e '^$' | head -n 1 || true)
  if [ -z "$uri" ]; then
    uri=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\).*/\2/p' \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | grep -v security | head -n 1 || true)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

# Runs "$@" in chroot $1 with /proc and /dev mounted, in the caller's mount namespace (which is
# a private one: see prepare).
in_chroot() {
  local dir=$1
  shift
  mountpoint -q "$dir/proc" || mount -t proc proc "$dir/proc"
  mountpoint -q "$dir/dev" || mount --rbind /dev "$dir/dev"
  chroot "$dir" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

# The body of prepare, inside a private mount namespace: whatever it mounts goes with it.
build() {
  local partial=$root.partial mirror
  mirror=$(mirror)
  rm -rf "$partial"
  echo "swift-toolchain: debootstrap $suite from $mirror into $partial" >&2
  debootstrap --variant=minbase "$suite" "$partial" "$mirror" >"$root.log" 2>&1 ||
    { tail -n 20 "$root.log" >&2; cannot "debootstrap $suite from $mirror failed (see $root.log)"; }
  cp /etc/resolv.conf "$partial/etc/resolv.conf" 2>/dev/null || true
  echo "swift-toolchain: apt-get install ${packages[*]}" >&2
  in_chroot "$partial" apt-get update -qq >>"$root.log" 2>&1 ||
    { tail -n 20 "$root.log" >&2; cannot "apt-get update in the chroot failed (see $root.log)"; }
  in_chroot "$partial" apt-get install -y -qq --no-install-recommends "${packages[@]}" >>"$root.log" 2>&1 ||
    { tail -n 20 "$root.log" >&2; cannot "apt-get install ${packages[*]} failed (see $root.log)"; }
  in_chroot "$partial" apt-get clean
  in_chroot "$partial" swift --version >&2 || cannot "swift does not run in the chroot"
  umount -R "$partial/dev" "$partial/proc"
  echo "$stamp_text" >"$partial/$stamp"
  mv "$partial" "$root"
}

prepare() {
  if ready; then
    echo "$root"
    return
  fi
  [ "$(id -u)" = 0 ] || cannot "needs root (debootstrap and chroot)"
  mkdir -p "$(dirname "$root")"
  # One preparation at a time; a second caller waits, then finds the toolchain ready.
  exec 9>"$root.lock"
  flock 9
  if ready; then
    echo "$root"
    return
  fi
  if [ -e "$root" ]; then
    # A toolchain of another package list is ours to replace; anything else is not ours.
    [ -f "$root/$stamp" ] || cannot "$root exists and is no toolchain of this script's: remove it or set MULTIPOOL_SWIFT_ROOT"
    echo "swift-toolchain: replacing $root ($(cat "$root/$stamp"))" >&2
    rm -rf "$root"
  fi
  if ! command -v debootstrap >/dev/null; then
    echo "swift-toolchain: installing debootstrap on the host" >&2
    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap; }
    } >/dev/null 2>&1 || cannot "debootstrap is not installed and apt-get could not install it"
  fi
  local started=$SECONDS
  unshare -m --propagation private -- "$0" __build
  echo "swift-toolchain: prepared $root in $((SECONDS - started)) s" >&2
  echo "$root"
}

run() {
  local binds=() envs=() cwd=$PWD nodac=
  while (($#)); do
    case $1 in
      -b) binds+=("$(realpath "$2")"); shift 2 ;;
      -C) cwd=$2; shift 2 ;;
      -e) envs+=("$2"); shift 2 ;;
      -P) nodac=1; shift ;;
      --) shift; break ;;
      *) echo "swift-toolchain: run: unknown option $1" >&2; exit 2 ;;
    esac
  done
  (($#)) || { echo "swift-toolchain: run: no command" >&2; exit 2; }
  ready || { echo "swift-toolchain: no toolchain at $root: run '$0 prepare' first" >&2; exit 3; }
  exec unshare -m --propagation private -- "$0" __run "$cwd" "$nodac" "${#binds[@]}" "${binds[@]}" \
    "${#envs[@]}" "${envs[@]}" "$@"
}

# The body of run, inside its own mount namespace.
run_inside() {
  local cwd=$1 nodac=$2 n dir
  shift 2
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  mount --rbind /sys "$root/sys"  # the library tells devices apart by sysfs
  mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
  n=$1
  shift
  for dir in "${@:1:n}"; do
    mkdir -p "$root$dir"
    mount --bind "$dir" "$root$dir"
  done
  shift "$n"
  n=$1
  shift
  local envs=("${@:1:n}")
  shift "$n"
  local drop=()
  if [ -n "$nodac" ]; then
    drop=(setpriv --bounding-set=-dac_override,-dac_read_search --inh-caps=-all --)
  fi
  exec "${drop[@]}" chroot "$root" /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    "${envs[@]}" /bin/sh -c 'cd "$1" && shift && exec "$@"' sh "$cwd" "$@"
}

case ${1:-} in
  prepare) prepare ;;
  run) shift; run "$@" ;;
  __build) build ;;
  __run) shift; run_inside "$@" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
esac
