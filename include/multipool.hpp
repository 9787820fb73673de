// multipool.hpp: the C API of libmultipool for C++17 and C++20, header-only, over multipool.h.
//
//   multipool::session s({.algorithm = multipool::algorithm::blake3});   // C++20; C++17: options o;
//   s.enqueue(std::filesystem::path("/etc/hostname"), 1);
//   s.finish();
//   for (const multipool::result &r : s.results())
//       std::cout << r.hex() << ' ' << r.tag() << '\n';
//
// A session with a chunker (options::chunker) delivers each file's chunks and then its result as
// events: for (const multipool::event &e : s.events()) { if (e.is_chunk()) ...; else e.result(); }
// (README, "Chunks for backups").
//
// Prior records (README, "Prior records"): every result with a digest carries the file's
// identity(); record::of(result, algorithm) is what to keep, and session::enqueue_records()
// hands it back next time, so that a file whose stat still matches it (under
// options::record_policy) is answered status::unchanged, with the stored digest, unopened.
//
// Errors: every call that can fail has a throwing form (multipool::error, a std::system_error
// whose code() is in multipool::category()) and a non-throwing one taking std::error_code&.
// A file's failure is not an exception: it is the result's status() and error().
//
// Threads: as in C, every member function may be called from any thread concurrently, except
// the destructor, move assignment, abandon() and release(). A results() range and its iterators
// belong to the thread that iterates them.
//
// ThreadSanitizer needs nothing from this header: the library, which is not instrumented, finds
// TSan at run time, hides its own accesses from it and annotates the enqueue-to-poll hand-off
// (README, "ThreadSanitizer"), linked shared or static.
#ifndef MULTIPOOL_HPP
#define MULTIPOOL_HPP

#include "multipool.h"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>
#if __cplusplus >= 202002L
#include <span>
#endif

namespace multipool {

/// A status code of the C API (multipool_status) as an enum; the numbers are the C ones.
enum class status : std::uint32_t {
    ok = MULTIPOOL_OK,
    done = MULTIPOOL_DONE,
    timeout = MULTIPOOL_TIMEOUT,
    woken = MULTIPOOL_WOKEN,
    /// A file's result: its prior record vouched for it, so it was not read; not ok(), but it
    /// has its (stored) digest.
    unchanged = MULTIPOOL_UNCHANGED,
    null_pointer = MULTIPOOL_ERR_NULL_POINTER,
    invalid_argument = MULTIPOOL_ERR_INVALID_ARGUMENT,
    struct_size = MULTIPOOL_ERR_STRUCT_SIZE,
    invalid_threads_spec = MULTIPOOL_ERR_INVALID_THREADS_SPEC,
    session_finished = MULTIPOOL_ERR_SESSION_FINISHED,
    session_cancelled = MULTIPOOL_ERR_SESSION_CANCELLED,
    resource_exhausted = MULTIPOOL_ERR_RESOURCE_EXHAUSTED,
    internal = MULTIPOOL_ERR_INTERNAL,
    invalid_chunker = MULTIPOOL_ERR_INVALID_CHUNKER,
    needs_event_poll = MULTIPOOL_ERR_NEEDS_EVENT_POLL,
    not_found = MULTIPOOL_ERR_NOT_FOUND,
    permission_denied = MULTIPOOL_ERR_PERMISSION_DENIED,
    is_directory = MULTIPOOL_ERR_IS_DIRECTORY,
    is_fifo = MULTIPOOL_ERR_IS_FIFO,
    is_socket = MULTIPOOL_ERR_IS_SOCKET,
    is_device = MULTIPOOL_ERR_IS_DEVICE,
    is_symlink = MULTIPOOL_ERR_IS_SYMLINK,
    symlink_loop = MULTIPOOL_ERR_SYMLINK_LOOP,
    name_too_long = MULTIPOOL_ERR_NAME_TOO_LONG,
    invalid_path = MULTIPOOL_ERR_INVALID_PATH,
    changed = MULTIPOOL_ERR_CHANGED,
    io = MULTIPOOL_ERR_IO,
    cancelled = MULTIPOOL_ERR_CANCELLED,
    os = MULTIPOOL_ERR_OS,
};

/// The error category of multipool statuses: message() is multipool_status_str(), and each
/// status maps to the std::errc condition that means the same, where one does.
class error_category final : public std::error_category {
public:
    const char *name() const noexcept override { return "multipool"; }
    std::string message(int code) const override
    {
        return multipool_status_str(static_cast<multipool_status>(code));
    }
    std::error_condition default_error_condition(int code) const noexcept override
    {
        switch (static_cast<status>(code)) {
        case status::not_found: return std::errc::no_such_file_or_directory;
        case status::permission_denied: return std::errc::permission_denied;
        case status::is_directory: return std::errc::is_a_directory;
        case status::symlink_loop: return std::errc::too_many_symbolic_link_levels;
        case status::name_too_long: return std::errc::filename_too_long;
        case status::io: return std::errc::io_error;
        case status::timeout: return std::errc::timed_out;
        case status::cancelled:
        case status::session_cancelled: return std::errc::operation_canceled;
        case status::resource_exhausted: return std::errc::not_enough_memory;
        case status::null_pointer:
        case status::invalid_argument:
        case status::struct_size:
        case status::invalid_threads_spec:
        case status::invalid_chunker:
        case status::invalid_path: return std::errc::invalid_argument;
        case status::session_finished: return std::errc::operation_not_permitted;
        default: return std::error_condition(code, *this);
        }
    }
};

/// The one instance of the category.
inline const std::error_category &category() noexcept
{
    static const error_category instance;
    return instance;
}

/// A status as a std::error_code (found by argument-dependent lookup).
inline std::error_code make_error_code(status s) noexcept
{
    return {static_cast<int>(s), category()};
}

} // namespace multipool

