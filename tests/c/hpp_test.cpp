// Test of include/multipool.hpp, built as C++17 and C++20 with -Wall -Wextra -Werror -pedantic
// -Wconversion -Wshadow, run plain, under valgrind and under ASan/UBSan by tests/cpp.rs.
//
//   hpp_test SCRATCH_DIR
#include "multipool.hpp"

#include <cstdio>
#include <fcntl.h>
#include <unistd.h>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <system_error>
#include <sys/stat.h>
#include <thread>
#include <type_traits>
#include <utility>

namespace {

int passed = 0;

void check(bool ok, const char *what, int line)
{
    if (!ok) {
        std::fprintf(stderr, "hpp_test.cpp:%d: check failed: %s\n", line, what);
        std::exit(1);
    }
    passed++;
}
#define CHECK(cond) check((cond), #cond, __LINE__)

static_assert(!std::is_copy_constructible<multipool::session>::value, "a session is move-only");
static_assert(std::is_nothrow_move_constructible<multipool::session>::value, "moves cannot throw");
static_assert(std::is_error_code_enum<multipool::status>::value, "status converts to error_code");

[[maybe_unused]] const char *const sha256_abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
[[maybe_unused]] const char *const blake3_abc = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";

std::string write(const std::string &dir, const std::string &name, const std::string &text)
{
    std::string path = dir + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

void test_errors_and_category()
{
    const std::error_code missing = multipool::status::not_found;
    CHECK(missing == std::errc::no_such_file_or_directory);
    CHECK(missing.category() == multipool::category());
    CHECK(std::string(missing.category().name()) == "multipool");
    CHECK(missing.message() == "no such file or directory");
    CHECK(std::error_code(multipool::status::permission_denied) == std::errc::permission_denied);
    CHECK(std::error_code(multipool::status::cancelled) == std::errc::operation_canceled);
    CHECK(std::error_code(multipool::status::changed) != std::errc::io_error);

    // A refused call: thrown as multipool::error, or reported through error_code.
    multipool::options bad;
    bad.threads_spec = "ssd:0";
    bool thrown = false;
    try {
        multipool::session s(bad);
    } catch (const multipool::error &e) {
        thrown = e.code() == multipool::status::invalid_threads_spec;
    }
    CHECK(thrown);
    std::error_code ec;
    multipool::session refused(bad, ec);
    CHECK(ec == multipool::status::invalid_threads_spec && ec == std::errc::invalid_argument);
    CHECK(!refused);
    std::puts("errors and category: ok");
}

void test_hash_and_iterate(const std::string &dir)
{
    const std::string abc = write(dir, "abc", "abc");
#if __cplusplus >= 202002L
    multipool::session session({.algorithm = multipool::algorithm::blake3, .disk_order = false});
    const char *const want = blake3_abc;
#else
    multipool::session session;
    const char *const want = sha256_abc;
#endif
    // Every form of path: std::string_view, const char *, std::string, filesystem::path, bytes,
    // and a buffer of paths end to end (below).
    session.enqueue(std::string_view(abc), 0);
    session.enqueue(abc.c_str(), 1);
    session.enqueue(abc, 2);
    session.enqueue(std::filesystem::path(abc), 3);
    session.enqueue(reinterpret_cast<const std::uint8_t *>(abc.data()), abc.size(), 4);
#if __cplusplus >= 202002L
    session.enqueue(std::span<const std::byte>(std::as_bytes(std::span(abc))), 5);
#else
    session.enqueue(abc, 5);
#endif
    // The last one, missing, comes end to end with the first in one buffer.
    const std::string missing = dir + "/missing";
    const std::string both = abc + missing;
    const std::size_t lengths[2] = {abc.size(), missing.size()};
    const std::uint64_t tags[2] = {7, 6};
    std::error_code short_ec;
    session.enqueue_buffer(reinterpret_cast<const std::uint8_t *>(both.data()), both.size() - 1, lengths, tags, 2,
                           short_ec);
    CHECK(short_ec == multipool::status::invalid_argument);
    session.enqueue_buffer(reinterpret_cast<const std::uint8_t *>(both.data()), both.size(), lengths, tags, 2);
    session.finish();

    std::error_code ec;
    session.enqueue(abc, 7, ec);
    CHECK(ec == multipool::status::session_finished);
    bool thrown = false;
    try {
        session.enqueue(abc, 7);
    } catch (const std::system_error &e) {
        thrown = e.code() == multipool::status::session_finished;
    }
    CHECK(thrown);

    std::map<std::uint64_t, multipool::result> by_tag;
    auto results = session.results(std::chrono::milliseconds(30000), 2);
    for (const multipool::result &r : results) {
        CHECK(by_tag.emplace(r.tag(), r).second);
    }
    CHECK(!results.error());
    CHECK(by_tag.size() == 8);
    for (std::uint64_t tag : {0U, 1U, 2U, 3U, 4U, 5U, 7U}) {
        const multipool::result &r = by_tag[tag];
        CHECK(r.ok() && !r.error() && r.size() == 3);
        CHECK(r.hex() == want);
        CHECK(r.digest().size() == 32);
    }
    const multipool::result &gone = by_tag[6];
    CHECK(gone.status() == multipool::status::not_found);
    CHECK(gone.error() == std::errc::no_such_file_or_directory);
    CHECK(gone.device() == MULTIPOOL_DEVICE_NONE && gone.hex().empty());

    const multipool::stats whole = session.stats();
    CHECK(whole.files_done == 7 && whole.files_failed == 1);
    const auto devices = session.devices();
    CHECK(!devices.empty() && !devices[0].name.empty() && devices[0].threads >= 1);
    CHECK(devices[0].reads_limit >= 1 && devices[0].reads_chosen >= 1);
    CHECK(std::string(devices[0].limit_reason_name()) != "unknown");
    CHECK(session.stats(devices[0].index).files_done == 7);
    std::puts("hash and iterate: ok");
}

void test_move_cancel_and_abandon(const std::string &dir)
{
    const std::string path = write(dir, "big", std::string(1 << 20, 'x'));
    multipool::session first;
    multipool::session second(std::move(first));
    CHECK(!first && second);
    for (std::uint64_t tag = 0; tag < 200; tag++) {
        second.enqueue(path, tag);
    }
    second.cancel();
    std::size_t count = 0, cancelled = 0;
    for (const multipool::result &r : second.results()) {
        count++;
        cancelled += r.status() == multipool::status::cancelled;
        CHECK(r.ok() || r.status() == multipool::status::cancelled);
    }
    CHECK(count == 200);
    first = std::move(second); // the moved-to session frees what it held (nothing) and takes over
    CHECK(first && !second);
    first.abandon();
    CHECK(!first);
    std::printf("move, cancel and abandon: ok (%zu of 200 cancelled)\n", cancelled);
}

void test_wake_and_ready_fd()
{
    multipool::session session;
    const int fd = session.ready_fd();
    CHECK(fd >= 0 && session.ready_fd() == fd);
    const std::uint64_t generation = session.wake_generation();
    session.wake();
    std::vector<multipool::result> batch(4);
    multipool::status outcome = multipool::status::ok;
    std::error_code ec;
    CHECK(session.poll_wakeable(batch, std::chrono::milliseconds(-1), generation, outcome, ec) == 0);
    CHECK(!ec && outcome == multipool::status::woken);
    CHECK(session.wake_generation() == generation + 1);
    // The same for events, in a session with a chunker.
    multipool::options o;
    o.chunker = multipool::chunker::fastcdc;
    multipool::session chunking(o);
    const std::uint64_t before = chunking.wake_generation();
    chunking.wake();
    std::vector<multipool::event> events(4);
    CHECK(chunking.poll_events_wakeable(events, std::chrono::milliseconds(-1), before, outcome, ec) == 0);
    CHECK(!ec && outcome == multipool::status::woken);
    std::puts("wake and ready fd: ok");
}


/// Chunks: a fixed chunker cuts "abcabcabc" into three "abc", whose digests are known; events()
/// brings each file's chunks and then its result; results() says needs_event_poll.
void test_chunks_and_events(const std::string &dir)
{
    const std::string path = write(dir, "abc3", "abcabcabc");
    multipool::options o;
    o.chunker = multipool::chunker::fixed;
    o.chunk_avg = 3;
    multipool::session session(o);
    session.enqueue(path, 1);
    session.enqueue(dir + "/missing", 2);
    session.finish();
    auto refused = session.results(std::chrono::milliseconds(0));
    for (const multipool::result &r : refused) {
        CHECK(r.tag() == 0 && false); // no result comes through poll in a chunking session
    }
    CHECK(refused.error() == multipool::status::needs_event_poll);
    std::map<std::uint64_t, std::vector<multipool::event>> chunks;
    std::map<std::uint64_t, multipool::result> results;
    auto events = session.events(std::chrono::milliseconds(30000), 2);
    for (const multipool::event &e : events) {
        if (e.is_chunk()) {
            CHECK(e.type() == multipool::event::kind::chunk);
            CHECK(results.count(e.tag()) == 0); // chunks before their file's result
            chunks[e.tag()].push_back(e);
        } else if (e.is_result()) {
            CHECK(e.result().tag() == e.tag() && e.result().attempt() == e.attempt());
            CHECK(results.emplace(e.tag(), e.result()).second);
        }
    }
    CHECK(!events.error());
    CHECK(results.size() == 2 && chunks.count(2) == 0);
    const multipool::result &r = results[1];
    CHECK(r.ok() && r.digest().size() == 32 && r.chunks() == 3 && r.size() == 9);
    std::uint64_t next = 0, index = 0;
    for (const multipool::event &c : chunks[1]) {
        if (c.attempt() != r.attempt()) {
            continue; // a first read of a file read again: not its chunks
        }
        CHECK(c.index() == index++ && c.offset() == next && c.length() == 3);
        CHECK(c.hex() == sha256_abc && c.digest().size() == 32);
        next += c.length();
    }
    CHECK(index == 3 && next == 9);
    CHECK(results[2].status() == multipool::status::not_found && results[2].attempt() == 0);

    // BLAKE3 chunk digests, and no whole-file digest.
    o.chunk_digest = multipool::chunk_digest::blake3;
    o.file_digest = false;
    multipool::session blake(o);
    blake.enqueue(path, 3);
    blake.finish();
    std::size_t counted = 0;
    std::vector<multipool::event> seen;
    std::vector<multipool::event> batch(8);
    multipool::status outcome = multipool::status::ok;
    std::error_code ec;
    while (outcome != multipool::status::done) {
        const std::size_t n = blake.poll_events(batch, std::chrono::milliseconds(30000), outcome, ec);
        CHECK(!ec && outcome != multipool::status::timeout);
        seen.insert(seen.end(), batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(n));
    }
    CHECK(!seen.empty() && seen.back().is_result());
    const multipool::result last = seen.back().result();
    CHECK(last.ok() && last.digest().size() == 0 && last.chunks() == 3);
    for (const multipool::event &e : seen) {
        if (e.is_chunk() && e.attempt() == last.attempt()) {
            CHECK(e.hex() == blake3_abc);
            counted++;
        }
    }
    CHECK(counted == 3);

    // A key: keyed BLAKE3 chunk digests, the same for the same bytes, unlike plain BLAKE3's.
    multipool::options keyed;
    keyed.chunker = multipool::chunker::fixed;
    keyed.chunk_avg = 3;
    keyed.chunk_key = std::array<std::uint8_t, 32>{{1, 2, 3}};
    multipool::session with_key(keyed);
    with_key.enqueue(path, 4);
    with_key.finish();
    std::vector<std::string> digests;
    std::uint32_t attempt = 0;
    for (const multipool::event &e : with_key.events()) {
        if (e.is_chunk()) {
            digests.push_back(std::to_string(e.attempt()) + e.hex());
        } else {
            attempt = e.result().attempt();
            CHECK(e.result().ok() && e.result().chunks() == 3);
        }
    }
    std::size_t keyed_chunks = 0;
    for (const std::string &d : digests) {
        if (d.substr(0, 1) == std::to_string(attempt)) {
            CHECK(d.substr(1) != blake3_abc && d == digests.back());
            keyed_chunks++;
        }
    }
    CHECK(keyed_chunks == 3);
    std::puts("chunks and events: ok");
}

void test_chunk_options_refused_and_results_as_events(const std::string &dir)
{
    multipool::options level4;
    level4.chunker = multipool::chunker::fastcdc;
    level4.chunk_level = 4;
    bool thrown = false;
    try {
        multipool::session s(level4);
    } catch (const multipool::error &e) {
        thrown = e.code() == multipool::status::invalid_chunker && e.code() == std::errc::invalid_argument;
    }
    CHECK(thrown);
    std::error_code ec;
    multipool::options level_for_restic;
    level_for_restic.chunker = multipool::chunker::restic;
    level_for_restic.chunk_level = 0;
    multipool::session refused(level_for_restic, ec);
    CHECK(ec == multipool::status::invalid_chunker && !refused);
    multipool::options reducible;
    reducible.chunker = multipool::chunker::restic;
    reducible.chunk_polynomial = 0x38f1e565e288df;
    multipool::session refused_too(reducible, ec);
    CHECK(ec == multipool::status::invalid_chunker && !refused_too);
    multipool::options level0;
    level0.chunker = multipool::chunker::fastcdc;
    level0.chunk_level = 0;
    level0.chunk_min = 64;
    level0.chunk_avg = 256;
    level0.chunk_max = 1024;
    multipool::session accepted(level0, ec);
    CHECK(!ec && accepted);

    // A session without a chunker: its results come as events too.
    const std::string abc = write(dir, "abc-events", "abc");
    multipool::session plain;
    plain.enqueue(abc, 9);
    plain.finish();
    std::size_t count = 0;
    for (const multipool::event &e : plain.events()) {
        CHECK(e.is_result() && e.tag() == 9 && e.result().ok() && e.result().hex() == sha256_abc);
        CHECK(e.result().chunks() == 0);
        count++;
    }
    CHECK(count == 1);
    std::puts("chunk options refused, results as events: ok");
}

std::int64_t ns(const struct timespec &t) { return std::int64_t{t.tv_sec} * 1000000000 + t.tv_nsec; }

/// Waits out the settle margin (1 s): a record vouches only for a file stamped before it.
void settle() { std::this_thread::sleep_for(std::chrono::milliseconds(1100)); }

/// Hashes `requests` in one session with `policy`; the results by tag, and the counters.
std::map<std::uint64_t, multipool::result> run_records(const std::vector<multipool::request> &requests,
                                                       multipool::record_policy policy, multipool::stats *stats)
{
    multipool::options o;
    o.record_policy = policy;
    multipool::session session(o);
    session.enqueue_records(requests);
    session.finish();
    std::map<std::uint64_t, multipool::result> by_tag;
    for (const multipool::result &r : session.results(std::chrono::milliseconds(30000))) {
        CHECK(by_tag.emplace(r.tag(), r).second);
    }
    if (stats != nullptr) {
        *stats = session.stats();
    }
    return by_tag;
}

/// Identities in results, records made from them, and enqueue_records(): a matching record
/// answers unchanged() with its digest, unread; a lying one, another algorithm's, or none is
/// hashed; a chmod (ctime only) defeats restic's policy and not mtime_size's.
void test_records_and_identities(const std::string &dir)
{
    const std::string path = write(dir, "recorded", "abc");
    settle();
    struct stat st{};
    CHECK(::stat(path.c_str(), &st) == 0);

    multipool::session first;
    first.enqueue(path, 0);
    first.finish();
    std::optional<multipool::record> kept;
    for (const multipool::result &r : first.results()) {
        CHECK(r.ok() && r.has_digest() && !r.unchanged() && r.has_identity());
        const auto id = r.identity();
        CHECK(id.has_value());
        CHECK(id->size == 3 && id->inode == static_cast<std::uint64_t>(st.st_ino));
        CHECK(id->device_id == static_cast<std::uint64_t>(st.st_dev) && id->mode == st.st_mode);
        CHECK(id->mtime_ns == ns(st.st_mtim) && id->ctime_ns == ns(st.st_ctim));
        kept = multipool::record::of(r, multipool::algorithm::sha256);
    }
    CHECK(kept.has_value() && kept->present() && kept->hex() == sha256_abc);
    CHECK(kept->size() == 3 && kept->inode() == static_cast<std::uint64_t>(st.st_ino));
    CHECK(kept->device_id() == std::optional<std::uint64_t>(static_cast<std::uint64_t>(st.st_dev)));
    CHECK(!kept->without_device().device_id().has_value());
    CHECK(!multipool::record().present());
    // A missing file's result has no identity, and makes no record.
    CHECK(!multipool::result().has_identity() && !multipool::result().identity());

    // What the caller stored: the same fields, a digest of its own (returned only if it vouches).
    const std::array<std::uint8_t, 32> stored{0xAB, 0xCD};
    const multipool::record mine(multipool::algorithm::sha256, kept->size(), kept->mtime_ns(), kept->ctime_ns(),
                                 kept->inode(), multipool::digest_bytes{stored.data(), stored.size()});
    const multipool::record lying(multipool::algorithm::sha256, kept->size() + 1, kept->mtime_ns(),
                                  kept->ctime_ns(), kept->inode(),
                                  multipool::digest_bytes{stored.data(), stored.size()});
    const multipool::record other(multipool::algorithm::blake3, kept->size(), kept->mtime_ns(), kept->ctime_ns(),
                                  kept->inode(), multipool::digest_bytes{stored.data(), stored.size()});
    const multipool::record short_digest(multipool::algorithm::sha256, kept->size(), kept->mtime_ns(),
                                         kept->ctime_ns(), kept->inode(),
                                         multipool::digest_bytes{stored.data(), 16});
    const std::string missing = dir + "/not-there";
    const std::vector<multipool::request> requests = {
        {path, 0, kept},  {path, 1, mine},         {path, 2, lying}, {path, 3, other},
        {path, 4, short_digest}, {path, 5, std::nullopt}, {missing, 6, kept},
    };
    multipool::stats stats;
    auto results = run_records(requests, multipool::record_policy{}, &stats);
    CHECK(results.size() == 7);
    CHECK(results[0].unchanged() && results[0].status() == multipool::status::unchanged);
    CHECK(!results[0].ok() && results[0].has_digest() && !results[0].error());
    CHECK(results[0].hex() == sha256_abc && results[0].attempt() == 0 && results[0].size() == 3);
    CHECK(results[0].has_identity() && results[0].identity()->inode == kept->inode());
    CHECK(results[1].unchanged() && results[1].digest().size() == 32 && results[1].digest()[0] == 0xAB);
    for (std::uint64_t tag : {2U, 3U, 4U, 5U}) {
        CHECK(results[tag].ok() && results[tag].hex() == sha256_abc && results[tag].attempt() == 1);
    }
    CHECK(results[6].status() == multipool::status::not_found && !results[6].has_identity());
    CHECK(!multipool::record::of(results[6], multipool::algorithm::sha256));
    CHECK(stats.files_unchanged == 2 && stats.files_done == 4 && stats.files_failed == 1);
    // A record from an unchanged result is the same record again.
    CHECK(multipool::record::of(results[1], multipool::algorithm::sha256)->digest()[1] == 0xCD);

    // The error_code form; a finished session refuses, all or nothing.
    multipool::session finished;
    finished.finish();
    std::error_code ec;
    finished.enqueue_records(requests, ec);
    CHECK(ec == multipool::status::session_finished);
    bool thrown = false;
    try {
        const std::array<std::uint8_t, 65> too_long{};
        multipool::record r(multipool::algorithm::sha512, 0, 0, 0, 0,
                            multipool::digest_bytes{too_long.data(), too_long.size()});
    } catch (const multipool::error &e) {
        thrown = e.code() == multipool::status::invalid_argument;
    }
    CHECK(thrown);

    // The presets; chmod moves ctime only.
    CHECK(multipool::record_policy::restic().bits() == MULTIPOOL_RECORD_POLICY_RESTIC);
    CHECK(multipool::record_policy::borg().bits() == MULTIPOOL_RECORD_POLICY_BORG);
    CHECK(multipool::record_policy::mtime_size().bits() == MULTIPOOL_RECORD_POLICY_MTIME_SIZE);
    CHECK(multipool::options{}.c_options().record_policy == MULTIPOOL_RECORD_POLICY_RESTIC);
    // No field at all is refused, not taken for C's 0 (restic's).
    multipool::options empty_policy;
    empty_policy.record_policy = {false, false, false, false, false};
    multipool::session refused(empty_policy, ec);
    CHECK(ec == multipool::status::invalid_argument && !refused);
    thrown = false;
    try {
        multipool::session s(empty_policy);
    } catch (const multipool::error &e) {
        thrown = e.code() == multipool::status::invalid_argument;
    }
    CHECK(thrown);
    CHECK(::chmod(path.c_str(), 0600) == 0);
    settle();
    const std::vector<multipool::request> again = {{path, 0, kept}};
    CHECK(run_records(again, multipool::record_policy::restic(), nullptr)[0].ok());
    CHECK(run_records(again, multipool::record_policy::borg(), nullptr)[0].ok());
    CHECK(run_records(again, multipool::record_policy::mtime_size(), nullptr)[0].unchanged());
    multipool::record_policy device = multipool::record_policy::mtime_size();
    device.device = true;
    const multipool::record elsewhere(multipool::algorithm::sha256, kept->size(), kept->mtime_ns(),
                                      kept->ctime_ns(), kept->inode(), kept->digest(), *kept->device_id() + 1);
    CHECK(run_records({{path, 0, elsewhere}}, multipool::record_policy::mtime_size(), nullptr)[0].unchanged());
    CHECK(run_records({{path, 0, elsewhere}}, device, nullptr)[0].ok());
    std::puts("records and identities: ok");
}

/// enqueue_at(): paths relative to an open directory, resolved from it even after the
/// directory is renamed and the caller's descriptor closed; a bad descriptor is refused.
void test_enqueue_at(const std::string &dir)
{
    // Names of this run's own: the test runs several times over one scratch directory.
    const std::string sub = dir + "/at-" + std::to_string(::getpid());
    CHECK(::mkdir(sub.c_str(), 0755) == 0);
    write(sub, "one", "abc");
    write(sub, "two", "abc");
    settle();
    int fd = ::open(sub.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(fd >= 0);
    multipool::session session;
    const std::vector<multipool::request> requests = {{"one", 1, std::nullopt}, {"two", 2, std::nullopt}};
    session.enqueue_at(fd, requests);
    CHECK(::close(fd) == 0);
    const std::string moved = sub + "-moved";
    CHECK(::rename(sub.c_str(), moved.c_str()) == 0);
    session.finish();
    std::size_t n = 0;
    for (const multipool::result &r : session.results()) {
        CHECK(r.ok() && r.hex() == sha256_abc && (r.tag() == 1 || r.tag() == 2));
        n++;
    }
    CHECK(n == 2);
    std::error_code ec;
    multipool::session refusing;
    refusing.enqueue_at(-1, requests, ec);
    CHECK(ec == multipool::status::invalid_argument);
    const int file = ::open((moved + "/one").c_str(), O_RDONLY | O_CLOEXEC);
    CHECK(file >= 0);
    refusing.enqueue_at(file, requests, ec);
    CHECK(ec == multipool::status::invalid_argument);
    bool thrown = false;
    try {
        refusing.enqueue_at(file, requests);
    } catch (const multipool::error &e) {
        thrown = e.code() == multipool::status::invalid_argument;
    }
    CHECK(thrown);
    ::close(file);
    std::puts("enqueue_at: ok");
}

} // namespace

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fputs("usage: hpp_test SCRATCH_DIR\n", stderr);
        return 2;
    }
    const std::string dir = argv[1];
    test_errors_and_category();
    test_hash_and_iterate(dir);
    test_move_cancel_and_abandon(dir);
    test_wake_and_ready_fd();
    test_chunks_and_events(dir);
    test_chunk_options_refused_and_results_as_events(dir);
    test_records_and_identities(dir);
    test_enqueue_at(dir);
    std::printf("%d passed, 0 failed\n", passed);
    return 0;
}
