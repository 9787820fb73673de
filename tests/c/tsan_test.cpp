// ThreadSanitizer test of the hand-off through the library, built with -fsanitize=thread and
// linked against the shared and the static library by tests/cpp.rs:
//
//   tsan_test SCRATCH_DIR
//
// Four threads write a record per tag (plain, non-atomic writes) and enqueue its path with that
// tag; four threads poll and read the record of each tag they receive. The only order between
// the write and the read is the library's, which TSan sees through the library's annotations
// (src/sys.rs, `Tsan`); it must report nothing (the test runs with halt_on_error=1).
#include "multipool.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

struct record {
    std::string path;
    std::uint64_t checksum = 0;
};

constexpr std::size_t threads = 4, per_thread = 250, files = 20;

} // namespace

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fputs("usage: tsan_test SCRATCH_DIR\n", stderr);
        return 2;
    }
    std::vector<std::string> names;
    for (std::size_t i = 0; i < files; i++) {
        names.push_back(std::string(argv[1]) + "/f" + std::to_string(i));
        std::ofstream(names.back()) << "file " << i << '\n';
    }
    std::vector<record> records(threads * per_thread); // written by enqueuers, read by pollers
    multipool::session session;
    std::vector<std::thread> enqueuers;
    for (std::size_t t = 0; t < threads; t++) {
        enqueuers.emplace_back([&, t] {
            for (std::size_t i = 0; i < per_thread; i++) {
                const std::size_t tag = t * per_thread + i;
                records[tag].path = names[tag % files];
                records[tag].checksum = tag * 2654435761u;
                session.enqueue(records[tag].path, tag);
            }
        });
    }
    std::atomic<std::size_t> seen{0};
    std::atomic<bool> wrong{false};
    std::vector<std::thread> pollers;
    for (std::size_t p = 0; p < threads; p++) {
        pollers.emplace_back([&] {
            std::vector<multipool::result> batch(8);
            multipool::status outcome = multipool::status::ok;
            std::error_code ec;
            while (outcome != multipool::status::done && !ec) {
                const std::size_t n = session.poll(batch, std::chrono::milliseconds(100), outcome, ec);
                for (std::size_t i = 0; i < n; i++) {
                    const record &r = records[batch[i].tag()];
                    if (!batch[i].ok() || r.checksum != batch[i].tag() * 2654435761u || r.path.empty()) {
                        wrong = true;
                    }
                    seen++;
                }
            }
        });
    }
    for (std::thread &t : enqueuers) {
        t.join();
    }
    session.finish();
    for (std::thread &t : pollers) {
        t.join();
    }
    if (wrong || seen != threads * per_thread) {
        std::fprintf(stderr, "tsan_test: %zu results, wrong=%d\n", seen.load(), int(wrong));
        return 1;
    }
    std::printf("tsan_test: %zu results handed over by tag\n", seen.load());
    return 0;
}
