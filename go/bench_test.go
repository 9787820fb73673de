package multipool

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkGoAPICost measures what the Go API adds per file, as benches/abi.sh does for C:
// the time inside Add (batches of 256), and the time to deliver results that are ready through
// Results. The library's own hashing is left out (it runs between the two phases). Reported as
// add-ns/path and deliver-ns/result; compare with abi.sh's C rows on the same machine.
//
//	go test -run - -bench GoAPICost -benchtime 50000x -count 5
func BenchmarkGoAPICost(b *testing.B) {
	dir, err := os.MkdirTemp("/dev/shm", "multipool-go-bench")
	if err != nil {
		b.Skip(err)
	}
	defer os.RemoveAll(dir)
	names := make([]string, b.N)
	for i := range names {
		names[i] = filepath.Join(dir, fmt.Sprintf("e%07d", i))
		os.WriteFile(names[i], nil, 0o644)
	}
	// Past the library's settle margin (1 s): a file changed within it is read again later.
	time.Sleep(1100 * time.Millisecond)
	s, err := NewSession(Options{MaxReadyResults: b.N})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += 256 {
		if err := s.Add(names[i:min(i+256, b.N)]...); err != nil {
			b.Fatal(err)
		}
	}
	added := time.Since(start)
	s.Finish()
	b.StopTimer()
	for {
		st, _ := s.Stats()
		if st.FilesDone+st.FilesFailed == uint64(b.N) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b.StartTimer()
	start = time.Now()
	n := 0
	for r, err := range s.Results(context.Background()) {
		if err != nil || r.Err != nil {
			b.Fatal(err, r.Err)
		}
		n++
	}
	delivered := time.Since(start)
	b.StopTimer()
	if n != b.N {
		b.Fatalf("%d results for %d paths", n, b.N)
	}
	b.ReportMetric(float64(added.Nanoseconds())/float64(b.N), "add-ns/path")
	b.ReportMetric(float64(delivered.Nanoseconds())/float64(b.N), "deliver-ns/result")
}
