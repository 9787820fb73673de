// Command restic_chunker is the oracle for multipool's restic-compatible chunker: restic's own
// chunker (github.com/restic/chunker v0.4.0, vendored under vendor/ by `go mod vendor`, BSD-2-Clause
// as its vendor/github.com/restic/chunker/LICENSE says) cuts a file with a polynomial, and this
// prints one line per chunk, "OFFSET LENGTH SHA256HEX" (decimal, decimal, lowercase hex).
//
//	restic_chunker FILE POLYHEX   chunks of FILE, cut with the polynomial POLYHEX (with or without 0x)
//	restic_chunker -random N      N random irreducible polynomials of degree 53, one a line, in hex
//	restic_chunker -bench POLYHEX the paths on stdin (one a line) chunked in sequence on one
//	                              goroutine, as restic's archiver reads a file, with SHA-256 of
//	                              every chunk; prints "CHUNKS SUM" (the sum of each ID's first
//	                              byte), for benches/chunking.rs
package main

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/restic/chunker"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-random" {
		n, err := strconv.Atoi(os.Args[2])
		check(err)
		for i := 0; i < n; i++ {
			p, err := chunker.RandomPolynomial()
			check(err)
			fmt.Println(p)
		}
		return
	}
	if len(os.Args) == 3 && os.Args[1] == "-bench" {
		bench(parsePol(os.Args[2]))
		return
	}
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: restic_chunker FILE POLYHEX | restic_chunker -random N")
		os.Exit(2)
	}
	pol := parsePol(os.Args[2])
	f, err := os.Open(os.Args[1])
	check(err)
	defer f.Close()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	c := chunker.New(f, pol)
	buf := make([]byte, chunker.MaxSize)
	for {
		chunk, err := c.Next(buf)
		if err == io.EOF {
			break
		}
		check(err)
		fmt.Fprintf(out, "%d %d %x\n", chunk.Start, chunk.Length, sha256.Sum256(chunk.Data))
	}
}

func parsePol(text string) chunker.Pol {
	pol, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(text), "0x"), 16, 64)
	check(err)
	return chunker.Pol(pol)
}

// bench chunks every file named on stdin in turn with one chunker and one buffer, reused as
// restic reuses them.
func bench(pol chunker.Pol) {
	var chunks, sum uint64
	buf := make([]byte, chunker.MaxSize)
	c := chunker.New(nil, pol)
	lines := bufio.NewScanner(os.Stdin)
	for lines.Scan() {
		f, err := os.Open(lines.Text())
		check(err)
		c.Reset(f, pol)
		for {
			chunk, err := c.Next(buf)
			if err == io.EOF {
				break
			}
			check(err)
			id := sha256.Sum256(chunk.Data)
			chunks++
			sum += uint64(id[0])
		}
		check(f.Close())
	}
	check(lines.Err())
	fmt.Println(chunks, sum)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "restic_chunker:", err)
		os.Exit(1)
	}
}
