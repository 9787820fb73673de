package multipool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// openDir opens the directory name relative to the directory descriptor dirfd, as a walker by
// descriptors does.
func openDir(t *testing.T, dirfd int, name string) *os.File {
	t.Helper()
	fd, err := syscall.Openat(dirfd, name, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("openat %s: %v", name, err)
	}
	return os.NewFile(uintptr(fd), name)
}

// writeAt writes data to name relative to dirfd, its stamps an hour old.
func writeAt(t *testing.T, dirfd int, name string, data []byte) {
	t.Helper()
	fd, err := syscall.Openat(dirfd, name, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		t.Fatalf("openat %s: %v", name, err)
	}
	defer syscall.Close(fd)
	if _, err := syscall.Write(fd, data); err != nil {
		t.Fatal(err)
	}
	old := syscall.NsecToTimeval(time.Now().Add(-time.Hour).UnixNano())
	if err := syscall.Futimes(fd, []syscall.Timeval{old, old}); err != nil {
		t.Fatal(err)
	}
}

// collectAt runs one session over batches added with AddAt, each relative to its directory
// (closed as soon as it is added: the library holds its own duplicate), and returns the
// results by path.
func collectAt(t *testing.T, o Options, dirs []*os.File, paths [][]string, records [][]Record) map[string]Result {
	t.Helper()
	s, err := NewSession(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := 0
	for i, dir := range dirs {
		var recs []Record
		if records != nil {
			recs = records[i]
		}
		if err := s.AddAt(dir, paths[i], recs); err != nil {
			t.Fatal(err)
		}
		dir.Close()
		n += len(paths[i])
	}
	s.Finish()
	out := map[string]Result{}
	for r, err := range s.Results(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := out[r.Path]; dup {
			t.Fatalf("two results for %s", r.Path)
		}
		out[r.Path] = r
	}
	if len(out) != n {
		t.Fatalf("%d results for %d paths", len(out), n)
	}
	return out
}

func TestAddAtReachesFilesDeeperThanPathMax(t *testing.T) {
	// 24 levels of 200-byte names: about 4,800 bytes, more than PATH_MAX (4,096).
	const depth = 24
	root := t.TempDir()
	name := func(level int) string { return fmt.Sprintf("%03d%s", level, strings.Repeat("d", 197)) }
	content := func(level int) []byte { return []byte(fmt.Sprint("level ", level)) }
	top, err := os.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	dirs := []*os.File{top}
	whole := root
	for level := range depth {
		parent := int(dirs[level].Fd())
		if err := syscall.Mkdirat(parent, name(level), 0o755); err != nil {
			t.Fatalf("mkdirat at level %d: %v", level, err)
		}
		dirs = append(dirs, openDir(t, parent, name(level)))
		whole = filepath.Join(whole, name(level))
	}
	// A file in each directory but the top, named after its level.
	paths := make([][]string, len(dirs))
	for level := 1; level < len(dirs); level++ {
		f := fmt.Sprintf("f%02d", level)
		writeAt(t, int(dirs[level].Fd()), f, content(level))
		paths[level] = []string{f}
	}
	// And from each directory but the deepest, the file one level down by a two-component path.
	for level := 0; level < depth; level++ {
		paths[level] = append(paths[level], name(level)+fmt.Sprintf("/f%02d", level+1))
	}
	if _, err := os.Stat(filepath.Join(whole, fmt.Sprintf("f%02d", depth))); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Fatalf("the whole path should be too long: %v", err)
	}
	results := collectAt(t, Options{}, dirs, paths, nil)
	for level := range dirs {
		for _, p := range paths[level] {
			r := results[p]
			var want int
			fmt.Sscanf(p[len(p)-2:], "%d", &want)
			if r.Err != nil || r.Unchanged || !r.HasIdentity || r.Hex() != sha(string(content(want))) {
				t.Fatalf("level %d, %s: %+v", level, p, r)
			}
		}
	}
}

func TestAddAtFindsFilesOfADirectoryRenamedAfterTheyWereAdded(t *testing.T) {
	root := t.TempDir()
	const n = 300
	if err := os.MkdirAll(filepath.Join(root, "a", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("f%04d", i)
		if err := os.WriteFile(filepath.Join(root, "a", "sub", names[i]), []byte(fmt.Sprint("file ", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := os.Open(filepath.Join(root, "a", "sub"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddAt(dir, names, nil); err != nil {
		t.Fatal(err)
	}
	dir.Close()
	// Both the directory and its parent move; no path by name leads to the files any more.
	if err := os.Rename(filepath.Join(root, "a", "sub"), filepath.Join(root, "a", "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(root, "a"), filepath.Join(root, "b")); err != nil {
		t.Fatal(err)
	}
	s.Finish()
	seen := 0
	for r, err := range s.Results(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		var i int
		if _, err := fmt.Sscanf(r.Path, "f%04d", &i); err != nil || r.Err != nil || r.Hex() != sha(fmt.Sprint("file ", i)) {
			t.Fatalf("%+v", r)
		}
		seen++
	}
	if seen != n {
		t.Fatalf("%d results for %d paths", seen, n)
	}
}

func TestAddAtRefusesWhatIsNotADirectory(t *testing.T) {
	paths := files(t, 2)
	dir := filepath.Dir(paths[0])
	s, err := NewSession(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	file, err := os.Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if err := s.AddAt(file, []string{"f00001"}, nil); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("a regular file as the directory: %v", err)
	}
	if err := s.AddAt(nil, []string{"f00001"}, nil); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("nil as the directory: %v", err)
	}
	closed, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if err := s.AddAt(closed, []string{"f00001"}, nil); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("a closed directory: %v", err)
	}
	open, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if err := s.AddAt(open, []string{"f00001"}, []Record{}); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("records shorter than paths: %v", err)
	}
	// Nothing refused was queued, and the session goes on: one result, for the one path added.
	if err := s.AddAt(open, []string{"f00001"}, nil); err != nil {
		t.Fatal(err)
	}
	s.Finish()
	n := 0
	for r, err := range s.Results(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Path != "f00001" || r.Err != nil || r.Hex() != sha("file 1") {
			t.Fatalf("%+v", r)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("%d results", n)
	}
}

func TestAddAtWithRecordsAnswersUnchangedFilesRelativeToTheDirectory(t *testing.T) {
	paths := files(t, 4)
	dir := filepath.Dir(paths[0])
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	open := func() []*os.File {
		f, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		return []*os.File{f}
	}
	settle()
	// The records come from results of relative paths, as a walker by descriptors makes them.
	first := collectAt(t, Options{}, open(), [][]string{names}, nil)
	records := make([]Record, len(names))
	for i, name := range names {
		var ok bool
		if records[i], ok = first[name].Record(); !ok {
			t.Fatalf("%s: no record: %+v", name, first[name])
		}
	}
	// The same records with a digest no file has (it comes back only if the file is not read),
	// the last record the zero one (no record: hashed), the third for another file.
	stored := withDigest(records, fake)
	stored[3] = Record{}
	stored[2].Inode++
	second := collectAt(t, Options{}, open(), [][]string{names}, [][]Record{stored})
	for i, name := range names {
		r := second[name]
		want := sha(fmt.Sprint("file ", i))
		switch {
		case i < 2 && (!r.Unchanged || r.Err != nil || r.Digest != fake || !r.HasIdentity ||
			r.Identity.Inode != records[i].Inode):
			t.Fatalf("%s should be unchanged: %+v", name, r)
		case i >= 2 && (r.Unchanged || r.Err != nil || r.Hex() != want):
			t.Fatalf("%s should be hashed: %+v", name, r)
		}
	}
}
