package multipool

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"syscall"
	"testing"
	"time"
)

// files writes n small files under a new directory and returns their paths; their mtimes are
// set back, so that the library's settle margin does not delay them.
func files(t *testing.T, n int) []string {
	t.Helper()
	dir := t.TempDir()
	old := time.Now().Add(-time.Hour)
	paths := make([]string, n)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("f%05d", i))
		if err := os.WriteFile(paths[i], []byte(fmt.Sprint("file ", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(paths[i], old, old)
	}
	return paths
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestDigestsErrorsAndPaths(t *testing.T) {
	paths := files(t, 300)
	dir := filepath.Dir(paths[0])
	locked := filepath.Join(dir, "locked")
	os.WriteFile(locked, nil, 0)
	s, err := NewSession(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	odd := filepath.Join(dir, "odd \xff\nname")
	os.WriteFile(odd, []byte("odd"), 0o644)
	all := append(append([]string{}, paths...), filepath.Join(dir, "missing"), dir, odd, locked)
	if err := s.Add(all...); err != nil {
		t.Fatal(err)
	}
	s.Finish()
	if err := s.Add("late"); !errors.Is(err, StatusSessionFinished) {
		t.Fatalf("Add after Finish: %v", err)
	}
	seen := map[string]Result{}
	for r, err := range s.Results(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := seen[r.Path]; dup {
			t.Fatalf("%q twice", r.Path)
		}
		seen[r.Path] = r
	}
	if len(seen) != len(all) {
		t.Fatalf("%d results for %d paths", len(seen), len(all))
	}
	for i, p := range paths {
		if r := seen[p]; r.Err != nil || r.Hex() != sha(fmt.Sprint("file ", i)) || r.Device < 0 {
			t.Fatalf("%s: %+v", p, r)
		}
	}
	if r := seen[odd]; r.Err != nil || r.Hex() != sha("odd") {
		t.Fatalf("odd name: %+v", r)
	}
	// The digest by value: its bytes, its hex, ==; none for a failure.
	want := sha256.Sum256([]byte("odd"))
	if d := seen[odd].Digest; d.Len() != 32 || !bytes.Equal(d.Bytes(), want[:]) ||
		d.String() != sha("odd") || fmt.Sprint(d) != sha("odd") || d != seen[odd].Digest ||
		d == seen[paths[0]].Digest {
		t.Fatalf("digest of odd name: %v", d)
	}
	if d := seen[dir].Digest; d != (Digest{}) || d.Len() != 0 || d.Bytes() != nil || d.String() != "" {
		t.Fatalf("digest of a failure: %v", d)
	}
	missing := seen[filepath.Join(dir, "missing")].Err
	var fe *FileError
	if !errors.Is(missing, fs.ErrNotExist) || !errors.As(missing, &fe) || fe.Errno != syscall.ENOENT {
		t.Fatalf("missing: %v", missing)
	}
	if !errors.Is(seen[dir].Err, StatusIsDirectory) {
		t.Fatalf("directory: %v", seen[dir].Err)
	}
	if os.Geteuid() != 0 && !errors.Is(seen[locked].Err, fs.ErrPermission) {
		t.Fatalf("unreadable: %v", seen[locked].Err)
	}
	stats, _ := s.Stats()
	devices, dstats, _ := s.Devices()
	if stats.FilesDone < 301 || len(devices) == 0 || devices[0].Threads < 1 || len(dstats) != len(devices) {
		t.Fatalf("stats %+v devices %+v", stats, devices)
	}
	if d := devices[0]; d.Reads < 1 || d.ReadsChosen < 1 || d.LimitReason == "" || d.LimitReason == "unknown" {
		t.Fatalf("reads in flight of %+v", d)
	}
}

func TestBadOptionsAreRefused(t *testing.T) {
	if _, err := NewSession(Options{ThreadsSpec: "ssd:0"}); !errors.Is(err, StatusInvalidSpec) {
		t.Fatalf("bad spec: %v", err)
	}
	if _, err := NewSession(Options{Algorithm: 77}); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("bad algorithm: %v", err)
	}
}

// Many goroutines add, several iterate; every path comes back once, with its digest.
func TestConcurrentAddAndResults(t *testing.T) {
	paths := files(t, 50)
	s, err := NewSession(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const adders, each = 8, 200
	var wg sync.WaitGroup
	for a := range adders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i += 20 {
				batch := make([]string, 20)
				for j := range batch {
					batch[j] = paths[(a*each+i+j)%len(paths)]
				}
				if err := s.Add(batch...); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	var mu sync.Mutex
	count := 0
	var readers sync.WaitGroup
	for range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for r, err := range s.Results(context.Background()) {
				if err != nil || r.Err != nil || r.Digest.Len() != 32 {
					t.Errorf("%v %v", err, r)
					return
				}
				mu.Lock()
				count++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	s.Finish()
	readers.Wait()
	if count != adders*each {
		t.Fatalf("%d results for %d paths", count, adders*each)
	}
}

// A cancelled context ends the iteration at once; the session goes on, and a later iteration
// delivers the rest, none lost. Breaking out of the loop loses nothing either.
func TestContextCancelAndBreakLoseNothing(t *testing.T) {
	paths := files(t, 100)
	s, err := NewSession(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		for _, err := range s.Results(ctx) {
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	time.Sleep(50 * time.Millisecond) // the iteration waits: nothing added yet
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled context did not end the iteration")
	}
	s.Add(paths...)
	s.Finish()
	got := 0
	for range s.Results(context.Background()) {
		if got++; got == 3 {
			break
		}
	}
	for _, err := range s.Results(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		got++
	}
	if got != len(paths) {
		t.Fatalf("%d of %d results", got, len(paths))
	}
}

// Goroutines waiting for results park in the network poller: fifty of them do not take fifty
// OS threads.
func TestWaitingHoldsNoThread(t *testing.T) {
	s, err := NewSession(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	threads := pprof.Lookup("threadcreate")
	before := threads.Count()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range s.Results(ctx) {
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	grew := threads.Count() - before
	cancel()
	wg.Wait()
	if grew > 10 {
		t.Fatalf("50 waiting goroutines created %d OS threads", grew)
	}
}

// Close from another goroutine ends every iteration with ErrClosed; Close twice is fine, and
// calls after it say ErrClosed.
func TestCloseEndsIterationsAndIsIdempotent(t *testing.T) {
	s, err := NewSession(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 3)
	for range 3 {
		go func() {
			for _, err := range s.Results(context.Background()) {
				if err != nil {
					ended <- err
					return
				}
			}
			ended <- nil
		}()
	}
	time.Sleep(50 * time.Millisecond)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); s.Close() }()
	}
	wg.Wait()
	for range 3 {
		select {
		case err := <-ended:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("ended with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not end an iteration")
		}
	}
	if err := s.Add("x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
	if _, err := s.Stats(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Stats after Close: %v", err)
	}
	s.Close()
}

// Cancel: every path still gets exactly one result.
func TestCancel(t *testing.T) {
	paths := files(t, 20)
	s, err := NewSession(Options{ThreadsSpec: "ssd:1,hdd:1,ram:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var many []string
	for range 200 {
		many = append(many, paths...)
	}
	s.Add(many...)
	s.Cancel()
	got, cancelled := 0, 0
	for r, err := range s.Results(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		got++
		if errors.Is(r.Err, StatusCancelled) {
			cancelled++
		}
	}
	if got != len(many) {
		t.Fatalf("%d results for %d paths", got, len(many))
	}
	t.Logf("%d of %d cancelled", cancelled, got)
}