namespace std {
template <> struct is_error_code_enum<multipool::status> : true_type {};
} // namespace std

namespace multipool {

/// What the throwing calls throw: a std::system_error whose code() is a multipool status.
class error : public std::system_error {
public:
    explicit error(status s, const char *what) : std::system_error(make_error_code(s), what) {}
};

namespace detail {
inline status to_status(multipool_status s) noexcept { return static_cast<status>(s); }

/// Turns a refused call into `ec` (cleared on success) and returns whether it succeeded.
inline bool check(multipool_status s, std::error_code &ec) noexcept
{
    if (s == MULTIPOOL_OK) {
        ec.clear();
        return true;
    }
    ec = make_error_code(to_status(s));
    return false;
}

inline void throw_if(multipool_status s, const char *what)
{
    if (s != MULTIPOOL_OK) {
        throw error(to_status(s), what);
    }
}
} // namespace detail

/// The hash algorithms.
enum class algorithm : std::uint32_t {
    sha256 = MULTIPOOL_ALGORITHM_SHA256,
    sha512 = MULTIPOOL_ALGORITHM_SHA512,
    blake3 = MULTIPOOL_ALGORITHM_BLAKE3,
};

/// How files are cut into chunks (MULTIPOOL_CHUNKER_*).
enum class chunker : std::uint32_t {
    none = MULTIPOOL_CHUNKER_NONE,
    /// FastCDC 2020 as the `fastcdc` crate's v2020 module cuts: chunk_min, chunk_avg, chunk_max,
    /// chunk_level.
    fastcdc = MULTIPOOL_CHUNKER_FASTCDC,
    /// restic's chunker with chunk_polynomial and restic's sizes.
    restic = MULTIPOOL_CHUNKER_RESTIC,
    /// Chunks of chunk_avg bytes, the last one shorter.
    fixed = MULTIPOOL_CHUNKER_FIXED,
};

/// A chunk's digest (MULTIPOOL_CHUNK_DIGEST_*); automatic: BLAKE3 keyed with chunk_key if there
/// is one, else BLAKE3 if the algorithm is, else SHA-256.
enum class chunk_digest : std::uint32_t {
    automatic = 0,
    sha256 = MULTIPOOL_CHUNK_DIGEST_SHA256,
    blake3 = MULTIPOOL_CHUNK_DIGEST_BLAKE3,
    blake3_keyed = MULTIPOOL_CHUNK_DIGEST_BLAKE3_KEYED,
};

/// Which fields of a prior record (session::enqueue_records()) must equal the file's stat for
/// it to be answered status::unchanged without being opened (MULTIPOOL_RECORD_MATCH_*). The
/// algorithm and the digest's length always count, and a file stamped within the settle
/// margin of now is always read. A policy with no field set is refused by session's
/// constructor (status::invalid_argument): in C the 0 it would be means restic's.
struct record_policy {
    bool mtime = true;
    bool ctime = true;
    bool size = true;
    bool inode = true;
    /// The device number, where the record has one (device numbers move on removable disks,
    /// ZFS and network mounts).
    bool device = false;

    /// restic's: mtime, ctime, size, inode (the default).
    static constexpr record_policy restic() noexcept { return {}; }
    /// borg's files cache: ctime, size, inode.
    static constexpr record_policy borg() noexcept { return {false, true, true, true, false}; }
    /// mtime and size: survives `chmod -R` (ctime) and files replaced by copies (inode).
    static constexpr record_policy mtime_size() noexcept { return {true, false, true, false, false}; }
    /// The C bits (multipool_options.record_policy).
    constexpr std::uint32_t bits() const noexcept
    {
        return (mtime ? MULTIPOOL_RECORD_MATCH_MTIME : 0U) | (ctime ? MULTIPOOL_RECORD_MATCH_CTIME : 0U) |
               (size ? MULTIPOOL_RECORD_MATCH_SIZE : 0U) | (inode ? MULTIPOOL_RECORD_MATCH_INODE : 0U) |
               (device ? MULTIPOOL_RECORD_MATCH_DEVICE : 0U);
    }
    friend constexpr bool operator==(const record_policy &a, const record_policy &b) noexcept
    {
        return a.bits() == b.bits();
    }
    friend constexpr bool operator!=(const record_policy &a, const record_policy &b) noexcept
    {
        return !(a == b);
    }
};

/// Session options with their defaults as default member initialisers, so that C++20
/// designated initialisers name only what differs: `{.algorithm = algorithm::blake3}`.
struct options {
    multipool::algorithm algorithm = multipool::algorithm::sha256;
    /// Threads spec, e.g. "ssd:8,hdd:1" (README, "Devices, kinds and the threads spec").
    std::string threads_spec{};
    bool follow_symlinks = true;
    bool drop_cache = false;
    bool disk_order = true;
    /// With drop_cache, large uncached files are read with O_DIRECT (false: never); without it
    /// they are read with a read-ahead window either way (MULTIPOOL_FLAG_NO_DIRECT_IO).
    bool direct_io = true;
    /// 0: the library's default (1 MiB).
    std::size_t buffer_size = 0;
    /// 0: the library's default (2).
    std::uint32_t in_flight_per_thread = 0;
    /// 0: the library's default (65,536).
    std::uint32_t max_ready_results = 0;
    /// Chunks (README, "Chunks for backups"); none: results as without them. A session with a
    /// chunker is polled with poll_events() or events(), not poll() or results().
    multipool::chunker chunker = multipool::chunker::none;
    /// FastCDC: the normalization level, 0 to 3 (the C field holds it plus one).
    std::uint32_t chunk_level = 1;
    /// FastCDC's sizes in bytes (0: 512 KiB, 1 MiB, 8 MiB); fixed: chunk_avg is the size.
    std::uint64_t chunk_min = 0;
    std::uint64_t chunk_avg = 0;
    std::uint64_t chunk_max = 0;
    /// restic: the repository's polynomial; 0: restic's test polynomial 0x3DA3358B4DC173.
    std::uint64_t chunk_polynomial = 0;
    multipool::chunk_digest chunk_digest = multipool::chunk_digest::automatic;
    /// Chunk events waiting for polling before the files that make them pause; 0: 65,536.
    std::uint32_t max_ready_chunks = 0;
    /// With a chunker, false: no whole-file digest (MULTIPOOL_FLAG_NO_FILE_DIGEST).
    bool file_digest = true;
    /// The 32-byte key: keyed BLAKE3 chunk digests and FastCDC's keyed Gear table.
    std::optional<std::array<std::uint8_t, 32>> chunk_key{};
    /// The fields a prior record must match (session::enqueue_records()); restic's by default.
    multipool::record_policy record_policy{};

