//! Every system call the library makes outside the C ABI and `std`: file advice, descriptor
//! flags, `FIEMAP`, `cachestat` and the address-space limit. Each wrapper is safe to call; the
//! `unsafe` lives here.
//!
//! This module is Linux-specific by design, so that a port to macOS or the BSDs replaces one
//! file. What a port has to know:
//! - `posix_fadvise` has no macOS equivalent (`fcntl(F_RDAHEAD)`/`F_NOCACHE` come closest); the
//!   BSDs have it. The advice is a hint everywhere: a stub that does nothing is correct.
//! - `O_DIRECT` does not exist on macOS (`fcntl(F_NOCACHE, 1)` is the nearest); FreeBSD has it.
//!   Direct-I/O alignment here is the page size, which covers the logical block size of every
//!   Linux file system.
//! - `FS_IOC_FIEMAP` is Linux-only. Its request number, the extent flags and `cachestat`'s
//!   system call number and structs come from `linux-raw-sys`, generated from the kernel's
//!   headers for each architecture (`FS_IOC_FIEMAP` is `0xC020660B` on all of them; `cachestat`
//!   is 451 in the generic table, 4451 on mips o32, 5451 on mips64, `0x40000000 | 451` on
//!   x32). Only `struct fiemap` and `struct fiemap_extent` are declared here, since the crate
//!   does not carry them. File systems without FIEMAP answer `EOPNOTSUPP` or `ENOTTY`, and
//!   callers fall back to inode order. `ioctl`'s request parameter is `c_ulong` with glibc
//!   and `c_int` with musl: [`first_extent`] converts with `as _` so both build.
//! - `cachestat` (Linux 6.5+): older kernels answer `ENOSYS`. Callers treat any error as
//!   "unknown" and stop asking.
//! - [`Signal`] is an `eventfd` (Linux 2.6.27+). A port without one uses a pipe: signal writes
//!   a byte unless one is already there, reset reads until empty, and the read end is the
//!   descriptor callers wait on (kqueue's `EVFILT_USER` cannot be handed out as a descriptor).
//! - [`address_space_left`] reads `/proc/self/statm`; the BSDs and macOS have no such file (a
//!   port returns `None`, "no limit known", which turns the memory checks off, as they are when
//!   no `RLIMIT_AS` is set).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::OnceLock;

/// Bytes of address space this process may still map under `RLIMIT_AS` (`ulimit -v`), or `None`
/// when no limit is set (the usual case: then the check costs one `getrlimit`) or the current
/// size cannot be read. Every thread's mappings count: stacks, heaps, buffers, libraries.
pub(crate) fn address_space_left() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one rlimit into the struct it is given, which lives on this stack.
    if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } != 0
        || limit.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    // The first field of statm is the total program size in pages (VmSize). Read into the stack,
    // with no allocation: this runs when memory may be gone.
    let mut statm = [0u8; 128];
    let len = io::Read::read(&mut File::open("/proc/self/statm").ok()?, &mut statm).ok()?;
    let first = statm[..len].split(|&b| b == b' ').next()?;
    let pages: u64 = std::str::from_utf8(first).ok()?.parse().ok()?;
    #[allow(clippy::unnecessary_cast, reason = "rlim_t is u32 on 32-bit targets")]
    let limit = limit.rlim_cur as u64;
    Some(limit.saturating_sub(pages.saturating_mul(page_size())))
}

/// A descriptor that an event loop waits on (poll, epoll, kqueue through a port): readable
/// while signalled. An `eventfd`, non-blocking and close-on-exec.
#[derive(Debug)]
pub(crate) struct Signal(OwnedFd);

