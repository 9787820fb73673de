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

static_assert(std::is_standard_layout<mp_result>::value, "mp_result is a plain C struct");
static_assert(std::is_trivially_copyable<mp_device>::value, "mp_device is a plain C struct");

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
    void operator()(mp_session *s) const { mp_session_free(s); }
};
using SessionPtr = std::unique_ptr<mp_session, SessionDeleter>;

SessionPtr new_session(const std::string &spec)
{
    mp_options options;
    CHECK(mp_options_init(&options) == MP_OK);
    options.threads_spec = reinterpret_cast<const uint8_t *>(spec.data());
    options.threads_spec_len = spec.size();
    mp_session *raw = nullptr;
    CHECK(mp_session_new(&options, &raw) == MP_OK);
    return SessionPtr(raw);
}

std::string hex(const mp_result &r)
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
    std::vector<mp_path> paths;
    for (std::size_t i = 0; i < names.size(); i++) {
        paths.push_back(mp_path{reinterpret_cast<const uint8_t *>(names[i].data()), names[i].size(),
                                static_cast<uint64_t>(i)});
    }
    CHECK(mp_session_enqueue_many(session.get(), paths.data(), paths.size()) == MP_OK);
    CHECK(mp_session_finish(session.get()) == MP_OK);
    std::vector<mp_result> results(names.size());
    std::vector<bool> seen(names.size());
    std::size_t got = 0;
    for (;;) {
        std::size_t n = 0;
        mp_status st = mp_session_poll(session.get(), results.data(), results.size(), 10000, &n);
        if (st == MP_DONE) break;
        CHECK(st == MP_OK || st == MP_TIMEOUT);
        for (std::size_t i = 0; i < n; i++) {
            const mp_result &r = results[i];
            CHECK(r.tag < names.size() && !seen[r.tag]);
            seen[r.tag] = true;
            CHECK(r.status == MP_OK);
            CHECK(hex(r) == expected[r.tag]);
            got++;
        }
    }
    CHECK(got == names.size());
    mp_counters counters{};  // value-initialised: zero, then the size this program knows
    counters.struct_size = sizeof counters;
    CHECK(mp_session_counters(session.get(), MP_DEVICE_NONE, &counters) == MP_OK);
    CHECK(counters.stats.files_done == got && counters.struct_size == sizeof counters);
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
                mp_status st = mp_session_enqueue(session.get(),
                                                  reinterpret_cast<const uint8_t *>(name.data()),
                                                  name.size(), t * per_thread + i);
                CHECK(st == MP_OK);
            }
        });
    }
    std::vector<std::thread> pollers;
    for (int p = 0; p < 2; p++) {
        pollers.emplace_back([&] {
            mp_result batch[16];
            for (;;) {
                std::size_t n = 0;
                mp_status st = mp_session_poll(session.get(), batch, 16, 10000, &n);
                if (st == MP_DONE) return;
                CHECK(st == MP_OK || st == MP_TIMEOUT);
                for (std::size_t i = 0; i < n; i++) {
                    CHECK(batch[i].tag < files);
                    CHECK(seen[batch[i].tag].fetch_add(1) == 0);
                    ok += batch[i].status == MP_OK;
                }
            }
        });
    }
    for (auto &t : threads) t.join();
    CHECK(mp_session_finish(session.get()) == MP_OK);
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
    CHECK(mp_version_number() == MULTIPOOL_VERSION_MAJOR * 10000 + MULTIPOOL_VERSION_MINOR * 100 +
                                     MULTIPOOL_VERSION_PATCH);
    test_vectors(argv[1], argv[2]);
    test_threads(argv[1]);
    std::printf("%d passed, 0 failed\n", passed);
    return 0;
}