    /// The C struct; it points into threads_spec, so it lives no longer than this object.
    multipool_options c_options() const noexcept
    {
        multipool_options o{};
        o.struct_size = sizeof o;
        o.algorithm = static_cast<std::uint32_t>(algorithm);
        o.flags = (follow_symlinks ? 0U : MULTIPOOL_FLAG_NO_FOLLOW_SYMLINKS) |
                  (drop_cache ? MULTIPOOL_FLAG_DROP_CACHE : 0U) |
                  (disk_order ? 0U : MULTIPOOL_FLAG_NO_DISK_ORDER) |
                  (direct_io ? 0U : MULTIPOOL_FLAG_NO_DIRECT_IO) |
                  (file_digest ? 0U : MULTIPOOL_FLAG_NO_FILE_DIGEST) |
                  (chunk_key ? MULTIPOOL_FLAG_CHUNK_KEY : 0U);
        o.threads_spec = reinterpret_cast<const std::uint8_t *>(threads_spec.data());
        o.threads_spec_len = threads_spec.size();
        o.buffer_size = buffer_size;
        o.in_flight_per_thread = in_flight_per_thread;
        o.max_ready_results = max_ready_results;
        o.chunker = static_cast<std::uint32_t>(chunker);
        // The level plus one; left 0 (the default) for the other chunkers unless set, so that a
        // level given to one is refused as in C.
        o.chunk_level = chunker == multipool::chunker::fastcdc || chunk_level != 1 ? chunk_level + 1 : 0U;
        o.chunk_min = chunk_min;
        o.chunk_avg = chunk_avg;
        o.chunk_max = chunk_max;
        o.chunk_polynomial = chunk_polynomial;
        o.chunk_digest = static_cast<std::uint32_t>(chunk_digest);
        o.max_ready_chunks = max_ready_chunks;
        if (chunk_key) {
            for (std::size_t i = 0; i < chunk_key->size(); i++) {
                o.chunk_key[i] = (*chunk_key)[i];
            }
        }
        o.record_policy = record_policy.bits();
        return o;
    }
};

/// A digest's bytes: std::span under C++20, a pointer and a size under C++17.
#if __cplusplus >= 202002L
using digest_bytes = std::span<const std::uint8_t>;
#else
struct digest_bytes {
    const std::uint8_t *ptr;
    std::size_t len;
    const std::uint8_t *data() const noexcept { return ptr; }
    std::size_t size() const noexcept { return len; }
    const std::uint8_t *begin() const noexcept { return ptr; }
    const std::uint8_t *end() const noexcept { return ptr + len; }
    std::uint8_t operator[](std::size_t i) const noexcept { return ptr[i]; }
};
#endif

/// Lower-case hex of `bytes`, as sha256sum and b3sum print digests.
inline std::string to_hex(digest_bytes bytes)
{
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * bytes.size());
    for (std::uint8_t b : bytes) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 15]);
    }
    return out;
}

/// A file as a result saw it (result::identity()): what a backup keeps to know next time
/// whether the file changed.
struct identity {
    /// Size in bytes.
    std::uint64_t size;
    /// mtime and ctime, nanoseconds since the epoch.
    std::int64_t mtime_ns;
    std::int64_t ctime_ns;
    std::uint64_t inode;
    /// `st_dev`.
    std::uint64_t device_id;
    /// `st_mode`: the file type and permissions.
    std::uint32_t mode;
};

/// One path's result.
class result {
public:
    result() noexcept : raw_{} {}
    explicit result(const multipool_result &raw) noexcept : raw_(raw) {}