impl Signal {
    pub(crate) fn new() -> io::Result<Signal> {
        // SAFETY: eventfd takes two integers and returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and nothing else owns it.
        Ok(Signal(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// The descriptor to wait on.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }

    /// Makes the descriptor readable. Never fails in practice: the counter cannot overflow at
    /// one increment per reset.
    pub(crate) fn raise(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a live buffer to a descriptor this value owns.
        unsafe { libc::write(self.0.as_raw_fd(), one.as_ptr().cast(), one.len()) };
    }

    /// Makes the descriptor not readable (it may already not be: then EAGAIN, ignored).
    pub(crate) fn reset(&self) {
        let mut count = [0u8; 8];
        // SAFETY: reads at most 8 bytes into a live buffer from a descriptor this value owns.
        unsafe { libc::read(self.0.as_raw_fd(), count.as_mut_ptr().cast(), count.len()) };
    }
}

/// ThreadSanitizer's annotation functions, found when the host program runs under TSan.
///
/// The library is not instrumented: TSan sees its memory accesses only through the calls it
/// intercepts (`memcpy`, `malloc`), and none of its synchronisation (futexes and atomics), so
/// it reports every access it sees inside the library, from two threads, as a race: false ones.
/// Under TSan the library therefore hides its own accesses (its threads ignore theirs for good,
/// a caller's thread for the length of each call into the library), and tells TSan about the
/// one hand-off the caller relies on: what a thread did before `enqueue` happens before what a
/// thread does after `poll` returned results. Outside TSan the symbols are absent, and each of
/// these functions costs a load and a branch after one `dlsym` lookup per process.
struct Tsan {
    ignore_begin: unsafe extern "C" fn(),
    ignore_end: unsafe extern "C" fn(),
    acquire: unsafe extern "C" fn(*mut libc::c_void),
    release: unsafe extern "C" fn(*mut libc::c_void),
}

fn tsan() -> Option<&'static Tsan> {
    static TSAN: OnceLock<Option<Tsan>> = OnceLock::new();
    TSAN.get_or_init(|| {
        let find = |name: &std::ffi::CStr| {
            // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name has no precondition.
            let ptr = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
            (!ptr.is_null()).then_some(ptr)
        };
        let (begin, end) =
            (find(c"__tsan_ignore_thread_begin")?, find(c"__tsan_ignore_thread_end")?);
        let (acquire, release) = (find(c"__tsan_acquire")?, find(c"__tsan_release")?);
        // SAFETY: these are TSan's functions, with these C signatures (sanitizer/tsan_interface.h).
        unsafe {
            Some(Tsan {
                ignore_begin: std::mem::transmute::<*mut libc::c_void, unsafe extern "C" fn()>(
                    begin,
                ),
                ignore_end: std::mem::transmute::<*mut libc::c_void, unsafe extern "C" fn()>(end),
                acquire: std::mem::transmute::<
                    *mut libc::c_void,
                    unsafe extern "C" fn(*mut libc::c_void),
                >(acquire),
                release: std::mem::transmute::<
                    *mut libc::c_void,
                    unsafe extern "C" fn(*mut libc::c_void),
                >(release),
            })
        }
    })
    .as_ref()
}

/// Under TSan, hides the calling thread until dropped: one of the session's own threads for its
/// whole life, or a caller's thread for the length of a library call.
#[must_use]
pub(crate) struct HiddenFromThreadSanitizer(Option<&'static Tsan>);

/// Starts hiding the calling thread from TSan (see [`HiddenFromThreadSanitizer`]).
pub(crate) fn hidden_from_thread_sanitizer() -> HiddenFromThreadSanitizer {
    let tsan = tsan();
    if let Some(tsan) = tsan {
        // SAFETY: TSan's function takes nothing and may be called on any thread.
        unsafe { (tsan.ignore_begin)() };
    }
    HiddenFromThreadSanitizer(tsan)
}

impl Drop for HiddenFromThreadSanitizer {
    fn drop(&mut self) {
        if let Some(tsan) = self.0 {
            // SAFETY: ends the ignore section this value began on this same thread.
            unsafe { (tsan.ignore_end)() };
        }
    }
}

/// Under TSan: what this thread did so far happens before what a thread does after
/// [`tsan_acquire`] on the same `object`.
pub(crate) fn tsan_release(object: *const ()) {
    if let Some(tsan) = tsan() {
        // SAFETY: TSan only uses the address as a key; it need not point to anything.
        unsafe { (tsan.release)(object.cast_mut().cast()) };
    }
}

/// Under TSan: see [`tsan_release`].
pub(crate) fn tsan_acquire(object: *const ()) {
    if let Some(tsan) = tsan() {
        // SAFETY: TSan only uses the address as a key; it need not point to anything.
        unsafe { (tsan.acquire)(object.cast_mut().cast()) };
    }
}

/// `posix_fadvise` over `len` bytes from `offset` (0 and 0: the whole file). A hint: its result
/// is ignored, as the kernel may ignore the advice.
pub(crate) fn advise(file: &File, advice: Advice, offset: u64, len: u64) {
    let clamp = |v: u64| libc::off_t::try_from(v).unwrap_or(libc::off_t::MAX);
    // SAFETY: the descriptor is open for as long as `file` lives; posix_fadvise only reads it.
    unsafe {
        libc::posix_fadvise(file.as_raw_fd(), clamp(offset), clamp(len), advice.raw());
    }
}

/// The advice [`advise`] gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Advice {
    /// `POSIX_FADV_SEQUENTIAL`: read ahead more (Linux doubles the window).
    Sequential,
    /// `POSIX_FADV_DONTNEED`: drop the file's clean pages from the page cache.
    DontNeed,
    /// `POSIX_FADV_WILLNEED`: start reading the range into the page cache now, without
    /// waiting for it (the read-ahead window of `read`).
    WillNeed,
}

impl Advice {
    fn raw(self) -> libc::c_int {
        match self {
            Advice::Sequential => libc::POSIX_FADV_SEQUENTIAL,
            Advice::DontNeed => libc::POSIX_FADV_DONTNEED,
            Advice::WillNeed => libc::POSIX_FADV_WILLNEED,
        }
    }
}

/// A name of one path component, NUL-terminated on the stack for the `*at` calls: `Err` with
/// `ENAMETOOLONG` past `NAME_MAX` (255) bytes, and for a NUL inside the error `std` gives for
/// such a path (`InvalidInput`, no errno), so that both ways report it alike.
struct CName {
    bytes: [u8; 256],
}

impl CName {
    fn new(name: &[u8]) -> io::Result<CName> {
        if name.len() > 255 {
            return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
        }
        if name.contains(&0) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a name holds a NUL byte"));
        }
        let mut bytes = [0; 256];
        bytes[..name.len()].copy_from_slice(name);
        Ok(CName { bytes })
    }

    fn as_ptr(&self) -> *const libc::c_char {
        self.bytes.as_ptr().cast()
    }
}

/// Opens the directory `path` as a handle for the `*at` calls only (`O_PATH`: it needs no read
/// permission and opens nothing but the directory's place); symbolic links on the way are
/// followed, as a lookup of a path under it would.
pub(crate) fn open_dir(path: &std::path::Path) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: `path` is NUL-terminated and lives across the call; the flags open no file data.
    let fd =
        unsafe { libc::open(path.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Whether the number `fd`, from a C caller, is an open descriptor (`F_GETFD`): `EBADF` if
/// not, and nothing is touched either way.
pub(crate) fn check_open(fd: libc::c_int) -> io::Result<()> {
    // SAFETY: fcntl takes any integer; on one that is not open it fails with EBADF.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// What identifies the directory open as `fd` for resolving names from it: its device, inode
/// and mount (`STATX_MNT_ID`, Linux 5.8+; `None` where the kernel does not say), and whether it
/// is a directory. Two descriptors with the same three resolve every relative path alike (the same
/// dentry on the same mount, so `..` leads to the same place too). A number that is not an open
/// descriptor gives `EBADF`.
pub(crate) fn dir_identity(fd: BorrowedFd<'_>) -> io::Result<DirIdentity> {
    let mask = libc::STATX_TYPE | libc::STATX_INO | libc::STATX_MNT_ID;
    // SAFETY: the empty path is NUL-terminated and, with AT_EMPTY_PATH, names `fd`, open for
    // the call (it is borrowed).
    let looked = unsafe { statx(fd.as_raw_fd(), c"".as_ptr(), libc::AT_EMPTY_PATH, mask) };
    let out = match looked {
        Ok(out) => out,
        Err(err) if !matches!(err.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
            return Err(err)
        }
        Err(_) => {
            // No statx (an old kernel, a sandbox): fstat, and no mount to tell bind mounts
            // apart. Through a File that is never dropped, so never closes the caller's
            // descriptor: a duplicate would cost a descriptor on the very path that runs out.
            use std::os::unix::fs::MetadataExt;
            // SAFETY: `fd` is open for the call (it is borrowed), and the ManuallyDrop never
            // closes it; the File only lends it to fstat.
            let file = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(fd.as_raw_fd()) });
            let meta = file.metadata()?;
            return Ok(DirIdentity {
                dev: meta.dev(),
                ino: meta.ino(),
                mnt: None,
                is_dir: meta.is_dir(),
            });
        }
    };
    let mnt = (out.stx_mask & libc::STATX_MNT_ID != 0).then_some(out.stx_mnt_id);
    Ok(DirIdentity {
        dev: libc::makedev(out.stx_dev_major, out.stx_dev_minor),
        ino: out.stx_ino,
        mnt,
        is_dir: u32::from(out.stx_mode) & libc::S_IFMT == libc::S_IFDIR,
    })
}

/// What [`dir_identity`] finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DirIdentity {
    /// `st_dev`, as `makedev` encodes it.
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    /// The mount it was opened through, where the kernel says.
    pub(crate) mnt: Option<u64>,
    pub(crate) is_dir: bool,
}

/// What `statx` says of `name` in the directory `dir` (its last link followed or not): the
/// fields of `struct stat` (`STATX_BASIC_STATS`), with the kernel's own stat semantics.
pub(crate) fn stat_at(dir: BorrowedFd<'_>, name: &[u8], follow: bool) -> io::Result<libc::statx> {
    let name = CName::new(name)?;
    let flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
    // SAFETY: `name` is NUL-terminated and `dir` an open descriptor for the length of the call.
    unsafe { statx(dir.as_raw_fd(), name.as_ptr(), flags, libc::STATX_BASIC_STATS) }
}

/// `statx` of `path` relative to `dir` with `flags` (`AT_STATX_SYNC_AS_STAT` added), for the
/// fields of `mask` (`STATX_BASIC_STATS`: those of `struct stat`). Through syscall(2), not
/// libc's statx(), which needs glibc 2.28 or musl 1.2.5 (std reaches it through a weak symbol
/// for the same reason). A kernel or sandbox without it answers ENOSYS or EPERM, and the
/// callers fall back to std's.
///
/// # Safety
/// `path` is a NUL-terminated string and `dir` an open descriptor (or `AT_FDCWD`), both for the
/// length of the call.
unsafe fn statx(
    dir: libc::c_int,
    path: *const libc::c_char,
    flags: libc::c_int,
    mask: libc::c_uint,
) -> io::Result<libc::statx> {
    // SAFETY: an all-zero `struct statx` is a valid value of it (integers only).
    let mut out: libc::statx = unsafe { std::mem::zeroed() };
    let flags = flags | libc::AT_STATX_SYNC_AS_STAT;
    // SAFETY: the caller vouches for `dir` and `path`; `out` is a live struct statx the call
    // writes.
    let rc = unsafe {
        libc::syscall(libc::SYS_statx, dir, path, flags, mask, &mut out as *mut libc::statx)
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(out)
}

/// `fstat` of an open file: the fields of `struct stat` and nothing more (`File::metadata` asks
/// for the birth time too, which costs ext4 a look at another part of its inode). By the system
/// call itself where it has one: glibc's `fstat` (2.33 and later) and `statx` with an empty path
/// both hand the kernel an empty name to copy in and look at, which doubled the call's cost on
/// Linux 6.18 (207 ns a call against 98 ns on the machine measured, 1M calls each); the check
/// after each small file's read is one call per file. Only on the 64-bit targets whose libc
/// `struct stat` is the kernel's and which have the call (newer architectures, such as
/// loongarch64, have only `statx`); elsewhere the reader uses `std`'s `metadata`.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) fn stat_fd(file: &File) -> io::Result<libc::stat> {
    // SAFETY: an all-zero `struct stat` is a valid value of it (integers only).
    let mut out: libc::stat = unsafe { std::mem::zeroed() };
    let out_ptr: *mut libc::stat = &mut out;
    // SAFETY: `out` is a live struct stat that the call writes (on these architectures libc's
    // struct stat is the kernel's); the descriptor is open while `file` lives.
    let rc = unsafe { libc::syscall(libc::SYS_fstat, file.as_raw_fd(), out_ptr) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(out)
}

/// Reads the start of `file` into `buf` only as far as it is in the page cache: `preadv2` at
/// offset 0 with `RWF_NOWAIT` (Linux 4.14+), which never waits for the device. `Ok(None)` when
/// the first page is not in memory (`EAGAIN`); else the bytes read, fewer than asked where the
/// cache (or the file) ends. `Err` where the kernel or the file system cannot read that way
/// (`EOPNOTSUPP`, `ENOSYS`), or for the error a read would give. Through syscall(2), as glibc
/// has `preadv2` only since 2.26.
pub(crate) fn read_cached(file: &File, buf: &mut [u8]) -> io::Result<Option<usize>> {
    let iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: one iovec over `buf`, which the call may write up to its length; the descriptor
    // is open while `file` lives. Offset 0 in pos_l and pos_h (on 64-bit, pos_l holds it all).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_preadv2,
            file.as_raw_fd(),
            &iov as *const libc::iovec,
            1 as libc::c_int,
            0 as libc::c_long,
            0 as libc::c_long,
            libc::RWF_NOWAIT,
        )
    };
    if rc >= 0 {
        return Ok(Some(rc as usize));
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EAGAIN) => Ok(None),
        _ => Err(err),
    }
}

