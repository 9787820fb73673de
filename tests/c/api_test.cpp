// C++ test of the multipool ABI: the header used from C++11/17/20 with RAII ownership, several
// threads enqueueing and polling at once, and the shared known-answer vectors.
//
//   api_test_cpp SCRATCH_DIR VECTORS_FILE
#include "multipool.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

static_assert(std::is_standard_layout<multipool_result>::value, "multipool_result is a plain C struct");
static_assert(std::is_trivially_copyable<multipool_device>::value, "multipool_device is a plain C struct");

namespace {

int passed = 0;

void check(bool ok, const char *what, int line)
{
    if (!ok) {
        std::fprintf(stderr, "api_test.cpp:%d: check failed: %s\n", line, what);
        std::exit(1);
    }
    passed++;
}
#define CHECK(cond) check((cond), #cond, __LINE__)

struct SessionDeleter {
    void operator()(multipool_session *s) const { multipool_session_free(s); }
};
using SessionPtr = std::unique_ptr<multipool_session, SessionDeleter>;

SessionPtr new_session(const std::string &spec)
{
    multipool_options options{};  // value-initialised: every field 0 is its default
    options.struct_size = sizeof options;
    options.threads_spec = reinterpret_cast<const uint8_t *>(spec.data());
    options.threads_spec_len = spec.size();
    multipool_session *raw = nullptr;
    CHECK(multipool_session_new(&options, &raw) == MULTIPOOL_OK);
    return SessionPtr(raw);
}

std::string hex(const multipool_result &r)
{
    std::string out;
    char byte[3];
    for (uint32_t i = 0; i < r.digest_len; i++) {
        std::snprintf(byte, sizeof byte, "%02x", r.digest[i]);
        out += byte;
    }
    return out;
}

std::string expand(const std::string &spec)
{
    if (spec.compare(0, 6, "empty:") == 0) return "";
    if (spec.compare(0, 5, "text:") == 0) return spec.substr(5);
    std::size_t colon = spec.find(':', 7);
    std::size_t count = std::stoul(spec.substr(7, colon - 7));
    std::string unit = spec.substr(colon + 1), out;
    for (std::size_t i = 0; i < count; i++) out += unit;
    return out;
}

void test_vectors(const std::string &scratch, const std::string &vectors)
{
    std::ifstream in(vectors);
    CHECK(in.good());
    std::vector<std::string> names, expected;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream fields(line);
        std::string algorithm, input, digest;
        fields >> algorithm >> input >> digest;
        if (algorithm != "sha256") continue;
        names.push_back(scratch + "/cpp-vector-" + std::to_string(names.size()));
        std::ofstream(names.back(), std::ios::binary) << expand(input);
        expected.push_back(digest);
    }
    CHECK(names.size() >= 5);

    SessionPtr session = new_session("ssd:3");
    std::vector<multipool_path> paths;
    for (std::size_t i = 0; i < names.size(); i++) {
        paths.push_back(multipool_path{reinterpret_cast<const uint8_t *>(names[i].data()), names[i].size(),
                                static_cast<uint64_t>(i)});
    }
    CHECK(multipool_session_enqueue_many(session.get(), paths.data(), paths.size()) == MULTIPOOL_OK);
    CHECK(multipool_session_finish(session.get()) == MULTIPOOL_OK);
    std::vector<multipool_result> results(names.size());
    std::vector<bool> seen(names.size());
    std::size_t got = 0;
    for (;;) {
        std::size_t n = 0;
        multipool_status st = multipool_session_poll(session.get(), results.data(), sizeof(multipool_result), results.size(), 10000, &n);
        if (st == MULTIPOOL_DONE) break;
        CHECK(st == MULTIPOOL_OK || st == MULTIPOOL_TIMEOUT);
        for (std::size_t i = 0; i < n; i++) {
            const multipool_result &r = results[i];
            CHECK(r.tag < names.size() && !seen[r.tag]);
            seen[r.tag] = true;
            CHECK(r.status == MULTIPOOL_OK);
            CHECK(hex(r) == expected[r.tag]);
            got++;
        }
    }
    CHECK(got == names.size());
    multipool_stats stats{};  // value-initialised: zero, then the size this program knows
    stats.struct_size = sizeof stats;
    CHECK(multipool_session_stats(session.get(), MULTIPOOL_DEVICE_NONE, &stats) == MULTIPOOL_OK);
    CHECK(stats.files_done == got && stats.struct_size == sizeof stats);
    std::printf("known-answer vectors: %zu ok\n", got);
}

// Four threads enqueue and two poll at once; every tag must come back exactly once.
void test_threads(const std::string &scratch)
{
    const std::size_t per_thread = 250, files = 4 * per_thread;
    std::vector<std::string> names;
    for (std::size_t i = 0; i < 50; i++) {
        names.push_back(scratch + "/cpp-small-" + std::to_string(i));
        std::ofstream(names.back(), std::ios::binary) << std::string(i * 37, 'q');
    }
    SessionPtr session = new_session("");
    std::vector<std::atomic<int>> seen(files);
    std::atomic<std::size_t> ok{0};
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 4; t++) {
        threads.emplace_back([&, t] {
            for (std::size_t i = 0; i < per_thread; i++) {
                const std::string &name = names[(t * per_thread + i) % names.size()];
                multipool_status st = multipool_session_enqueue(session.get(),
                                                  reinterpret_cast<const uint8_t *>(name.data()),
                                                  name.size(), t * per_thread + i);
                CHECK(st == MULTIPOOL_OK);
            }
        });
    }
    std::vector<std::thread> pollers;
    for (int p = 0; p < 2; p++) {
        pollers.emplace_back([&] {
            multipool_result batch[16];
            for (;;) {
                std::size_t n = 0;
                multipool_status st = multipool_session_poll(session.get(), batch, sizeof(multipool_result), 16, 10000, &n);
                if (st == MULTIPOOL_DONE) return;
                CHECK(st == MULTIPOOL_OK || st == MULTIPOOL_TIMEOUT);
                for (std::size_t i = 0; i < n; i++) {
                    CHECK(batch[i].tag < files);
                    CHECK(seen[batch[i].tag].fetch_add(1) == 0);
                    ok += batch[i].status == MULTIPOOL_OK;
                }
            }
        });
    }
    for (auto &t : threads) t.join();
    CHECK(multipool_session_finish(session.get()) == MULTIPOOL_OK);
    for (auto &p : pollers) p.join();
    for (auto &s : seen) CHECK(s.load() == 1);
    CHECK(ok.load() == files);
    for (auto &name : names) std::remove(name.c_str());
    std::printf("threads: %zu files, each tag once\n", files);
}

}  // namespace

int main(int argc, char **argv)
{
    if (argc != 3) {
        std::fputs("usage: api_test_cpp SCRATCH_DIR VECTORS_FILE\n", stderr);
        return 2;
    }
    CHECK(multipool_version_number() == MULTIPOOL_VERSION_MAJOR * 10000 + MULTIPOOL_VERSION_MINOR * 100 +
                                     MULTIPOOL_VERSION_PATCH);
    test_vectors(argv[1], argv[2]);
    test_threads(argv[1]);
    std::printf("%d passed, 0 failed\n", passed);
    return 0;
}
