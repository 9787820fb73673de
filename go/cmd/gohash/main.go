// Command gohash is mphash in Go: it hashes files and directory trees with multipool and prints
// lines that `sha256sum -c`, `sha512sum -c` or `b3sum -c` accept.
//
//	gohash [-a sha256|sha512|blake3] [-t SPEC] [-v] PATH...
//
// Directories are walked recursively; inside them symbolic links are not followed and special
// files are skipped, as mphash does. Errors go to stderr, and any makes the exit status 1.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"github.com/multipool/multipool/go"
)

func main() {
	algorithm := flag.String("a", "sha256", "sha256 (like sha256sum), sha512 (sha512sum) or blake3 (b3sum)")
	spec := flag.String("t", "", "threads per device, e.g. ssd:8,hdd:1,dev:sdb:2,path:/mnt/nas:4")
	verbose := flag.Bool("v", false, "print the devices used, with kind and threads, on stderr")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: gohash [-a sha256|sha512|blake3] [-t SPEC] [-v] PATH...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	algorithms := map[string]multipool.Algorithm{
		"sha256": multipool.SHA256, "sha512": multipool.SHA512, "blake3": multipool.BLAKE3,
	}
	algo, ok := algorithms[*algorithm]
	if !ok {
		flag.Usage()
		os.Exit(2)
	}
	s, err := multipool.NewSession(multipool.Options{Algorithm: algo, ThreadsSpec: *spec})
	if err != nil {
		fmt.Fprintf(os.Stderr, "gohash: session: %v\n", err)
		os.Exit(2)
	}
	defer s.Close()
	var failed atomic.Bool // set by the walk and by the printing goroutine
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "gohash: "+format+"\n", args...)
		failed.Store(true)
	}

	// Paths go to the library in batches while the walk goes on; results are printed as they
	// come, by a goroutine of their own.
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		for r, err := range s.Results(context.Background()) {
			if err != nil {
				fail("%v", err)
				return
			}
			if r.Err != nil {
				fail("%v", r.Err)
				continue
			}
			writeLine(out, r.Hex(), r.Path, algo != multipool.BLAKE3)
		}
	}()
	var batch []string
	add := func(path string) {
		if batch = append(batch, path); len(batch) == 256 {
			if err := s.Add(batch...); err != nil {
				fail("%v", err)
			}
			batch = batch[:0:0]
		}
	}
	for _, arg := range flag.Args() {
		if info, err := os.Stat(arg); err == nil && info.IsDir() {
			walk(arg, add, fail)
		} else {
			add(arg) // the library reports what is wrong with it
		}
	}
	if len(batch) > 0 {
		if err := s.Add(batch...); err != nil {
			fail("%v", err)
		}
	}
	s.Finish()
	<-printed
	out.Flush()
	if *verbose {
		devices, stats, _ := s.Devices()
		for i, d := range devices {
			fmt.Fprintf(os.Stderr, "device: %d %s kind=%s threads=%d source=%s files=%d bytes=%d\n",
				d.Index, d.Name, d.Kind, d.Threads, d.Source, stats[i].FilesDone, stats[i].BytesDone)
		}
	}
	if failed.Load() {
		s.Close()
		os.Exit(1)
	}
}

// walk adds the regular files under dir; an entry that cannot be examined is an error, not
// skipped in silence. Paths are dir + "/" + name, as given (not cleaned): from "." they read
// "./name", as find and the checksum tools print them.
func walk(dir string, add func(string), fail func(string, ...any)) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		fail("%v", err)
	}
	prefix := strings.TrimRight(dir, "/") + "/"
	for _, e := range entries {
		path := prefix + e.Name()
		switch {
		case e.IsDir():
			walk(path, add, fail)
		case e.Type().IsRegular():
			add(path)
		}
	}
}

// writeLine prints a line in the checksum tools' format: a name with a backslash or a newline
// (or, for coreutils, a carriage return) is escaped, and the line starts with a backslash.
func writeLine(out *bufio.Writer, hex, name string, escapeCR bool) {
	special := "\\\n"
	if escapeCR {
		special += "\r"
	}
	if !strings.ContainsAny(name, special) {
		out.WriteString(hex + "  " + name + "\n")
		return
	}
	replacer := strings.NewReplacer("\\", "\\\\", "\n", "\\n")
	if escapeCR {
		replacer = strings.NewReplacer("\\", "\\\\", "\n", "\\n", "\r", "\\r")
	}
	out.WriteString("\\" + hex + "  " + replacer.Replace(name) + "\n")
}
