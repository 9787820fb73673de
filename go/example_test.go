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