    std::uint64_t tag() const noexcept { return raw_.tag; }
    multipool::status status() const noexcept { return detail::to_status(raw_.status); }
    /// The file was read and hashed.
    bool ok() const noexcept { return raw_.status == MULTIPOOL_OK; }
    /// Its prior record vouched for it: not read, digest() is the record's (status::unchanged).
    bool unchanged() const noexcept { return raw_.status == MULTIPOOL_UNCHANGED; }
    /// It has a digest: ok() or unchanged().
    bool has_digest() const noexcept { return ok() || unchanged(); }
    /// The OS errno behind a failure (std::generic_category), else the status; empty when the
    /// result has a digest (ok() or unchanged()).
    std::error_code error() const noexcept
    {
        if (has_digest()) {
            return {};
        }
        if (raw_.os_error != 0) {
            return {raw_.os_error, std::generic_category()};
        }
        return make_error_code(status());
    }
    /// Bytes hashed; for an unchanged file or a failure, the file size where known.
    std::uint64_t size() const noexcept { return raw_.size; }
    /// Index of the device that read it, or MULTIPOOL_DEVICE_NONE.
    std::uint32_t device() const noexcept { return raw_.device; }
    digest_bytes digest() const noexcept { return digest_bytes{raw_.digest, raw_.digest_len}; }
    std::string hex() const { return to_hex(digest()); }
    /// Which read of the file it comes from: 1, 2 for a file read again, 0 if never read.
    std::uint32_t attempt() const noexcept { return raw_.attempt; }
    /// With a chunker: how many chunks the file was cut into (its chunk events of attempt()).
    std::uint64_t chunks() const noexcept { return raw_.chunks; }
    /// Whether identity() has a value: every result with a digest has one.
    bool has_identity() const noexcept { return raw_.has_identity != 0; }
    /// The file as it was hashed (for an unchanged one, as its stat matched the record).
    std::optional<multipool::identity> identity() const noexcept
    {
        if (!has_identity()) {
            return std::nullopt;
        }
        return multipool::identity{raw_.size,  raw_.mtime_ns,  raw_.ctime_ns,
                                   raw_.inode, raw_.device_id, raw_.mode};
    }
    const multipool_result &c_result() const noexcept { return raw_; }

private:
    multipool_result raw_;
};

/// A prior record: what the caller knew of a file from its last run, for
/// session::enqueue_records(). Made from a result with record::of(), or from the fields the
/// caller stored. A default-constructed record is none: its path is hashed.
class record {
public:
    record() noexcept : raw_{} {}
    explicit record(const multipool_record &raw) noexcept : raw_(raw) {}
    /// From stored fields; throws multipool::error (status::invalid_argument) for a digest
    /// longer than MULTIPOOL_MAX_DIGEST_LEN. A digest of the wrong length for `a` is kept, and
    /// never matches.
    record(multipool::algorithm a, std::uint64_t file_size, std::int64_t mtime, std::int64_t ctime,
           std::uint64_t ino, digest_bytes stored, std::optional<std::uint64_t> device = std::nullopt)
        : raw_{}
    {
        if (stored.size() > sizeof raw_.digest) {
            throw error(status::invalid_argument, "multipool::record: digest too long");
        }
        raw_.flags = MULTIPOOL_RECORD_PRESENT | (device ? MULTIPOOL_RECORD_HAS_DEVICE : 0U);
        raw_.algorithm = static_cast<std::uint32_t>(a);
        raw_.size = file_size;
        raw_.mtime_ns = mtime;
        raw_.ctime_ns = ctime;
        raw_.inode = ino;
        raw_.device_id = device.value_or(0);
        raw_.digest_len = static_cast<std::uint32_t>(stored.size());
        for (std::size_t i = 0; i < stored.size(); i++) {
            raw_.digest[i] = stored[i];
        }
    }

    /// The record a result makes for next time (device number included), if it has an identity
    /// and a digest; `a` is the algorithm of the session that produced it.
    static std::optional<record> of(const result &r, multipool::algorithm a) noexcept
    {
        const multipool_result &c = r.c_result();
        if (!r.has_digest() || !r.has_identity() || c.digest_len == 0 || c.digest_len > sizeof c.digest) {
            return std::nullopt;
        }
        record out;
        out.raw_.flags = MULTIPOOL_RECORD_PRESENT | MULTIPOOL_RECORD_HAS_DEVICE;
        out.raw_.algorithm = static_cast<std::uint32_t>(a);
        out.raw_.size = c.size;
        out.raw_.mtime_ns = c.mtime_ns;
        out.raw_.ctime_ns = c.ctime_ns;
        out.raw_.inode = c.inode;
        out.raw_.device_id = c.device_id;
        out.raw_.digest_len = c.digest_len;
        for (std::size_t i = 0; i < c.digest_len; i++) {
            out.raw_.digest[i] = c.digest[i];
        }
        return out;
    }

    /// Whether it is a record at all (not a default-constructed one).
    bool present() const noexcept { return (raw_.flags & MULTIPOOL_RECORD_PRESENT) != 0; }
    multipool::algorithm algorithm() const noexcept { return static_cast<multipool::algorithm>(raw_.algorithm); }
    std::uint64_t size() const noexcept { return raw_.size; }
    std::int64_t mtime_ns() const noexcept { return raw_.mtime_ns; }
    std::int64_t ctime_ns() const noexcept { return raw_.ctime_ns; }
    std::uint64_t inode() const noexcept { return raw_.inode; }
    /// The device number, if the record keeps one.
    std::optional<std::uint64_t> device_id() const noexcept
    {
        if ((raw_.flags & MULTIPOOL_RECORD_HAS_DEVICE) == 0) {
            return std::nullopt;
        }
        return raw_.device_id;
    }
    /// The same record without its device number (which a policy with `device` compares).
    record without_device() const noexcept
    {
        record out = *this;
        out.raw_.flags &= ~static_cast<std::uint32_t>(MULTIPOOL_RECORD_HAS_DEVICE);
        out.raw_.device_id = 0;
        return out;
    }
    digest_bytes digest() const noexcept
    {
        return digest_bytes{raw_.digest, raw_.digest_len <= sizeof raw_.digest ? raw_.digest_len : 0U};
    }
    std::string hex() const { return to_hex(digest()); }
    const multipool_record &c_record() const noexcept { return raw_; }

private:
    multipool_record raw_;
};

