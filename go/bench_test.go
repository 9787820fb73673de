package multipool

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// BenchmarkGoAPICost measures what the Go API adds per file, as benches/abi.sh does for C:
// the time inside Add (batches of 256), and the time to deliver results that are ready through
// Results. The library's own hashing is left out (it runs between the two phases). Reported as
// add-ns/path and deliver-ns/result; benches/go_cost.sh runs it alternately with abi_cost on
// the same files and prints both.
//
//	go test -run - -bench GoAPICost -benchtime 50000x -count 5
//
// MULTIPOOL_BENCH_DIR names a directory of empty files e0000000, e0000001... to use (and
// complete) instead of a new one: benches/go_cost.sh shares abi_cost's, so that both measure
// the same paths.
func BenchmarkGoAPICost(b *testing.B) {
	dir := os.Getenv("MULTIPOOL_BENCH_DIR")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("/dev/shm", "multipool-go-bench"); err != nil {
			b.Skip(err)
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	names := make([]string, b.N)
	created := false
	for i := range names {
		names[i] = filepath.Join(dir, fmt.Sprintf("e%07d", i))
		if _, err := os.Lstat(names[i]); err != nil {
			os.WriteFile(names[i], nil, 0o644)
			created = true
		}
	}
	if created {
		// Past the library's settle margin (1 s): a file changed within it is read again later.
		time.Sleep(1100 * time.Millisecond)
	}
	// Twice, a session each: the first in a process pays for the first use of the library's
	// and the Go runtime's memory and threads (page faults, thread starts), which abi_cost's
	// rows, measured after a first session of their own, do not. Both times are reported;
	// compare the second with C. -benchmem counts the second only.
	b.StopTimer()
	b.ResetTimer()
	cold := sessionCost(b, names, false)
	c := sessionCost(b, names, true)
	perFile := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) }
	b.ReportMetric(perFile(c.added), "add-ns/path")
	b.ReportMetric(perFile(c.delivered), "deliver-ns/result")
	b.ReportMetric(perFile(c.cpu), "cpu-ns/file")
	b.ReportMetric(float64(c.allocs)/float64(b.N), "allocs/file")
	b.ReportMetric(float64(c.bytes)/float64(b.N), "B/file")
	b.ReportMetric(perFile(cold.added), "first-add-ns/path")
	b.ReportMetric(perFile(cold.delivered), "first-deliver-ns/result")
}

// cost is what one session's Add and delivery took: wall-clock time in each; the CPU time of
// the process's threads but the library's during both (goCPU); the Go allocations made.
type cost struct {
	added, delivered, cpu time.Duration
	allocs, bytes         uint64
}

