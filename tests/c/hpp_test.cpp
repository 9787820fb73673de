// Test of include/multipool.hpp, built as C++17 and C++20 with -Wall -Wextra -Werror -pedantic
// -Wconversion -Wshadow, run plain, under valgrind and under ASan/UBSan by tests/cpp.rs.
//
//   hpp_test SCRATCH_DIR
#include "multipool.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <system_error>
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
    for (std::uint64_t tag : {0, 1, 2, 3, 4, 5, 7}) {
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
    std::printf("%d passed, 0 failed\n", passed);
    return 0;
}