/// One path for session::enqueue_records(): its bytes (a std::string, a filesystem::path's
/// native(), a C string), the caller's tag, and what the caller knew of it, if anything. The
/// path's bytes need only live until the call returns.
struct request {
    std::string_view path{};
    std::uint64_t tag = 0;
    std::optional<multipool::record> prior{};
};

/// One event of a session (poll_events(), events()): a chunk of a file, or a file's result,
/// which comes after every chunk of its tag. A tag's chunks are its file's only if its result
/// is ok() and names their attempt(); the caller drops the others.
class event {
public:
    enum class kind : std::uint32_t {
        chunk = MULTIPOOL_EVENT_CHUNK,
        result = MULTIPOOL_EVENT_RESULT,
    };
    event() noexcept : raw_{} {}
    explicit event(const multipool_event &raw) noexcept : raw_(raw) {}

    /// A kind newer than this header is neither a chunk nor a result: skip it.
    event::kind type() const noexcept { return static_cast<event::kind>(raw_.kind); }
    bool is_chunk() const noexcept { return raw_.kind == MULTIPOOL_EVENT_CHUNK; }
    bool is_result() const noexcept { return raw_.kind == MULTIPOOL_EVENT_RESULT; }
    std::uint64_t tag() const noexcept { return raw_.tag; }
    /// The read of the file that made it: 1, or 2 for a file read again (its result says which
    /// counts).
    std::uint32_t attempt() const noexcept { return raw_.attempt; }
    /// A chunk: its place among its file's chunks (from 0), first byte's offset, length.
    std::uint64_t index() const noexcept { return raw_.index; }
    std::uint64_t offset() const noexcept { return raw_.offset; }
    std::uint64_t length() const noexcept { return raw_.length; }
    /// A chunk: its digest.
    digest_bytes digest() const noexcept { return digest_bytes{raw_.digest, raw_.digest_len}; }
    std::string hex() const { return to_hex(digest()); }
    /// A result: the file's result (with chunks(), the count of its chunks).
    multipool::result result() const noexcept { return multipool::result(raw_.result); }
    const multipool_event &c_event() const noexcept { return raw_; }

private:
    multipool_event raw_;
};

/// Progress counters of a session or one device.
struct stats : multipool_stats {
    stats() noexcept : multipool_stats{} { struct_size = sizeof(multipool_stats); }
};

/// A device the session has met.
struct device_info {
    std::uint32_t index;
    std::uint32_t kind;
    std::uint32_t kind_source;
    std::uint32_t threads;
    std::string name;
    /// Reads in flight allowed now, the limit settled on, and why (MULTIPOOL_LIMIT_*).
    std::uint32_t reads_limit;
    std::uint32_t reads_chosen;
    std::uint32_t limit_reason;
    /// Whether the device's files are read in on-disk order.
    bool disk_order;
    const char *kind_name() const noexcept { return multipool_kind_str(kind); }
    const char *limit_reason_name() const noexcept { return multipool_limit_reason_str(limit_reason); }
};

class session;

/// The results of a finished (or cancelled) session, polled as the loop asks for them: an input
/// range whose iteration ends once every result has been delivered. Polls `batch` at a time,
/// waiting up to `timeout` for each batch (a negative timeout waits without limit); a poll that
/// fails or times out ends the iteration with error() set. polled_range<event> (events_range)
/// is the same over a session's events.
template <class T> class polled_range {
public:
    class iterator {
    public:
        using iterator_category = std::input_iterator_tag;
        using value_type = T;
        using difference_type = std::ptrdiff_t;
        using pointer = const T *;
        using reference = const T &;

        iterator() noexcept = default;
        reference operator*() const noexcept { return range_->batch_[range_->next_]; }
        pointer operator->() const noexcept { return &range_->batch_[range_->next_]; }
        iterator &operator++()
        {
            range_->advance();
            if (range_->ended_) {
                range_ = nullptr;
            }
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator &a, const iterator &b) noexcept
        {
            return a.range_ == b.range_;
        }
        friend bool operator!=(const iterator &a, const iterator &b) noexcept { return !(a == b); }

    private:
        friend class polled_range;
        explicit iterator(polled_range *range) noexcept : range_(range) {}
        polled_range *range_ = nullptr;
    };

    iterator begin()
    {
        if (!started_) {
            started_ = true;
            fill();
        }
        return ended_ ? iterator() : iterator(this);
    }
    iterator end() noexcept { return iterator(); }
    /// Why the iteration ended early: a refused poll or a timeout; empty after MULTIPOOL_DONE.
    std::error_code error() const noexcept { return error_; }

private:
    friend class session;
    polled_range(const session &s, std::chrono::milliseconds timeout, std::size_t batch)
        : session_(&s), timeout_(timeout), batch_(batch == 0 ? 1 : batch)
    {
    }
    void advance()
    {
        if (++next_ >= count_) {
            fill();
        }
    }
    void fill();

    const session *session_;
    std::chrono::milliseconds timeout_;
    std::vector<T> batch_;
    std::size_t next_ = 0, count_ = 0;
    bool started_ = false, ended_ = false;
    std::error_code error_{};
};

/// A session's results (results()), and its events (events()).
using results_range = polled_range<result>;
using events_range = polled_range<event>;