// sessionCost adds names to a new session in batches of 256, waits until they are hashed, and
// delivers them. With timed, the benchmark's timer (what -benchmem counts) runs during the two.
func sessionCost(b *testing.B, names []string, timed bool) (c cost) {
	var m runtime.MemStats
	timer := func(on bool) {
		if on {
			c.cpu -= goCPU()
			runtime.ReadMemStats(&m)
			c.allocs, c.bytes = c.allocs-m.Mallocs, c.bytes-m.TotalAlloc
			if timed {
				b.StartTimer()
			}
			return
		}
		if timed {
			b.StopTimer()
		}
		runtime.ReadMemStats(&m)
		c.allocs, c.bytes = c.allocs+m.Mallocs, c.bytes+m.TotalAlloc
		c.cpu += goCPU()
	}
	s, err := NewSession(Options{MaxReadyResults: len(names)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	timer(true)
	perfPhase(timed, "add", "enable")
	start := time.Now()
	for i := 0; i < len(names); i += 256 {
		if err := s.Add(names[i:min(i+256, len(names))]...); err != nil {
			b.Fatal(err)
		}
	}
	c.added = time.Since(start)
	perfPhase(timed, "add", "disable")
	timer(false)
	s.Finish()
	for {
		st, _ := s.Stats()
		if st.FilesDone+st.FilesFailed == uint64(len(names)) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	timer(true)
	perfPhase(timed, "deliver", "enable")
	start = time.Now()
	n := 0
	for r, err := range s.Results(context.Background()) {
		if err != nil || r.Err != nil {
			b.Fatal(err, r.Err)
		}
		n++
	}
	c.delivered = time.Since(start)
	perfPhase(timed, "deliver", "disable")
	timer(false)
	if n != len(names) {
		b.Fatalf("%d results for %d paths", n, len(names))
	}
	return c
}

// goCPU is the CPU time so far of the process's threads but the library's (whose names begin
// with "mp"): the goroutines' threads, with the library calls they make, and the Go runtime's
// (the garbage collector's workers among them). Threads' CPU clocks, read by thread id.
func goCPU() time.Duration {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	var sum time.Duration
	for _, t := range tasks {
		comm, err := os.ReadFile("/proc/self/task/" + t.Name() + "/comm")
		tid, _ := strconv.Atoi(t.Name())
		if err != nil || libraryThread.Match(comm) {
			continue
		}
		// The clock of thread tid: CPUCLOCK_PERTHREAD | CPUCLOCK_SCHED (linux/posix-timers.h).
		var ts syscall.Timespec
		_, _, e := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, uintptr(^tid<<3|6),
			uintptr(unsafe.Pointer(&ts)), 0)
		if e == 0 {
			sum += time.Duration(ts.Nano())
		}
	}
	return sum
}

var libraryThread = regexp.MustCompile(`^mp[-0-9]`)

// perfPhase lets perf record one phase of the measured session only: with
// MULTIPOOL_BENCH_PERF=add (or deliver) and MULTIPOOL_BENCH_PERF_CTL=FIFO, it writes cmd
// ("enable", "disable") to the control FIFO of a perf started disabled, and gives it 20 ms:
//
//	mkfifo ctl
//	MULTIPOOL_BENCH_PERF=add MULTIPOOL_BENCH_PERF_CTL=ctl perf record -g -F 25000 \
//	    --control fifo:ctl -D -1 ./multipool.test -test.run '^$' -test.bench GoAPICost \
//	    -test.benchtime 200000x
func perfPhase(timed bool, phase, cmd string) {
	ctl := os.Getenv("MULTIPOOL_BENCH_PERF_CTL")
	if !timed || os.Getenv("MULTIPOOL_BENCH_PERF") != phase || ctl == "" {
		return
	}
	if err := os.WriteFile(ctl, []byte(cmd+"\n"), 0); err != nil {
		panic(err)
	}
	time.Sleep(20 * time.Millisecond)
}

// BenchmarkCgoCall is one call into the library that does nothing to speak of: what a cgo
// transition costs on this machine, against which Add's and delivery's per-file figures can be
// read (each makes one call per batch of 256).
func BenchmarkCgoCall(b *testing.B) {
	for range b.N {
		cgoNoop()
	}
}

// BenchmarkChunkEvents measures what taking one chunk event costs in Go, once the library has
// them ready: a file of b.N chunks of 64 bytes is cut whole first (MaxReadyChunks holds them
// all), then timed while Events (or PollEvents, 256 at a time) delivers them. Reported as
// ns/op, one op an event.
//
//	go test -run - -bench ChunkEvents -benchtime 1000000x
func BenchmarkChunkEvents(b *testing.B) {
	for _, way := range []string{"Events", "PollEvents"} {
		b.Run(way, func(b *testing.B) {
			dir, err := os.MkdirTemp("/dev/shm", "multipool-go-bench")
			if err != nil {
				b.Skip(err)
			}
			defer os.RemoveAll(dir)
			path := filepath.Join(dir, "f")
			os.WriteFile(path, make([]byte, 64*b.N), 0o644)
			old := time.Now().Add(-time.Hour)
			os.Chtimes(path, old, old)
			time.Sleep(1100 * time.Millisecond) // past the settle margin: one read
			s, err := NewSession(Options{Chunker: Fixed{Size: 64}, NoFileDigest: true,
				ChunkDigest: ChunkBLAKE3, MaxReadyChunks: b.N + 1})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			s.Add(path)
			s.Finish()
			for st, _ := s.Stats(); st.FilesDone+st.FilesFailed == 0; st, _ = s.Stats() {
				time.Sleep(time.Millisecond)
			}
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			if way == "Events" {
				for e, err := range s.Events(context.Background()) {
					if err != nil {
						b.Fatal(err)
					}
					n += int(e.Kind) & 1
				}
			} else {
				buf := make([]Event, 256)
				for {
					k, err := s.PollEvents(context.Background(), buf)
					if err != nil {
						break
					}
					for i := range buf[:k] {
						n += int(buf[i].Kind) & 1
					}
				}
			}
			b.StopTimer()
			if n != b.N {
				b.Fatalf("%d chunks for %d", n, b.N)
			}
		})
	}
}