/// The wall clock as of the kernel's last tick (`CLOCK_REALTIME_COARSE`): never later than
/// `SystemTime::now()` at the same moment, and a few nanoseconds where the precise clock costs
/// tens (it reads the time-stamp counter). `SystemTime::now()` where the clock is refused.
pub(crate) fn coarse_now() -> std::time::SystemTime {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a live timespec that the call writes.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    match (rc, u64::try_from(ts.tv_sec), u32::try_from(ts.tv_nsec)) {
        (0, Ok(secs), Ok(nanos)) if nanos < 1_000_000_000 => {
            std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos)
        }
        _ => std::time::SystemTime::now(),
    }
}

/// Opens `name` in the directory `dir` read-only with `flags` added (`O_CLOEXEC` always).
pub(crate) fn open_at(dir: BorrowedFd<'_>, name: &[u8], flags: libc::c_int) -> io::Result<File> {
    let name = CName::new(name)?;
    let flags = libc::O_RDONLY | libc::O_CLOEXEC | flags;
    // SAFETY: `name` is NUL-terminated and `dir` open for the length of the call.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nobody else.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Sets (`on`) or clears the status flags `flags` (`O_DIRECT`, `O_NONBLOCK`) of an open file.
pub(crate) fn set_status_flags(file: &File, flags: libc::c_int, on: bool) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is open for as long as `file` lives; F_GETFL/F_SETFL only change its flags.
    let current = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if current < 0 {
        return Err(io::Error::last_os_error());
    }
    let wanted = if on { current | flags } else { current & !flags };
    if wanted == current {
        return Ok(());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, wanted) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether the open file lives on a file system whose `st_size` is not its content's length:
/// the kernel's pseudo file systems (procfs, sysfs, debugfs, tracefs, securityfs, configfs,
/// cgroup, pstore, bpf, efivarfs, selinuxfs, binfmt_misc), by `fstatfs`'s magic number.
/// Such files say 0 or 4096 bytes and hold what a read returns. macOS and the BSDs have no
/// such file systems in their `fstatfs` (a port returns false).
pub(crate) fn sizes_are_not_real(file: &File) -> bool {
    const PSEUDO: [u64; 13] = [
        0x9fa0,      // PROC_SUPER_MAGIC
        0x6265_6572, // SYSFS_MAGIC
        0x6462_6720, // DEBUGFS_MAGIC
        0x7472_6163, // TRACEFS_MAGIC
        0x7363_6673, // SECURITYFS_MAGIC
        0x6265_6570, // CONFIGFS_MAGIC
        0x0027_e0eb, // CGROUP_SUPER_MAGIC
        0x6367_7270, // CGROUP2_SUPER_MAGIC
        0x6165_676c, // PSTOREFS_MAGIC
        0xcafe_4a11, // BPF_FS_MAGIC
        0xde5e_81e4, // EFIVARFS_MAGIC
        0xf97c_ff8c, // SELINUX_MAGIC
        0x4249_4e4d, // BINFMTFS_MAGIC
    ];
    fs_type(file).is_some_and(|kind| PSEUDO.contains(&kind))
}

/// Whether `file` is on a FUSE file system, where a `WILLNEED` hint over a mount with direct
/// I/O makes the kernel read every range twice (once for the hint, once for the read).
pub(crate) fn is_fuse(file: &File) -> bool {
    const FUSE_SUPER_MAGIC: u64 = 0x6573_5546;
    fs_type(file) == Some(FUSE_SUPER_MAGIC)
}

/// The magic number of the file system `file` is on (`statfs.f_type`), `None` if `fstatfs`
/// fails.
fn fs_type(file: &File) -> Option<u64> {
    let mut stat = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: fstatfs writes one `struct statfs` into `stat`, a live local of that type; the
    // descriptor is open for as long as `file` lives.
    if unsafe { libc::fstatfs(file.as_raw_fd(), stat.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: fstatfs returned 0, so it filled the struct.
    let kind = unsafe { stat.assume_init() }.f_type;
    #[allow(clippy::unnecessary_cast, reason = "f_type is i64 with glibc, u32 on some targets")]
    Some(kind as u64)
}

/// The size of a memory page, for alignment and page counts.
pub(crate) fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
        .ok()
        .filter(|p| *p > 0)
        .unwrap_or(4096)
}

/// How many pages of the open file are in the page cache (`cachestat`, Linux 6.5+). `Err` with
/// `ENOSYS` on older kernels (and under valgrind, which does not know the call): asked once
/// per process, then answered without a system call.
pub(crate) fn cached_pages(file: &File) -> io::Result<u64> {
    cached_pages_in(file, 0)
}

/// How many of the pages of the open file's first `len` bytes (0: all of it) are in the page
/// cache; see [`cached_pages`]. The kernel walks the range page by page, so a short range costs
/// less on a large file.
pub(crate) fn cached_pages_in(file: &File, len: u64) -> io::Result<u64> {
    static MISSING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if MISSING.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(io::Error::from_raw_os_error(libc::ENOSYS));
    }
    use linux_raw_sys::general::{__NR_cachestat, cachestat, cachestat_range};
    // Length 0 means to the end of the file.
    let range = cachestat_range { off: 0, len };
    let mut stat = cachestat {
        nr_cache: 0,
        nr_dirty: 0,
        nr_writeback: 0,
        nr_evicted: 0,
        nr_recently_evicted: 0,
    };
    // SAFETY: cachestat reads one `struct cachestat_range` and writes one `struct cachestat`;
    // both are live locals of exactly those layouts (the kernel's own, from linux-raw-sys). The
    // descriptor is open while `file` lives.
    let rc = unsafe {
        libc::syscall(
            // A small number, which c_long holds on every target (From is not implemented for
            // u32 where c_long is 32 bits).
            __NR_cachestat as libc::c_long,
            file.as_raw_fd(),
            &range as *const cachestat_range,
            &mut stat as *mut cachestat,
            0,
        )
    };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ENOSYS) {
            MISSING.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        return Err(err);
    }
    Ok(stat.nr_cache)
}