/// A session: owns a multipool_session and frees it on destruction (which cancels what is
/// still running and joins the session's threads). Move-only.
class session {
public:
    session() : session(options{}) {}
    explicit session(const options &o)
    {
        if (o.record_policy.bits() == 0) {
            throw error(status::invalid_argument, "multipool::options::record_policy: no field set");
        }
        const multipool_options c = o.c_options();
        detail::throw_if(multipool_session_new(&c, &s_), "multipool_session_new");
    }
    session(const options &o, std::error_code &ec) noexcept
    {
        if (o.record_policy.bits() == 0) {
            ec = make_error_code(status::invalid_argument);
            return;
        }
        const multipool_options c = o.c_options();
        detail::check(multipool_session_new(&c, &s_), ec);
    }
    ~session() { multipool_session_free(s_); }
    session(session &&other) noexcept : s_(std::exchange(other.s_, nullptr)) {}
    session &operator=(session &&other) noexcept
    {
        if (this != &other) {
            multipool_session_free(std::exchange(s_, std::exchange(other.s_, nullptr)));
        }
        return *this;
    }
    session(const session &) = delete;
    session &operator=(const session &) = delete;

    /// Whether it holds a session (not after a move, abandon() or a failed non-throwing
    /// construction).
    explicit operator bool() const noexcept { return s_ != nullptr; }

    // Enqueue one path, as bytes from any of these forms, with the caller's tag.
    void enqueue(const std::uint8_t *bytes, std::size_t len, std::uint64_t tag)
    {
        detail::throw_if(raw_enqueue(bytes, len, tag), "multipool_session_enqueue");
    }
    void enqueue(const std::uint8_t *bytes, std::size_t len, std::uint64_t tag,
                 std::error_code &ec) noexcept
    {
        detail::check(raw_enqueue(bytes, len, tag), ec);
    }
    void enqueue(std::string_view path, std::uint64_t tag) { enqueue(bytes(path), path.size(), tag); }
    void enqueue(std::string_view path, std::uint64_t tag, std::error_code &ec) noexcept
    {
        enqueue(bytes(path), path.size(), tag, ec);
    }
    void enqueue(const char *path, std::uint64_t tag) { enqueue(std::string_view(path), tag); }
    void enqueue(const char *path, std::uint64_t tag, std::error_code &ec) noexcept
    {
        enqueue(std::string_view(path), tag, ec);
    }
    void enqueue(const std::string &path, std::uint64_t tag) { enqueue(std::string_view(path), tag); }
    void enqueue(const std::string &path, std::uint64_t tag, std::error_code &ec) noexcept
    {
        enqueue(std::string_view(path), tag, ec);
    }
    void enqueue(const std::filesystem::path &path, std::uint64_t tag)
    {
        enqueue(std::string_view(path.native()), tag);
    }
    void enqueue(const std::filesystem::path &path, std::uint64_t tag, std::error_code &ec) noexcept
    {
        enqueue(std::string_view(path.native()), tag, ec);
    }
#if __cplusplus >= 202002L
    void enqueue(std::span<const std::uint8_t> path, std::uint64_t tag)
    {
        enqueue(path.data(), path.size(), tag);
    }
    void enqueue(std::span<const std::byte> path, std::uint64_t tag)
    {
        enqueue(reinterpret_cast<const std::uint8_t *>(path.data()), path.size(), tag);
    }
#endif

    /// Enqueues `count` paths laid end to end in `bytes` (path i is the next `lengths[i]`
    /// bytes) with `tags[i]`, all or none (multipool_session_enqueue_buffer).
    void enqueue_buffer(const std::uint8_t *bytes, std::size_t bytes_len, const std::size_t *lengths,
                        const std::uint64_t *tags, std::size_t count)
    {
        detail::throw_if(multipool_session_enqueue_buffer(s_, bytes, bytes_len, lengths, tags, count),
                         "multipool_session_enqueue_buffer");
    }
    void enqueue_buffer(const std::uint8_t *bytes, std::size_t bytes_len, const std::size_t *lengths,
                        const std::uint64_t *tags, std::size_t count, std::error_code &ec) noexcept
    {
        detail::check(multipool_session_enqueue_buffer(s_, bytes, bytes_len, lengths, tags, count), ec);
    }

    /// Enqueues every request, all or none, in one C call (multipool_session_enqueue_records):
    /// a path whose prior record matches the file's stat under options::record_policy is
    /// answered status::unchanged with the record's digest, unread (with a chunker, without
    /// chunk events); the others are hashed. Throws multipool::error, or std::bad_alloc.
    void enqueue_records(const request *requests, std::size_t count)
    {
        detail::throw_if(raw_enqueue_records(requests, count), "multipool_session_enqueue_records");
    }
    void enqueue_records(const std::vector<request> &requests)
    {
        enqueue_records(requests.data(), requests.size());
    }
    /// As above; a failed allocation is status::resource_exhausted.
    void enqueue_records(const request *requests, std::size_t count, std::error_code &ec) noexcept
    {
        try {
            detail::check(raw_enqueue_records(requests, count), ec);
        } catch (const std::bad_alloc &) {
            ec = make_error_code(status::resource_exhausted);
        }
    }
    void enqueue_records(const std::vector<request> &requests, std::error_code &ec) noexcept
    {
        enqueue_records(requests.data(), requests.size(), ec);
    }
#if __cplusplus >= 202002L
    void enqueue_records(std::span<const request> requests)
    {
        enqueue_records(requests.data(), requests.size());
    }
#endif

