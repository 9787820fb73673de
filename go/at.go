package multipool

import (
	"os"
	"runtime"
)

// AddAt queues paths relative to the directory dir, all of them or none, in one call into the
// library: each path is resolved from dir as openat(2) resolves it (an absolute one ignores
// dir), so a caller walking a tree by directory descriptors reaches files whose whole path is
// longer than PATH_MAX, and a directory renamed or moved while its files wait loses none of
// them. Each Result's Path is the path as given here, relative to dir.
//
// The library duplicates dir's descriptor and holds the duplicate until these paths' results
// are produced: the caller may close dir as soon as AddAt returns. On Linux 5.8 and later one
// duplicate serves every call naming the same directory while its paths wait, so a call per
// file holds one descriptor per directory. dir must not be closed by another goroutine during
// the call.
//
// records is nil, or as long as paths: records[i] is then what the caller knew of paths[i], as
// in AddWithRecords (a matching record answers the file Unchanged, unopened).
//
// Returns StatusInvalidArgument when dir is nil or not a directory, or records has the wrong
// length (nothing is queued then); an error wrapping os.ErrClosed when dir is closed; otherwise
// as Add.
func (s *Session) AddAt(dir *os.File, paths []string, records []Record) error {
	if dir == nil || (records != nil && len(records) != len(paths)) {
		return StatusInvalidArgument
	}
	// Control rather than Fd: the descriptor stays open for the call even if another goroutine
	// closes dir, and dir keeps its blocking mode.
	conn, err := dir.SyscallConn()
	if err == nil {
		var added error
		err = conn.Control(func(fd uintptr) {
			added = s.addAt(int(fd), paths, records)
		})
		if err == nil {
			runtime.KeepAlive(dir)
			return added
		}
	}
	// Control fails only for a closed file ("use of closed file", which is not os.ErrClosed).
	return &os.PathError{Op: "multipool: AddAt", Path: dir.Name(), Err: os.ErrClosed}
}