/// `struct fiemap` from `<linux/fiemap.h>`, with room for one extent.
#[repr(C)]
#[derive(Default)]
struct Fiemap {
    fm_start: u64,
    fm_length: u64,
    fm_flags: u32,
    fm_mapped_extents: u32,
    fm_extent_count: u32,
    fm_reserved: u32,
    fm_extents: [FiemapExtent; 1],
}

/// `struct fiemap_extent` from `<linux/fiemap.h>`.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct FiemapExtent {
    fe_logical: u64,
    fe_physical: u64,
    fe_length: u64,
    fe_reserved64: [u64; 2],
    fe_flags: u32,
    fe_reserved: [u32; 3],
}

// The ioctl number encodes the size of the struct it takes (bits 16-29 in the common layout):
// `struct fiemap` without its extents, which our declaration must match, as the extent must.
const _: () = assert!((FS_IOC_FIEMAP >> 16) & 0x3fff == 32);
const _: () = assert!(std::mem::size_of::<Fiemap>() == 32 + std::mem::size_of::<FiemapExtent>());
const _: () = assert!(std::mem::size_of::<FiemapExtent>() == 56);

// FS_IOC_FIEMAP; and the flags of an extent with no location yet (unknown, delayed
// allocation, data inline in the inode).
use linux_raw_sys::ioctl::{
    FIEMAP_EXTENT_DATA_INLINE, FIEMAP_EXTENT_DELALLOC, FIEMAP_EXTENT_UNKNOWN, FS_IOC_FIEMAP,
};