    /// Enqueues every request relative to the open directory `dirfd`, all or none, in one C
    /// call (multipool_session_enqueue_at): each path is resolved from the directory as openat()
    /// resolves it, so paths longer than PATH_MAX as a whole are reachable and a directory
    /// renamed while its files wait loses none. The library holds its own duplicate of `dirfd`
    /// (one per directory in use, on Linux 5.8+) until these results are produced: close yours
    /// when this returns, never from another thread during the call. Prior records as for
    /// enqueue_records(). Throws multipool::error (status::invalid_argument for a descriptor that
    /// is negative, closed or not a directory), or std::bad_alloc.
    void enqueue_at(int dirfd, const request *requests, std::size_t count)
    {
        detail::throw_if(raw_enqueue_records(requests, count, &dirfd), "multipool_session_enqueue_at");
    }
    void enqueue_at(int dirfd, const std::vector<request> &requests)
    {
        enqueue_at(dirfd, requests.data(), requests.size());
    }
    /// As above; a failed allocation is status::resource_exhausted.
    void enqueue_at(int dirfd, const request *requests, std::size_t count, std::error_code &ec) noexcept
    {
        try {
            detail::check(raw_enqueue_records(requests, count, &dirfd), ec);
        } catch (const std::bad_alloc &) {
            ec = make_error_code(status::resource_exhausted);
        }
    }
    void enqueue_at(int dirfd, const std::vector<request> &requests, std::error_code &ec) noexcept
    {
        enqueue_at(dirfd, requests.data(), requests.size(), ec);
    }

    /// No more paths will come.
    void finish() { detail::throw_if(multipool_session_finish(s_), "multipool_session_finish"); }
    void finish(std::error_code &ec) noexcept { detail::check(multipool_session_finish(s_), ec); }
    /// Stops work; every path still gets one result.
    void cancel() { detail::throw_if(multipool_session_cancel(s_), "multipool_session_cancel"); }
    void cancel(std::error_code &ec) noexcept { detail::check(multipool_session_cancel(s_), ec); }

    /// Polls up to `out.size()` results into `out`, waiting up to `timeout` (negative: no
    /// limit) for the first. Returns how many; `status::done` in `outcome` once every result has
    /// been delivered, `status::timeout` if none came in time.
    std::size_t poll(std::vector<result> &out, std::chrono::milliseconds timeout, status &outcome,
                     std::error_code &ec) const noexcept
    {
        std::size_t n = 0;
        static_assert(sizeof(result) == sizeof(multipool_result), "result wraps the C struct");
        const multipool_status s = multipool_session_poll(
            s_, reinterpret_cast<multipool_result *>(out.data()), sizeof(multipool_result), out.size(),
            clamp(timeout), &n);
        polled(s, outcome, ec);
        return n;
    }

    /// As poll(), but also returns (with `status::woken` in `outcome` and no result) once the
    /// wake generation differs from `generation`, read before with wake_generation().
    std::size_t poll_wakeable(std::vector<result> &out, std::chrono::milliseconds timeout,
                              std::uint64_t generation, status &outcome, std::error_code &ec) const noexcept
    {
        std::size_t n = 0;
        const multipool_status s = multipool_session_poll_wakeable(
            s_, reinterpret_cast<multipool_result *>(out.data()), sizeof(multipool_result), out.size(),
            clamp(timeout), generation, &n);
        polled(s, outcome, ec);
        return n;
    }

    /// Polls up to `out.size()` events into `out`, as poll() polls results: in a session with a
    /// chunker, each file's chunks in order and then its result; in one without, its results.
    std::size_t poll_events(std::vector<event> &out, std::chrono::milliseconds timeout, status &outcome,
                            std::error_code &ec) const noexcept
    {
        std::size_t n = 0;
        static_assert(sizeof(event) == sizeof(multipool_event), "event wraps the C struct");
        const multipool_status s = multipool_session_poll_events(
            s_, reinterpret_cast<multipool_event *>(out.data()), sizeof(multipool_event), out.size(),
            clamp(timeout), &n);
        polled(s, outcome, ec);
        return n;
    }

    /// As poll_events(), but also returns (with `status::woken` in `outcome` and no event) once
    /// the wake generation differs from `generation`, as poll_wakeable() does.
    std::size_t poll_events_wakeable(std::vector<event> &out, std::chrono::milliseconds timeout,
                                     std::uint64_t generation, status &outcome, std::error_code &ec) const noexcept
    {
        std::size_t n = 0;
        const multipool_status s = multipool_session_poll_events_wakeable(
            s_, reinterpret_cast<multipool_event *>(out.data()), sizeof(multipool_event), out.size(),
            clamp(timeout), generation, &n);
        polled(s, outcome, ec);
        return n;
    }

    /// Wakes every thread in poll_wakeable() or poll_events_wakeable() without cancelling
    /// anything.
    void wake() { detail::throw_if(multipool_session_wake(s_), "multipool_session_wake"); }
    /// How many times wake() was called.
    std::uint64_t wake_generation() const
    {
        std::uint64_t generation = 0;
        detail::throw_if(multipool_session_wake_generation(s_, &generation),
                         "multipool_session_wake_generation");
        return generation;
    }
    /// A descriptor readable while results wait or the session is done, for an event loop;
    /// owned by the session (do not close or read it).
    int ready_fd() const
    {
        int fd = -1;
        detail::throw_if(multipool_session_ready_fd(s_, &fd), "multipool_session_ready_fd");
        return fd;
    }

