package multipool_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/multipool/multipool/go"
)

// Hashing files and reading each result with its path.
func ExampleSession() {
	dir, _ := os.MkdirTemp("", "multipool-example")
	defer os.RemoveAll(dir)
	abc := filepath.Join(dir, "abc")
	os.WriteFile(abc, []byte("abc"), 0o644)

	s, err := multipool.NewSession(multipool.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	s.Add(abc, filepath.Join(dir, "missing"))
	s.Finish()
	for r, err := range s.Results(context.Background()) {
		if err != nil {
			panic(err)
		}
		if r.Err != nil {
			fmt.Println(filepath.Base(r.Path), "missing:", errors.Is(r.Err, fs.ErrNotExist))
			continue
		}
		fmt.Println(filepath.Base(r.Path), r.Hex())
	}
	// Unordered output:
	// abc ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
	// missing missing: true
}

// BLAKE3, as b3sum computes it, and the session's counters.
func ExampleOptions() {
	dir, _ := os.MkdirTemp("", "multipool-example")
	defer os.RemoveAll(dir)
	abc := filepath.Join(dir, "abc")
	os.WriteFile(abc, []byte("abc"), 0o644)

	s, err := multipool.NewSession(multipool.Options{Algorithm: multipool.BLAKE3, ThreadsSpec: "ssd:2"})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	s.Add(abc)
	s.Finish()
	for r, err := range s.Results(context.Background()) {
		if err != nil {
			panic(err)
		}
		fmt.Println(r.Hex())
	}
	stats, _ := s.Stats()
	fmt.Println(stats.FilesDone, "file,", stats.BytesDone, "bytes")
	// Output:
	// 6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85
	// 1 file, 3 bytes
}

// A digest is a value: its raw bytes, its hex (String), compared with ==.
func ExampleDigest() {
	dir, _ := os.MkdirTemp("", "multipool-example")
	defer os.RemoveAll(dir)
	abc := filepath.Join(dir, "abc")
	os.WriteFile(abc, []byte("abc"), 0o644)

	s, err := multipool.NewSession(multipool.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	s.Add(abc)
	s.Finish()
	for r, err := range s.Results(context.Background()) {
		if err != nil || r.Err != nil {
			panic(fmt.Sprint(err, r.Err))
		}
		want := sha256.Sum256([]byte("abc"))
		fmt.Println(r.Digest.Len(), bytes.Equal(r.Digest.Bytes(), want[:]))
		fmt.Println(r.Digest)
	}
	// Output:
	// 32 true
	// ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
}

// Chunks as events: each file's chunks come in order, then its result, which says which read
// of the file (Attempt) its chunks must come from and how many there are. A backup tool keeps
// a file's chunks by Tag until its result, and drops them if the result has an Err or another
// Attempt.
func ExampleSession_Events() {
	dir, _ := os.MkdirTemp("", "multipool-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "ten")
	os.WriteFile(path, []byte("abcdefghij"), 0o644)

	s, err := multipool.NewSession(multipool.Options{
		Chunker:     multipool.Fixed{Size: 4}, // or FastCDC{Min, Avg, Max}, Restic{Polynomial}
		ChunkDigest: multipool.ChunkSHA256,
	})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	s.Add(path)
	s.Finish()
	chunks := map[uint64][]multipool.Chunk{} // by tag, until the file's result
	for e, err := range s.Events(context.Background()) {
		if err != nil {
			panic(err)
		}
		switch e.Kind {
		case multipool.EventChunk:
			chunks[e.Chunk.Tag] = append(chunks[e.Chunk.Tag], e.Chunk)
		case multipool.EventResult:
			r := e.Result
			got := chunks[r.Tag]
			delete(chunks, r.Tag)
			if r.Err != nil {
				fmt.Println(r.Err) // the file's chunks, if any came, are not to be kept
				continue
			}
			fmt.Println(filepath.Base(r.Path), r.Chunks, "chunks,", r.Hex())
			for _, c := range got {
				if c.Attempt == r.Attempt { // chunks of an earlier read do not count
					fmt.Println(c.Index, c.Offset, c.Length, c.Digest)
				}
			}
		}
	}
	// Output:
	// ten 3 chunks, 72399361da6a7754fec986dca5b7cbaf1c810a28ded4abaf56b2106d06cb78b0
	// 0 0 4 88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589
	// 1 4 4 e5e088a0b66163a0a26a5e053d2a4496dc16ab6e0e3dd1adf2d16aa84a078c9d
	// 2 8 2 c9df9c3f2963b19b9b95f58c4d33b053fa9f8586dd6ee04126e52a868f882108
}

// The nightly loop of a backup tool: each result's Record is kept, and the next run adds every
// path with its record. A file whose stat still matches (here under the default, restic's
// policy: mtime, ctime, size and inode) is not opened: its result is Unchanged, with the
// stored digest and Err nil, so the same loop takes hashed and unchanged files.
func ExampleSession_AddWithRecords() {
	dir, _ := os.MkdirTemp("", "multipool-example")
	defer os.RemoveAll(dir)
	abc := filepath.Join(dir, "abc")
	os.WriteFile(abc, []byte("abc"), 0o644)
	time.Sleep(1100 * time.Millisecond) // a file stamped within 1 s of now is always read

	kept := map[string]multipool.Record{} // a backup tool stores these with its snapshot
	for run := 1; run <= 2; run++ {
		s, err := multipool.NewSession(multipool.Options{RecordPolicy: multipool.RecordPolicyRestic})
		if err != nil {
			panic(err)
		}
		paths := []string{abc}
		records := make([]multipool.Record, len(paths)) // the zero Record: none, hash the file
		for i, p := range paths {
			records[i] = kept[p]
		}
		s.AddWithRecords(paths, records)
		s.Finish()
		for r, err := range s.Results(context.Background()) {
			if err != nil || r.Err != nil {
				panic(fmt.Sprint(err, r.Err))
			}
			if rec, ok := r.Record(); ok {
				kept[r.Path] = rec
			}
			fmt.Println(run, filepath.Base(r.Path), "unchanged:", r.Unchanged, r.Hex())
		}
		stats, _ := s.Stats()
		fmt.Println(run, "read:", stats.FilesDone, "unchanged:", stats.FilesUnchanged)
		s.Close()
	}
	// Output:
	// 1 abc unchanged: false ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
	// 1 read: 1 unchanged: 0
	// 2 abc unchanged: true ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
	// 2 read: 0 unchanged: 1
}
