package multipool

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// random is len bytes of a xorshift stream (the Rust tests' generator).
func random(n int, seed uint64) []byte {
	x := seed | 1
	out := make([]byte, n)
	for i := range out {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		out[i] = byte(x)
	}
	return out
}

// writeFiles writes each data under a new directory, named f0, f1..., with mtimes an hour old,
// and waits out the library's settle margin (1 s, counted from the ctime, which is now), so
// that each file is read once: attempt 1.
func writeFiles(t *testing.T, data ...[]byte) []string {
	t.Helper()
	dir := t.TempDir()
	old := time.Now().Add(-time.Hour)
	paths := make([]string, len(data))
	for i, d := range data {
		paths[i] = filepath.Join(dir, fmt.Sprint("f", i))
		if err := os.WriteFile(paths[i], d, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(paths[i], old, old)
	}
	time.Sleep(1100 * time.Millisecond)
	return paths
}

// fileEvents are one file's events: its chunks in the order they came, and its result.
type fileEvents struct {
	chunks []Chunk
	result *Result
}

// record adds e to the events of its tag, failing on a chunk after its tag's result or a second
// result: what one poller must never see.
func record(t *testing.T, tags map[uint64]*fileEvents, e Event) {
	t.Helper()
	tag := e.Chunk.Tag
	if e.Kind == EventResult {
		tag = e.Result.Tag
	}
	f := tags[tag]
	if f == nil {
		f = &fileEvents{}
		tags[tag] = f
	}
	if f.result != nil {
		t.Fatalf("tag %d: %v after its result", tag, e.Kind)
	}
	switch e.Kind {
	case EventChunk:
		f.chunks = append(f.chunks, e.Chunk)
	case EventResult:
		r := e.Result
		f.result = &r
	default:
		t.Fatalf("an event of kind %d", e.Kind)
	}
}

// allEvents finishes the session and takes every event with one Events loop, by tag.
func allEvents(t *testing.T, s *Session) map[uint64]*fileEvents {
	t.Helper()
	s.Finish()
	tags := map[uint64]*fileEvents{}
	for e, err := range s.Events(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		record(t, tags, e)
	}
	return tags
}

// byPath is tags keyed by the paths of their results (each path added once).
func byPath(t *testing.T, tags map[uint64]*fileEvents) map[string]*fileEvents {
	t.Helper()
	out := map[string]*fileEvents{}
	for tag, f := range tags {
		if f.result == nil {
			t.Fatalf("tag %d: chunks and no result", tag)
		}
		for _, c := range f.chunks {
			if c.Path != f.result.Path {
				t.Fatalf("tag %d: a chunk of %q in the file %q", tag, c.Path, f.result.Path)
			}
		}
		out[f.result.Path] = f
	}
	return out
}

// counted checks the library's contract on one file's events and returns the chunks that count
// (those of the result's attempt): the result is OK, the counted chunks are indexed 0, 1... in
// order, their number is Result.Chunks, they lie end to end and rebuild data byte for byte,
// and each digest is digest(its bytes) when digest is not nil.
func counted(t *testing.T, data []byte, f *fileEvents, digest func([]byte) []byte) []Chunk {
	t.Helper()
	r := f.result
	if r.Err != nil || r.Attempt < 1 {
		t.Fatalf("%s: %+v", r.Path, r)
	}
	var got []Chunk
	for _, c := range f.chunks {
		if c.Attempt == r.Attempt {
			got = append(got, c)
		}
	}
	if uint64(len(got)) != r.Chunks {
		t.Fatalf("%s: %d chunks of attempt %d, the result says %d", r.Path, len(got), r.Attempt, r.Chunks)
	}
	var rebuilt []byte
	for i, c := range got {
		if c.Index != uint64(i) || c.Offset != uint64(len(rebuilt)) || c.Offset+c.Length > uint64(len(data)) {
			t.Fatalf("%s: chunk %d is %+v after %d bytes", r.Path, i, c, len(rebuilt))
		}
		bytes := data[c.Offset : c.Offset+c.Length]
		if c.Digest.Len() != 32 || (digest != nil && !slices.Equal(c.Digest.Bytes(), digest(bytes))) {
			t.Fatalf("%s: chunk %d's digest %v", r.Path, i, c.Digest)
		}
		rebuilt = append(rebuilt, bytes...)
	}
	if !bytes.Equal(rebuilt, data) {
		t.Fatalf("%s: the chunks do not rebuild the file", r.Path)
	}
	return got
}

func sha256Of(b []byte) []byte {
	sum := sha256.Sum256(b)
	return sum[:]
}

// cuts are the offsets and lengths of chunks.
func cuts(chunks []Chunk) [][2]uint64 {
	out := make([][2]uint64, len(chunks))
	for i, c := range chunks {
		out[i] = [2]uint64{c.Offset, c.Length}
	}
	return out
}

// FastCDC through the real reader, with buffers smaller than a chunk and larger than the
// largest file, through the page cache and with direct reads: the library's contract on every
// file (chunks in order, SHA-256 digests of their bytes, the count in the result, the file
// rebuilt), FastCDC's bounds on every chunk, the same cuts whatever the reading, the
// whole-file digest from the same read.
func TestFastCDCChunkEvents(t *testing.T) {
	const minSize, avg, maxSize = 2048, 8192, 65536
	lengths := []int{0, 1, 63, 2048, 65536, 65537, 300_001, 3_000_000}
	data := make([][]byte, len(lengths))
	for i, n := range lengths {
		data[i] = random(n, uint64(i+1))
	}
	paths := writeFiles(t, data...)
	var first map[string][][2]uint64
	for _, o := range []Options{
		{BufferSize: 4096},
		{BufferSize: 1 << 20, DropCache: true},
		{BufferSize: 8 << 20},
	} {
		o.Chunker = FastCDC{Min: minSize, Avg: avg, Max: maxSize}
		s, err := NewSession(o)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Add(paths...); err != nil {
			t.Fatal(err)
		}
		files := byPath(t, allEvents(t, s))
		got := map[string][][2]uint64{}
		for i, p := range paths {
			f := files[p]
			if f == nil {
				t.Fatalf("%s: no events", p)
			}
			if f.result.Attempt != 1 || !slices.Equal(f.result.Digest.Bytes(), sha256Of(data[i])) {
				t.Fatalf("%s: %+v", p, f.result)
			}
			chunks := counted(t, data[i], f, sha256Of)
			for j, c := range chunks {
				if c.Length > maxSize || (c.Length < minSize && j != len(chunks)-1) || c.Length == 0 {
					t.Fatalf("%s: chunk %d of %d bytes", p, j, c.Length)
				}
			}
			got[p] = cuts(chunks)
		}
		if len(got[paths[7]]) < 3_000_000/maxSize {
			t.Fatalf("3 MB in %d chunks", len(got[paths[7]]))
		}
		if first == nil {
			first = got
		} else {
			for _, p := range paths {
				if !slices.Equal(first[p], got[p]) {
					t.Fatalf("%s: other cuts with %+v", p, o)
				}
			}
		}
	}
}

// Every normalization level, and a key, is taken; each cuts a file into chunks that rebuild
// it. The key changes the cuts (its Gear table) and keys the digests by default.
func TestFastCDCLevelsAndKey(t *testing.T) {
	data := random(2_000_000, 77)
	paths := writeFiles(t, data)
	run := func(o Options) []Chunk {
		t.Helper()
		s, err := NewSession(o)
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		defer s.Close()
		s.Add(paths...)
		var digest func([]byte) []byte
		if o.ChunkDigest == ChunkSHA256 {
			digest = sha256Of
		}
		return counted(t, data, byPath(t, allEvents(t, s))[paths[0]], digest)
	}
	fast := func(l Level) FastCDC { return FastCDC{Min: 1024, Avg: 4096, Max: 16384, Level: l} }
	byLevel := map[Level][][2]uint64{}
	for _, l := range []Level{LevelDefault, Level0, Level1, Level2, Level3} {
		byLevel[l] = cuts(run(Options{Chunker: fast(l), ChunkDigest: ChunkSHA256}))
	}
	if !slices.Equal(byLevel[LevelDefault], byLevel[Level1]) {
		t.Fatal("the default level is not level 1")
	}
	if slices.Equal(byLevel[Level0], byLevel[Level3]) {
		t.Fatal("levels 0 and 3 cut alike")
	}
	key := [32]byte{1, 2, 3}
	keyed := run(Options{Chunker: fast(LevelDefault), ChunkKey: &key, ChunkDigest: ChunkSHA256})
	if slices.Equal(cuts(keyed), byLevel[LevelDefault]) {
		t.Fatal("the key does not change the cuts")
	}
	// Keyed BLAKE3 by default with a key, unlike plain BLAKE3 over the same cuts.
	keyedDefault := run(Options{Chunker: fast(LevelDefault), ChunkKey: &key})
	plain := run(Options{Chunker: fast(LevelDefault), ChunkKey: &key, ChunkDigest: ChunkBLAKE3})
	if !slices.Equal(cuts(keyedDefault), cuts(plain)) || keyedDefault[0].Digest == plain[0].Digest {
		t.Fatal("keyed and plain BLAKE3 chunk digests")
	}
	explicit := run(Options{Chunker: fast(LevelDefault), ChunkKey: &key, ChunkDigest: ChunkBLAKE3Keyed})
	if !slices.Equal(explicit, keyedDefault) {
		t.Fatal("ChunkBLAKE3Keyed is not the default with a key")
	}
}

// Fixed chunks, exactly: SHA-256 digests, no whole-file digest asked for.
func TestFixedChunkEvents(t *testing.T) {
	data := [][]byte{random(100_000, 1), random(100_001, 2), nil, random(9_999, 4)}
	paths := writeFiles(t, data...)
	const size = 10_000
	s, err := NewSession(Options{Chunker: &Fixed{Size: size}, ChunkDigest: ChunkSHA256, NoFileDigest: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Add(paths...)
	files := byPath(t, allEvents(t, s))
	for i, p := range paths {
		f := files[p]
		chunks := counted(t, data[i], f, sha256Of)
		var want [][2]uint64
		for off := 0; off < len(data[i]); off += size {
			want = append(want, [2]uint64{uint64(off), uint64(min(size, len(data[i])-off))})
		}
		if !slices.Equal(cuts(chunks), want) {
			t.Fatalf("%s: %v, want %v", p, cuts(chunks), want)
		}
		if f.result.Digest.Len() != 0 || f.result.Size != uint64(len(data[i])) {
			t.Fatalf("%s: %+v with NoFileDigest", p, f.result)
		}
	}
}

// A BLAKE3 chunk digest is b3sum's: a file in one chunk has the chunk digest of the library's
// whole-file BLAKE3 (checked against b3sum by the other tests).
func TestBLAKE3ChunkDigestIsTheFileDigestOfOneChunk(t *testing.T) {
	data := random(100_000, 5)
	paths := writeFiles(t, data)
	s, err := NewSession(Options{Algorithm: BLAKE3, Chunker: Fixed{Size: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Add(paths...)
	f := byPath(t, allEvents(t, s))[paths[0]]
	chunks := counted(t, data, f, nil)
	if len(chunks) != 1 || chunks[0].Digest != f.result.Digest || f.result.Digest.Len() != 32 {
		t.Fatalf("%+v, file %v", chunks, f.result.Digest)
	}
}

// A file written just now is read again once its settle margin has passed: its result names
// attempt 2, and only that attempt's chunks count.
func TestAFreshFileIsReadAgainAndTheResultNamesTheAttempt(t *testing.T) {
	data := random(200_000, 9)
	path := filepath.Join(t.TempDir(), "fresh")
	os.WriteFile(path, data, 0o644)
	s, err := NewSession(Options{Chunker: FastCDC{Min: 1024, Avg: 4096, Max: 16384}, ChunkDigest: ChunkSHA256})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Add(path)
	f := byPath(t, allEvents(t, s))[path]
	counted(t, data, f, sha256Of)
	if f.result.Attempt != 2 {
		t.Fatalf("attempt %d", f.result.Attempt)
	}
}

// restic mode against restic's own chunker (github.com/restic/chunker, the program in
// tests/restic_chunker, whose path tests/go.rs gives in MULTIPOOL_RESTIC_CHUNKER): the same cuts
// and SHA-256 chunk IDs for restic's test polynomial (Restic{}) and random ones, on random
// data, zeros (cut at the 8 MiB maximum), a file under the minimum and one at it.
func TestResticModeMatchesResticsChunker(t *testing.T) {
	oracle := os.Getenv("MULTIPOOL_RESTIC_CHUNKER")
	if oracle == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must give MULTIPOOL_RESTIC_CHUNKER (tests/go.rs does)")
		}
		t.Skip("MULTIPOOL_RESTIC_CHUNKER (restic's chunker, tests/restic_chunker) not given")
	}
	data := [][]byte{random(6<<20, 11), make([]byte, 9<<20), random(1000, 12), random(512<<10, 13)}
	paths := writeFiles(t, data...)
	out, err := exec.Command(oracle, "-random", "2").Output()
	if err != nil {
		t.Fatal(err)
	}
	polys := append([]string{"0"}, strings.Fields(string(out))...)
	for _, hexPoly := range polys {
		var poly uint64
		fmt.Sscanf(strings.TrimPrefix(hexPoly, "0x"), "%x", &poly)
		s, err := NewSession(Options{Chunker: Restic{Polynomial: poly}, ChunkDigest: ChunkSHA256, NoFileDigest: true})
		if err != nil {
			t.Fatalf("%s: %v", hexPoly, err)
		}
		defer s.Close()
		s.Add(paths...)
		files := byPath(t, allEvents(t, s))
		oraclePoly := hexPoly
		if poly == 0 {
			oraclePoly = "3DA3358B4DC173"
		}
		for i, p := range paths {
			var got strings.Builder
			for _, c := range counted(t, data[i], files[p], sha256Of) {
				fmt.Fprintf(&got, "%d %d %s\n", c.Offset, c.Length, c.Digest)
			}
			want, err := exec.Command(oracle, p, oraclePoly).Output()
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != string(want) {
				t.Fatalf("%s with %s:\n%s\nrestic:\n%s", p, hexPoly, got.String(), want)
			}
		}
	}
}

// Eight goroutines iterating Events, then four calling PollEvents with room for 7 events, with
// a chunk bound of 64 (files wait for them often): each sees each file's chunks in order and
// none after the file's result; all of them together get every chunk once and every result
// once, and the counted chunks rebuild every file.
func TestSeveralGoroutinesSeeEachFilesChunksInOrder(t *testing.T) {
	data := make([][]byte, 24)
	for i := range data {
		data[i] = random(50_000+i*37_000, uint64(i+100))
	}
	paths := writeFiles(t, data...)
	for _, way := range []string{"Events", "PollEvents"} {
		s, err := NewSession(Options{
			Chunker: FastCDC{Min: 256, Avg: 1024, Max: 4096}, ChunkDigest: ChunkSHA256, MaxReadyChunks: 64,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.Add(paths...)
		s.Finish()
		goroutines := map[string]int{"Events": 8, "PollEvents": 4}[way]
		got := make([][]Event, goroutines)
		var wg sync.WaitGroup
		for g := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if way == "Events" {
					for e, err := range s.Events(context.Background()) {
						if err != nil {
							t.Error(err)
							return
						}
						got[g] = append(got[g], e)
					}
					return
				}
				buf := make([]Event, 7)
				for {
					n, err := s.PollEvents(context.Background(), buf)
					if err == io.EOF {
						return
					}
					if err != nil || n == 0 {
						t.Error(n, err)
						return
					}
					got[g] = append(got[g], buf[:n]...)
				}
			}()
		}
		wg.Wait()
		all := map[uint64]*fileEvents{}
		for g, events := range got {
			mine := map[uint64]*fileEvents{}
			last := map[[2]uint64]uint64{} // (tag, attempt): the next index
			for _, e := range events {
				record(t, mine, e) // no chunk after its result
				if e.Kind == EventChunk {
					key := [2]uint64{e.Chunk.Tag, uint64(e.Chunk.Attempt)}
					if next, ok := last[key]; ok && e.Chunk.Index < next {
						t.Fatalf("%s, goroutine %d: chunk %d after chunk %d", way, g, e.Chunk.Index, next-1)
					}
					last[key] = e.Chunk.Index + 1
				}
			}
			for tag, f := range mine {
				a := all[tag]
				if a == nil {
					a = &fileEvents{}
					all[tag] = a
				}
				a.chunks = append(a.chunks, f.chunks...)
				if f.result != nil {
					if a.result != nil {
						t.Fatalf("%s: two results for tag %d", way, tag)
					}
					a.result = f.result
				}
			}
		}
		for _, f := range all {
			slices.SortStableFunc(f.chunks, func(a, b Chunk) int { return int(a.Index) - int(b.Index) })
		}
		files := byPath(t, all)
		if len(files) != len(paths) {
			t.Fatalf("%s: %d files", way, len(files))
		}
		for i, p := range paths {
			counted(t, data[i], files[p], sha256Of)
		}
	}
}

// Breaking out of Events, or cancelling its context, loses no event and keeps a file's order
// for the goroutine that goes on; PollEvents ends with io.EOF.
func TestBreakAndCancelLoseNoEvent(t *testing.T) {
	data := random(1_000_000, 21)
	paths := writeFiles(t, data)
	s, err := NewSession(Options{Chunker: Fixed{Size: 1000}, ChunkDigest: ChunkSHA256})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Nothing added: a cancelled context ends the wait.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	for _, err := range s.Events(ctx) {
		if !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	}
	if _, err := s.PollEvents(ctx, make([]Event, 1)); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	s.Add(paths...)
	s.Finish()
	tags := map[uint64]*fileEvents{}
	for take := 1; ; take *= 3 {
		n := 0
		for e, err := range s.Events(context.Background()) {
			if err != nil {
				t.Fatal(err)
			}
			record(t, tags, e)
			if n++; n == take {
				break
			}
		}
		if n < take {
			break // the iteration ended: all delivered
		}
	}
	if n, err := s.PollEvents(context.Background(), make([]Event, 5)); n != 0 || err != io.EOF {
		t.Fatal(n, err)
	}
	chunks := counted(t, data, byPath(t, tags)[paths[0]], sha256Of)
	if len(chunks) != 1000 {
		t.Fatalf("%d chunks", len(chunks))
	}
}

// Taking chunk events allocates nothing per event, with Events or PollEvents.
func TestChunkEventsAllocateNothingEach(t *testing.T) {
	data := random(1<<20, 31)
	paths := writeFiles(t, data)
	for _, way := range []string{"Events", "PollEvents"} {
		s, err := NewSession(Options{Chunker: Fixed{Size: 64}, NoFileDigest: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.Add(paths...)
		s.Finish()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		events := 0
		if way == "Events" {
			for _, err := range s.Events(context.Background()) {
				if err != nil {
					t.Fatal(err)
				}
				events++
			}
		} else {
			buf := make([]Event, 256)
			for {
				n, err := s.PollEvents(context.Background(), buf)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				events += n
			}
		}
		runtime.ReadMemStats(&after)
		if events != 1<<20/64+1 {
			t.Fatalf("%s: %d events", way, events)
		}
		if mallocs := after.Mallocs - before.Mallocs; mallocs > uint64(events)/20 {
			t.Fatalf("%s: %d allocations for %d events", way, mallocs, events)
		}
	}
}

// Without a chunker, Events delivers the results alone, with their attempt and no chunks.
func TestEventsWithoutAChunkerAreResults(t *testing.T) {
	paths := files(t, 20)
	s, err := NewSession(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Add(append(paths, filepath.Join(filepath.Dir(paths[0]), "missing"))...)
	files := byPath(t, allEvents(t, s))
	if len(files) != 21 {
		t.Fatalf("%d results", len(files))
	}
	for i, p := range paths {
		r := files[p].result
		if len(files[p].chunks) != 0 || r.Err != nil || r.Hex() != sha(fmt.Sprint("file ", i)) ||
			r.Attempt < 1 || r.Chunks != 0 {
			t.Fatalf("%s: %+v", p, r)
		}
	}
	for p, f := range files {
		if strings.HasSuffix(p, "missing") && f.result.Err == nil {
			t.Fatalf("missing: %+v", f.result)
		}
	}
}

// Chunking options that do not hold are refused with StatusInvalidChunker; Results on a session
// with a chunker says StatusNeedsEventPoll, and the events still come.
func TestChunkerErrors(t *testing.T) {
	key := [32]byte{9}
	for _, o := range []Options{
		{Chunker: FastCDC{Min: 8192, Avg: 4096, Max: 65536}},
		{Chunker: FastCDC{Min: 1, Avg: 4096, Max: 65536}},
		{Chunker: FastCDC{Max: 1 << 30}},
		{Chunker: FastCDC{Min: -1}},
		{Chunker: FastCDC{Level: Level3 + 1}},
		{Chunker: (*FastCDC)(nil)},
		{Chunker: Fixed{}},
		{Chunker: Fixed{Size: -5}},
		{Chunker: Fixed{Size: 32 << 20}},
		{Chunker: Restic{Polynomial: 1<<53 | 2}}, // x^53 + x: x divides it
		{Chunker: Restic{Polynomial: 0x3DA3358B4DC173 << 1}},
		{ChunkDigest: ChunkSHA256},
		{ChunkKey: &key},
		{Chunker: Fixed{Size: 100}, ChunkDigest: ChunkBLAKE3Keyed},
		{Chunker: Fixed{Size: 100}, ChunkDigest: 99},
	} {
		if s, err := NewSession(o); !errors.Is(err, StatusInvalidChunker) {
			if s != nil {
				s.Close()
			}
			t.Errorf("%+v: %v", o, err)
		}
	}
	if _, err := NewSession(Options{NoFileDigest: true}); err == nil {
		t.Error("no file digest and no chunker")
	}
	if !strings.Contains(StatusInvalidChunker.Error(), "chunk") || StatusNeedsEventPoll.Error() == "" {
		t.Errorf("%q %q", StatusInvalidChunker, StatusNeedsEventPoll)
	}

	data := random(5000, 3)
	paths := writeFiles(t, data)
	s, err := NewSession(Options{Chunker: Fixed{Size: 1000}, ChunkDigest: ChunkSHA256})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Add(paths...)
	for _, err := range s.Results(context.Background()) {
		if !errors.Is(err, StatusNeedsEventPoll) {
			t.Fatalf("Results with a chunker: %v", err)
		}
	}
	if got := counted(t, data, byPath(t, allEvents(t, s))[paths[0]], sha256Of); len(got) != 5 {
		t.Fatalf("%d chunks", len(got))
	}
}

// Close from another goroutine ends Events and PollEvents waiting in it with ErrClosed.
func TestCloseEndsEventWaits(t *testing.T) {
	s, err := NewSession(Options{Chunker: Fixed{Size: 100}})
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 2)
	go func() {
		for _, err := range s.Events(context.Background()) {
			ended <- err
			return
		}
		ended <- nil
	}()
	go func() {
		_, err := s.PollEvents(context.Background(), make([]Event, 4))
		ended <- err
	}()
	time.Sleep(50 * time.Millisecond)
	s.Close()
	for range 2 {
		select {
		case err := <-ended:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("ended with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not end a wait")
		}
	}
	if _, err := s.PollEvents(context.Background(), make([]Event, 4)); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
}

// The same path added twice, and a hard link, each get chunk events of their own, told apart by
// Tag (a hard link is read once per path in a session with a chunker).
func TestEachAddedPathGetsItsChunks(t *testing.T) {
	data := random(300_000, 41)
	paths := writeFiles(t, data)
	link := paths[0] + ".link"
	if err := os.Link(paths[0], link); err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(Options{Chunker: FastCDC{Min: 1024, Avg: 4096, Max: 16384}, ChunkDigest: ChunkSHA256})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Add(paths[0], link, paths[0])
	tags := allEvents(t, s)
	if len(tags) != 3 {
		t.Fatalf("%d tags", len(tags))
	}
	var first []Chunk
	for _, f := range tags {
		if f.result == nil {
			t.Fatal("no result")
		}
		chunks := counted(t, data, f, sha256Of)
		for _, c := range f.chunks {
			if c.Path != f.result.Path {
				t.Fatalf("a chunk of %q for %q", c.Path, f.result.Path)
			}
		}
		if first == nil {
			first = chunks
		} else if !slices.Equal(cuts(first), cuts(chunks)) || len(chunks) < 10 {
			t.Fatalf("%s: %d chunks", f.result.Path, len(chunks))
		}
	}
}