    /// Every result, for range-for, polled `batch` at a time (see results_range).
    results_range results(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1),
                          std::size_t batch = 64) const
    {
        return results_range(*this, timeout, batch);
    }

    /// Every event, for range-for, polled `batch` at a time (see polled_range): in a session with
    /// a chunker, the only way to its chunks and results.
    events_range events(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1),
                        std::size_t batch = 256) const
    {
        return events_range(*this, timeout, batch);
    }

    /// The session's counters, or device `device`'s.
    multipool::stats stats(std::uint32_t device = MULTIPOOL_DEVICE_NONE) const
    {
        multipool::stats s;
        detail::throw_if(multipool_session_stats(s_, device, &s), "multipool_session_stats");
        return s;
    }

    /// The devices met so far.
    std::vector<device_info> devices() const
    {
        std::size_t count = 0;
        detail::throw_if(multipool_session_device_count(s_, &count), "multipool_session_device_count");
        std::vector<device_info> out;
        out.reserve(count);
        for (std::size_t i = 0; i < count; i++) {
            multipool_device d{};
            d.struct_size = sizeof d;
            detail::throw_if(multipool_session_device(s_, static_cast<std::uint32_t>(i), &d),
                             "multipool_session_device");
            out.push_back({d.index, d.kind, d.kind_source, d.threads, d.name, d.reads_limit,
                           d.reads_chosen, d.limit_reason, d.disk_order != 0});
        }
        return out;
    }

    /// Releases the session like the destructor but returns at once, even while a read is
    /// stuck in the kernel (multipool_session_abandon).
    void abandon() noexcept { multipool_session_abandon(std::exchange(s_, nullptr)); }
    /// The C handle, still owned by this object.
    multipool_session *get() const noexcept { return s_; }
    /// The C handle, now owned by the caller (free it with multipool_session_free).
    multipool_session *release() noexcept { return std::exchange(s_, nullptr); }

private:
    static const std::uint8_t *bytes(std::string_view s) noexcept
    {
        return reinterpret_cast<const std::uint8_t *>(s.data());
    }
    static std::int32_t clamp(std::chrono::milliseconds t) noexcept
    {
        if (t.count() < 0) {
            return -1;
        }
        return t.count() > INT32_MAX ? INT32_MAX : static_cast<std::int32_t>(t.count());
    }
    /// What a poll returned, as `outcome` and `ec`: MULTIPOOL_OK, DONE, TIMEOUT and WOKEN are
    /// outcomes (`ec` cleared), anything else an error too.
    static void polled(multipool_status s, status &outcome, std::error_code &ec) noexcept
    {
        outcome = detail::to_status(s);
        if (s == MULTIPOOL_OK || s == MULTIPOOL_DONE || s == MULTIPOOL_TIMEOUT || s == MULTIPOOL_WOKEN) {
            ec.clear();
        } else {
            ec = make_error_code(outcome);
        }
    }
    multipool_status raw_enqueue(const std::uint8_t *bytes, std::size_t len, std::uint64_t tag) noexcept
    {
        return multipool_session_enqueue(s_, bytes, len, tag);
    }
    /// The buffer form of the requests, built here (it may throw std::bad_alloc).
    /// The requests in the layout of the buffer forms, through multipool_session_enqueue_at
    /// relative to `*dirfd`, or multipool_session_enqueue_records where `dirfd` is null.
    multipool_status raw_enqueue_records(const request *requests, std::size_t count,
                                         const int *dirfd = nullptr) const
    {
        std::size_t total = 0;
        for (std::size_t i = 0; i < count; i++) {
            total += requests[i].path.size();
        }
        std::string buffer;
        buffer.reserve(total);
        std::vector<std::size_t> lengths(count);
        std::vector<std::uint64_t> tags(count);
        std::vector<multipool_record> records(count);
        for (std::size_t i = 0; i < count; i++) {
            buffer.append(requests[i].path);
            lengths[i] = requests[i].path.size();
            tags[i] = requests[i].tag;
            records[i] = requests[i].prior ? requests[i].prior->c_record() : multipool_record{};
        }
        if (dirfd != nullptr) {
            return multipool_session_enqueue_at(s_, *dirfd, bytes(buffer), buffer.size(), lengths.data(), tags.data(),
                                                records.data(), sizeof(multipool_record), count);
        }
        return multipool_session_enqueue_records(s_, bytes(buffer), buffer.size(), lengths.data(), tags.data(),
                                                 records.data(), sizeof(multipool_record), count);
    }

    multipool_session *s_ = nullptr;
};

namespace detail {
inline std::size_t poll_some(const session &s, std::vector<result> &out, std::chrono::milliseconds timeout,
                             status &outcome, std::error_code &ec) noexcept
{
    return s.poll(out, timeout, outcome, ec);
}
inline std::size_t poll_some(const session &s, std::vector<event> &out, std::chrono::milliseconds timeout,
                             status &outcome, std::error_code &ec) noexcept
{
    return s.poll_events(out, timeout, outcome, ec);
}
} // namespace detail

template <class T> void polled_range<T>::fill()
{
    next_ = 0;
    count_ = 0;
    status outcome = status::ok;
    while (count_ == 0) {
        count_ = detail::poll_some(*session_, batch_, timeout_, outcome, error_);
        if (error_ || outcome == status::done || outcome == status::timeout) {
            if (outcome == status::timeout) {
                error_ = make_error_code(status::timeout);
            }
            ended_ = count_ == 0;
            return;
        }
    }
}

} // namespace multipool

#endif // MULTIPOOL_HPP