/// The physical byte offset of the file's first extent (`FS_IOC_FIEMAP`), `None` if it has no
/// located extent (empty, delayed allocation, inline data). `Err` means the file system has no
/// FIEMAP (FUSE, NFS, tmpfs answer `EOPNOTSUPP` or `ENOTTY`).
pub(crate) fn first_extent(file: &File) -> io::Result<Option<u64>> {
    let mut map = Fiemap { fm_length: u64::MAX, fm_extent_count: 1, ..Fiemap::default() };
    // SAFETY: FS_IOC_FIEMAP reads and writes a `struct fiemap` followed by `fm_extent_count`
    // extents; `map` is exactly that with one extent, and lives across the call. The descriptor
    // is open for as long as `file` lives.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), FS_IOC_FIEMAP as _, &mut map as *mut Fiemap) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let extent = map.fm_extents[0];
    let unlocated = FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_DATA_INLINE;
    Ok((map.fm_mapped_extents > 0 && extent.fe_flags & unlocated == 0)
        .then_some(extent.fe_physical))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn fstat_sees_what_metadata_sees() {
        use std::os::unix::fs::MetadataExt;
        let file = File::open("/proc/self/exe").unwrap();
        let (st, meta) = (stat_fd(&file).unwrap(), file.metadata().unwrap());
        assert_eq!((st.st_dev, st.st_ino, st.st_size as u64), (meta.dev(), meta.ino(), meta.len()));
        assert_eq!((st.st_mtime, st.st_mtime_nsec), (meta.mtime(), meta.mtime_nsec()));
        assert_eq!((st.st_ctime, st.st_ctime_nsec), (meta.ctime(), meta.ctime_nsec()));
    }

    #[test]
    fn a_cached_file_is_read_without_waiting_and_the_coarse_clock_is_never_ahead() {
        let dir = crate::test_support::TempDir::new("sys");
        let path = dir.file("cached", &[5; 10_000]);
        let file = File::open(&path).unwrap();
        let mut buf = vec![0; 16_384];
        match read_cached(&file, &mut buf) {
            // Just written, so in the page cache: all of it at once, or refused where the file
            // system cannot read that way.
            Ok(read) => {
                assert_eq!(read, Some(10_000));
                assert!(buf[..10_000].iter().all(|&b| b == 5));
            }
            Err(err) => {
                assert!(matches!(
                    err.raw_os_error(),
                    Some(libc::EOPNOTSUPP | libc::ENOSYS | libc::EINVAL | libc::EPERM)
                ))
            }
        }
        for _ in 0..1000 {
            let coarse = coarse_now();
            assert!(coarse <= std::time::SystemTime::now());
        }
    }

    #[test]
    fn status_flags_are_set_and_cleared() {
        let file = File::open("/proc/self/exe").unwrap();
        // SAFETY: a valid descriptor; F_GETFL only reads its flags.
        let flags = || unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
        set_status_flags(&file, libc::O_NONBLOCK, true).unwrap();
        assert_ne!(flags() & libc::O_NONBLOCK, 0);
        set_status_flags(&file, libc::O_NONBLOCK, false).unwrap();
        assert_eq!(flags() & libc::O_NONBLOCK, 0);
    }

    #[test]
    fn proc_and_sys_say_their_sizes_are_not_real_and_a_plain_file_does() {
        assert!(sizes_are_not_real(&File::open("/proc/version").unwrap()));
        if let Ok(file) = File::open("/sys/kernel/mm/transparent_hugepage/enabled") {
            assert!(sizes_are_not_real(&file));
        }
        assert!(!sizes_are_not_real(&File::open("/proc/self/exe").unwrap()), "on a disk");
    }

    #[test]
    fn the_page_size_is_a_power_of_two() {
        assert!(page_size().is_power_of_two() && page_size() >= 4096);
    }
}
