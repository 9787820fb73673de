// Package multipool hashes many files as fast as the hardware allows, with one thread pool per
// physical storage device, through libmultipool's C API.
//
// A Session takes paths (Add), hashes them on its own threads, and delivers one Result per path
// through Results, an iterator that waits on the library's readiness descriptor in Go's network
// poller: a goroutine waiting for results holds no OS thread, and cancelling its context stops
// the delivery (not the session: Cancel does that).
//
//	s, err := multipool.NewSession(multipool.Options{Algorithm: multipool.BLAKE3})
//	if err != nil { ... }
//	defer s.Close()
//	s.Add(paths...)
//	s.Finish()
//	for r, err := range s.Results(ctx) {
//		if err != nil { return err }      // the context ended, or the session was closed
//		if r.Err != nil { log.Print(r.Err) } // this file's error: errors.Is(r.Err, fs.ErrNotExist)...
//		fmt.Println(r.Hex(), r.Path)
//	}
//
// With Options.Chunker (FastCDC, Restic or Fixed), each file is also cut into chunks while it is
// read, and Events (or PollEvents) delivers each file's chunks, in order, then its result; see
// Events for what a caller may rely on.
//
// Every Result carries the file's Identity as it was hashed (size, mtime and ctime in
// nanoseconds, inode, device number, mode), and Result.Record makes of it the record to keep for
// next time. AddWithRecords adds paths with such records: a file whose stat still matches its
// record under Options.RecordPolicy is answered without being opened (Result.Unchanged, with the
// record's digest and Err nil), every other file is hashed. AddAt adds paths relative to an open
// directory, as openat resolves them: past PATH_MAX, and safe against the directory's renaming.
//
// Linking: by default the package links the installed library found by pkg-config (`#cgo
// pkg-config: multipool`); with the build tag multipool_static it links the static archive
// placed inside the module by `make go-static` (see the repository's README, "Go").
//
// Every method may be called from any goroutine. Close is idempotent.
package multipool

/*
#include <stdlib.h>
#include <multipool.h>
*/
import "C"

import (
	"context"
	"errors"
	"io/fs"
	"iter"
	"math"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// Algorithm is a hash algorithm.
type Algorithm uint32

// The algorithms; digests are identical to sha256sum's, sha512sum's and b3sum's.
const (
	SHA256 Algorithm = C.MULTIPOOL_ALGORITHM_SHA256
	SHA512 Algorithm = C.MULTIPOOL_ALGORITHM_SHA512
	BLAKE3 Algorithm = C.MULTIPOOL_ALGORITHM_BLAKE3
)

// Options configure a session. The zero value is the default for every field.
type Options struct {
	// Algorithm: SHA256 when zero.
	Algorithm Algorithm
	// ThreadsSpec overrides threads per device kind, device or path, e.g. "ssd:8,hdd:1"
	// (README, "Devices, kinds and the threads spec"). Empty: the defaults.
	ThreadsSpec string
	// NoFollowSymlinks reports a path that is a symbolic link instead of hashing its target.
	NoFollowSymlinks bool
	// DropCache drops each file's pages from the page cache once hashed.
	DropCache bool
	// NoDiskOrder reads a hard disk's files in arrival order instead of on-disk order.
	NoDiskOrder bool
	// NoDirectIO never reads with O_DIRECT (which is used only with DropCache: see
	// MULTIPOOL_FLAG_NO_DIRECT_IO).
	NoDirectIO bool
	// BufferSize per worker thread in bytes; 0: 1 MiB.
	BufferSize int
	// InFlightPerThread tasks per pool thread; 0: 2.
	InFlightPerThread int
	// MaxReadyResults kept for polling before hashing pauses; 0: 65,536.
	MaxReadyResults int

	// Chunker cuts each file into chunks while it is read, delivered by Events and PollEvents
	// (Results then refuses with StatusNeedsEventPoll): FastCDC, Restic or Fixed. nil: none.
	Chunker Chunker
	// ChunkDigest of each chunk; ChunkDigestDefault: BLAKE3 keyed with ChunkKey if there is
	// one, else BLAKE3 when Algorithm is BLAKE3, else SHA-256.
	ChunkDigest ChunkDigest
	// ChunkKey, if not nil, keys the chunk digests (keyed BLAKE3 by default) and FastCDC's Gear
	// table (README, "Chunks for backups"). Copied by NewSession.
	ChunkKey *[32]byte
	// NoFileDigest computes no whole-file digest, only chunks (needs a Chunker): results have
	// no Digest.
	NoFileDigest bool
	// MaxReadyChunks is how many chunk events wait for polling before the files making them
	// pause; 0: 65,536.
	MaxReadyChunks int

	// RecordPolicy names the fields of a prior record (AddWithRecords) that must equal the
	// file's stat for the file to be answered from the record, unopened (Result.Unchanged);
	// the zero value is RecordPolicyRestic (mtime, ctime, size, inode).
	RecordPolicy RecordPolicy
}

// Status is a status code of the C API. As an error, it matches fs.ErrNotExist and
// fs.ErrPermission where it means them.
type Status uint32

// The statuses a Go caller meets; every code has a description (Error).
const (
	StatusOK                = Status(C.MULTIPOOL_OK)
	StatusInvalidArgument   = Status(C.MULTIPOOL_ERR_INVALID_ARGUMENT)
	StatusInvalidSpec       = Status(C.MULTIPOOL_ERR_INVALID_THREADS_SPEC)
	StatusSessionFinished   = Status(C.MULTIPOOL_ERR_SESSION_FINISHED)
	StatusSessionCancelled  = Status(C.MULTIPOOL_ERR_SESSION_CANCELLED)
	StatusResourceExhausted = Status(C.MULTIPOOL_ERR_RESOURCE_EXHAUSTED)
	StatusNotFound          = Status(C.MULTIPOOL_ERR_NOT_FOUND)
	StatusPermissionDenied  = Status(C.MULTIPOOL_ERR_PERMISSION_DENIED)
	StatusIsDirectory       = Status(C.MULTIPOOL_ERR_IS_DIRECTORY)
	StatusChanged           = Status(C.MULTIPOOL_ERR_CHANGED)
	StatusCancelled         = Status(C.MULTIPOOL_ERR_CANCELLED)
	// StatusInvalidChunker: NewSession refused the chunking options (sizes out of range or
	// order, a level above 3, a restic polynomial that is not irreducible of degree 53, a
	// chunk digest or key that does not go with the chunker).
	StatusInvalidChunker = Status(C.MULTIPOOL_ERR_INVALID_CHUNKER)
	// StatusNeedsEventPoll: Results on a session with a Chunker, whose results come through
	// Events or PollEvents, with its chunks.
	StatusNeedsEventPoll = Status(C.MULTIPOOL_ERR_NEEDS_EVENT_POLL)
	// StatusUnchanged is the C API's status of a file answered from its prior record
	// (AddWithRecords) without being opened. It is never a Result's Err: such a Result has
	// Unchanged set, Err nil and the record's digest (see Result.Unchanged).
	StatusUnchanged = Status(C.MULTIPOOL_UNCHANGED)
)

// Error is the library's description of the code.
func (s Status) Error() string {
	return C.GoString(C.multipool_status_str(C.multipool_status(s)))
}

// Is reports whether the status means target: fs.ErrNotExist, fs.ErrPermission.
func (s Status) Is(target error) bool {
	switch target {
	case fs.ErrNotExist:
		return s == StatusNotFound
	case fs.ErrPermission:
		return s == StatusPermissionDenied
	}
	return false
}

// ErrClosed is returned by calls on a closed session, and ends a Results iteration when the
// session is closed under it.
var ErrClosed = errors.New("multipool: session closed")

// FileError is why one file has no digest. It unwraps to its Status and, when the system gave
// one, its syscall.Errno: errors.Is(err, fs.ErrNotExist) holds for a missing file either way.
type FileError struct {
	Path   string
	Status Status
	Errno  syscall.Errno
}

func (e *FileError) Error() string {
	if e.Errno != 0 {
		return e.Path + ": " + e.Errno.Error()
	}
	return e.Path + ": " + e.Status.Error()
}

// Unwrap gives the status and the errno.
func (e *FileError) Unwrap() []error {
	if e.Errno != 0 {
		return []error{e.Status, e.Errno}
	}
	return []error{e.Status}
}

// Result is one path's outcome.
type Result struct {
	// Path as given to Add.
	Path string
	// Digest, held by value (a Result allocates nothing); its Len is 0 when Err is set. For an
	// Unchanged file, the digest its record gave, not one computed now.
	Digest Digest
	// Algorithm of Digest: the session's.
	Algorithm Algorithm
	// Size in bytes hashed (for a failure, the size where known).
	Size uint64
	// Device is the index of the device that read the file (see Devices; for an Unchanged
	// file, the device it is on), -1 if none did.
	Device int
	// Err is why there is no digest, a *FileError; nil when hashed, and nil when Unchanged.
	Err error
	// Unchanged is true when the file's stat matched the record it was added with
	// (AddWithRecords) under Options.RecordPolicy: the file was not opened, Digest is the
	// record's, Attempt is 0 and it has no chunk events. Err is nil, so that one loop takes
	// hashed and unchanged files alike (both have a Digest to keep); a caller that must know
	// which files were read looks here, or at Stats.FilesUnchanged.
	Unchanged bool
	// Identity is the file as it was hashed (for an Unchanged file, as its stat matched the
	// record), when HasIdentity: what to keep as the file's record for next time (Record).
	Identity Identity
	// HasIdentity is true when Identity is set: for every file with a Digest, and for no file
	// that failed before it was looked at.
	HasIdentity bool
	// Tag tells apart the paths added to the session (the same path added twice has two): the
	// Tag of the file's chunk events (Chunk.Tag).
	Tag uint64
	// Attempt is the read of the file the result comes from: 1, or 2 for a file so fresh that
	// it was read again; 0 for a file never read. Only chunk events of this attempt count.
	Attempt int
	// Chunks is how many chunks the file was cut into (its chunk events of Attempt), when Err
	// is nil, in a session with a Chunker; 0 without one.
	Chunks uint64
}

// Hex is the digest in lower-case hex, as sha256sum prints it.
func (r Result) Hex() string {
	return r.Digest.String()
}

// Digest is a file's digest, by value: 32 bytes for SHA256 and BLAKE3, 64 for SHA512. The zero
// Digest (of a failed file) has none. Digests compare with ==.
type Digest struct {
	sum [C.MULTIPOOL_MAX_DIGEST_LEN]byte // bytes past n are zero
	n   uint8
}

// Len is the digest's length in bytes; 0 when there is none.
func (d Digest) Len() int { return int(d.n) }

// Bytes returns the digest's raw bytes, in a new slice; nil when there is none.
func (d Digest) Bytes() []byte {
	if d.n == 0 {
		return nil
	}
	return append([]byte(nil), d.sum[:d.n]...)
}

// String is the digest in lower-case hex, as sha256sum prints it; "" when there is none.
func (d Digest) String() string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*d.n)
	for i, b := range d.sum[:d.n] {
		out[2*i], out[2*i+1] = digits[b>>4], digits[b&15]
	}
	return string(out)
}

// Stats are a session's or a device's progress counters. FilesDone + FilesFailed +
// FilesCancelled + FilesUnchanged counts the results produced so far.
type Stats struct {
	FilesQueued, BytesQueued, FilesDone, BytesDone, FilesFailed, FilesCancelled, FilesFromCache uint64
	// FilesUnchanged: files answered from their prior record (Result.Unchanged), not read, and
	// not counted in FilesDone.
	FilesUnchanged uint64
}

// Device is a storage device the session has met.
type Device struct {
	Index   int
	Name    string
	Kind    string // "ssd", "hdd", "ram", "network", "removable" or "unknown"
	Source  string // how the kind was decided: "sysfs", "mountinfo", "override", "virtual"
	Threads int
	// Reads is the number of reads the device may have in flight now, and ReadsChosen the one it
	// settled on (they differ while it probes another).
	Reads, ReadsChosen int
	// LimitReason says why: "pinned", "kind", "startup", "settled", "probing" or
	// "seek-penalty".
	LimitReason string
	// DiskOrder is true when the device's files are read in on-disk order (a hard disk, declared
	// or found by its seek penalty).
	DiskOrder bool
}

// Session hashes the paths added to it. Create it with NewSession, and Close it.
type Session struct {
	h     *handle
	paths pathTable
	alg   Algorithm // Options.Algorithm, SHA256 for zero: Result.Algorithm

	readyOnce sync.Once
	readyFd   C.int // the library's readiness descriptor, asked for on the first Results
	readyErr  error

	// Each iteration waits on a duplicate of the descriptor of its own: Go's poller is
	// edge-triggered and lets one goroutine wait per file, so one file shared by several
	// iterations would hand an edge to one while another, queued behind it, waits for the next.
	itersMu sync.Mutex
	iters   map[*os.File]struct{}
	closed  bool

	// Results the library delivered that an iteration stopped before handing out; the next
	// iteration hands them out first.
	pendingMu sync.Mutex
	pending   []Result

	// A poll of events and the lookup of their paths, as one step (see pollEvents); the events
	// an iteration of Events stopped before handing out, for the next poll to hand out first.
	eventsMu      sync.Mutex
	pendingEvents []Event
}

// handle is the C session, apart from Session so that a cleanup can free it once the Session
// is unreachable.
type handle struct {
	mu sync.RWMutex // read: a call into the session; write: freeing it
	s  *C.multipool_session
}

// NewSession starts a session.
func NewSession(o Options) (*Session, error) {
	var c C.multipool_options
	c.struct_size = C.size_t(unsafe.Sizeof(c))
	c.algorithm = C.uint32_t(o.Algorithm)
	var flags C.uint32_t
	if o.NoFollowSymlinks {
		flags |= C.MULTIPOOL_FLAG_NO_FOLLOW_SYMLINKS
	}
	if o.DropCache {
		flags |= C.MULTIPOOL_FLAG_DROP_CACHE
	}
	if o.NoDiskOrder {
		flags |= C.MULTIPOOL_FLAG_NO_DISK_ORDER
	}
	if o.NoDirectIO {
		flags |= C.MULTIPOOL_FLAG_NO_DIRECT_IO
	}
	if o.NoFileDigest {
		flags |= C.MULTIPOOL_FLAG_NO_FILE_DIGEST
	}
	c.flags = flags
	if o.BufferSize < 0 || o.InFlightPerThread < 0 || o.MaxReadyResults < 0 ||
		uint64(o.InFlightPerThread) > 1<<32-1 || uint64(o.MaxReadyResults) > 1<<32-1 {
		return nil, StatusInvalidArgument
	}
	c.buffer_size = C.size_t(o.BufferSize)
	c.in_flight_per_thread = C.uint32_t(o.InFlightPerThread)
	c.max_ready_results = C.uint32_t(o.MaxReadyResults)
	c.record_policy = C.uint32_t(o.RecordPolicy)
	if err := o.chunking(&c); err != nil {
		return nil, err
	}
	if o.ThreadsSpec != "" {
		// C memory: cgo forbids passing a struct that holds a Go pointer.
		spec := C.CBytes([]byte(o.ThreadsSpec))
		defer C.free(spec)
		c.threads_spec = (*C.uint8_t)(spec)
		c.threads_spec_len = C.size_t(len(o.ThreadsSpec))
	}
	h := &handle{}
	if st := C.multipool_session_new(&c, &h.s); st != C.MULTIPOOL_OK {
		return nil, Status(st)
	}
	s := &Session{h: h, alg: o.Algorithm}
	if s.alg == 0 {
		s.alg = SHA256
	}
	// A session dropped without Close still gets its threads joined and memory freed.
	runtime.AddCleanup(s, func(h *handle) { h.free() }, h)
	return s, nil
}

func (h *handle) free() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.s != nil {
		C.multipool_session_free(h.s)
		h.s = nil
	}
}

// call runs f with the live C session, or returns ErrClosed.
func (h *handle) call(f func(*C.multipool_session) C.multipool_status) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.s == nil {
		return ErrClosed
	}
	if st := f(h.s); st != C.MULTIPOOL_OK {
		return Status(st)
	}
	return nil
}

// Add queues paths, all of them or none, in one call into the library. Paths are byte strings:
// any bytes but NUL make a name; what is wrong with one (missing, a directory...) comes back as
// its Result.
func (s *Session) Add(paths ...string) error {
	return s.add(paths, nil)
}

// add queues paths, with records[i] for paths[i] when records is not nil, in one call into the
// library.
func (s *Session) add(paths []string, records []Record) error {
	return s.addAt(noDir, paths, records)
}

// noDir is addAt's dirfd for paths resolved as given (not relative to a directory).
const noDir = math.MinInt

// addAt queues paths, relative to dirfd unless it is noDir (then as Add does), with records[i]
// for paths[i] when records is not nil, in one call into the library.
func (s *Session) addAt(dirfd int, paths []string, records []Record) error {
	if len(paths) == 0 {
		return nil
	}
	// One buffer and plain arrays: no memory passed to C holds a Go pointer. They are reused
	// from call to call (a pool, since Add may run on several goroutines at once).
	sc := addScratch.Get().(*scratch)
	defer addScratch.Put(sc)
	buf, lengths, tags := sc.buf[:0], sc.lengths[:0], sc.tags[:0]
	first := s.paths.add(paths)
	for i, p := range paths {
		buf = append(buf, p...)
		lengths = append(lengths, C.size_t(len(p)))
		tags = append(tags, C.uint64_t(first+uint64(i)))
	}
	sc.buf, sc.lengths, sc.tags = buf, lengths, tags
	var bytes *C.uint8_t
	if len(buf) > 0 {
		bytes = (*C.uint8_t)(unsafe.Pointer(&buf[0]))
	}
	var err error
	var crecords []C.multipool_record
	if records != nil {
		crecords = sc.records[:0]
		for i := range records {
			crecords = append(crecords, records[i].c())
		}
		sc.records = crecords
	}
	switch {
	case dirfd != noDir:
		var recs *C.multipool_record // NULL: no records
		if crecords != nil {
			recs = &crecords[0]
		}
		err = s.h.call(func(cs *C.multipool_session) C.multipool_status {
			return C.multipool_session_enqueue_at(cs, C.int32_t(dirfd), bytes, C.size_t(len(buf)),
				&lengths[0], &tags[0], recs, C.size_t(unsafe.Sizeof(C.multipool_record{})), C.size_t(len(paths)))
		})
	case records == nil:
		err = s.h.call(func(cs *C.multipool_session) C.multipool_status {
			return C.multipool_session_enqueue_buffer(cs, bytes, C.size_t(len(buf)), &lengths[0], &tags[0],
				C.size_t(len(paths)))
		})
	default:
		err = s.h.call(func(cs *C.multipool_session) C.multipool_status {
			return C.multipool_session_enqueue_records(cs, bytes, C.size_t(len(buf)), &lengths[0], &tags[0],
				&crecords[0], C.size_t(unsafe.Sizeof(crecords[0])), C.size_t(len(paths)))
		})
	}
	if err != nil {
		s.paths.drop(first, len(paths))
	}
	return err
}

// scratch is the memory one Add hands the library: the paths end to end, their lengths, their
// tags.
type scratch struct {
	buf     []byte
	lengths []C.size_t
	tags    []C.uint64_t
	records []C.multipool_record // AddWithRecords and AddAt with records only
}

var addScratch = sync.Pool{New: func() any { return new(scratch) }}

// Finish declares that no more paths will be added; Results ends once all are delivered.
func (s *Session) Finish() error {
	return s.h.call(func(cs *C.multipool_session) C.multipool_status {
		return C.multipool_session_finish(cs)
	})
}

// Cancel stops the work: files being read stop at their next buffer and every path still gets
// its Result (with StatusCancelled for those not hashed). It implies Finish.
func (s *Session) Cancel() error {
	return s.h.call(func(cs *C.multipool_session) C.multipool_status {
		return C.multipool_session_cancel(cs)
	})
}

// Stats are the session's counters.
func (s *Session) Stats() (Stats, error) {
	return s.stats(C.MULTIPOOL_DEVICE_NONE)
}

func (s *Session) stats(device C.uint32_t) (Stats, error) {
	var c C.multipool_stats
	c.struct_size = C.size_t(unsafe.Sizeof(c))
	err := s.h.call(func(cs *C.multipool_session) C.multipool_status {
		return C.multipool_session_stats(cs, device, &c)
	})
	return Stats{
		FilesQueued: uint64(c.files_queued), BytesQueued: uint64(c.bytes_queued),
		FilesDone: uint64(c.files_done), BytesDone: uint64(c.bytes_done),
		FilesFailed: uint64(c.files_failed), FilesCancelled: uint64(c.files_cancelled),
		FilesFromCache: uint64(c.files_from_cache), FilesUnchanged: uint64(c.files_unchanged),
	}, err
}

// Devices lists the devices met so far, with their counters.
func (s *Session) Devices() ([]Device, []Stats, error) {
	var devices []Device
	var stats []Stats
	err := s.h.call(func(cs *C.multipool_session) C.multipool_status {
		var count C.size_t
		if st := C.multipool_session_device_count(cs, &count); st != C.MULTIPOOL_OK {
			return st
		}
		for i := C.uint32_t(0); C.size_t(i) < count; i++ {
			var d C.multipool_device
			d.struct_size = C.size_t(unsafe.Sizeof(d))
			if st := C.multipool_session_device(cs, i, &d); st != C.MULTIPOOL_OK {
				return st
			}
			devices = append(devices, Device{
				Index:   int(d.index),
				Name:    C.GoString(&d.name[0]),
				Kind:    C.GoString(C.multipool_kind_str(d.kind)),
				Source:  C.GoString(C.multipool_kind_source_str(d.kind_source)),
				Threads: int(d.threads),

				Reads:       int(d.reads_limit),
				ReadsChosen: int(d.reads_chosen),
				LimitReason: C.GoString(C.multipool_limit_reason_str(d.limit_reason)),
				DiskOrder:   d.disk_order != 0,
			})
		}
		return C.MULTIPOOL_OK
	})
	for _, d := range devices {
		st, e := s.stats(C.uint32_t(d.Index))
		if e != nil {
			return nil, nil, e
		}
		stats = append(stats, st)
	}
	return devices, stats, err
}

// Close frees the session: work still running is cancelled, and Close returns once the
// session's threads have exited. Iterations of Results in other goroutines end with ErrClosed.
// Safe to call more than once, from any goroutine.
func (s *Session) Close() error {
	s.itersMu.Lock()
	s.closed = true
	for f := range s.iters {
		f.Close() // wakes the iteration waiting on it
	}
	s.itersMu.Unlock()
	s.h.free()
	return nil
}

func (s *Session) isClosed() bool {
	s.itersMu.Lock()
	defer s.itersMu.Unlock()
	return s.closed
}

// waitFile is a new duplicate of the library's readiness descriptor, in Go's network poller,
// for one iteration; done closes it. The library owns its own descriptor and closes it when
// the session is freed.
func (s *Session) waitFile() (f *os.File, done func(), err error) {
	s.readyOnce.Do(func() {
		s.readyErr = s.h.call(func(cs *C.multipool_session) C.multipool_status {
			return C.multipool_session_ready_fd(cs, &s.readyFd)
		})
	})
	if s.readyErr != nil {
		return nil, nil, s.readyErr
	}
	s.itersMu.Lock()
	defer s.itersMu.Unlock()
	if s.closed {
		return nil, nil, ErrClosed
	}
	dup, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(s.readyFd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return nil, nil, errno
	}
	// Non-blocking (a flag of the description both descriptors share): NewFile puts it in the
	// poller.
	f = os.NewFile(dup, "multipool-ready")
	if s.iters == nil {
		s.iters = make(map[*os.File]struct{})
	}
	s.iters[f] = struct{}{}
	return f, func() {
		s.itersMu.Lock()
		delete(s.iters, f)
		s.itersMu.Unlock()
		f.Close()
	}, nil
}

// batchSize is how many results one call into the library takes.
const batchSize = 256

// Results delivers every path's Result, in completion order, until all are delivered (after
// Finish or Cancel). Waiting parks the goroutine in Go's network poller, holding no OS thread.
// The error is not a file's (that is Result.Err) but why the iteration ended early: ctx's
// error, ErrClosed, or StatusNeedsEventPoll in a session with a Chunker (use Events). Several goroutines may iterate at once; each Result goes to one of them.
// Ending the loop early (break) leaves the results not yet delivered to the next iteration.
//
// An iterator (iter.Seq2) rather than a channel: the caller's loop runs in its own goroutine,
// with no goroutine per session left behind when it stops early, and backpressure is the loop
// itself (the library pauses hashing while its ready results wait).
func (s *Session) Results(ctx context.Context) iter.Seq2[Result, error] {
	return func(yield func(Result, error) bool) {
		f, done, err := s.waitFile()
		if err != nil {
			yield(Result{}, err)
			return
		}
		defer done()
		conn, err := f.SyscallConn()
		if err != nil {
			if s.isClosed() {
				err = ErrClosed
			}
			yield(Result{}, err)
			return
		}
		// Cancelling ctx interrupts the wait: a deadline in the past.
		stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Unix(1, 0)) })
		defer stop()
		batch := make([]C.multipool_result, batchSize)
		tags := make([]uint64, batchSize)
		out := make([]Result, batchSize) // yield copies each out: reused batch after batch
		// Poll inside the poller's callback: the poller forgets readiness seen before it
		// starts (it resets the descriptor's state first), so checking before waiting, not
		// before entering, is what makes a result pushed in between wake this wait. One
		// callback for the iteration, not one per batch.
		var n C.size_t
		var pollErr error
		poll := func(uintptr) bool {
			n = 0
			pollErr = s.h.call(func(cs *C.multipool_session) C.multipool_status {
				st := C.multipool_session_poll(cs, &batch[0], C.size_t(unsafe.Sizeof(batch[0])),
					C.size_t(len(batch)), 0, &n)
				if st == C.MULTIPOOL_TIMEOUT {
					return C.MULTIPOOL_OK
				}
				return st
			})
			return n > 0 || pollErr != nil // else wait until the descriptor is readable
		}
		for {
			if err := ctx.Err(); err != nil {
				yield(Result{}, err)
				return
			}
			// Results an earlier iteration took from the library but did not hand out.
			if r, ok := s.unclaimed(); ok {
				if !yield(r, nil) {
					return
				}
				continue
			}
			waitErr := conn.Read(poll)
			switch {
			case waitErr != nil:
				if ctx.Err() != nil {
					yield(Result{}, ctx.Err())
				} else if s.isClosed() {
					yield(Result{}, ErrClosed)
				} else {
					yield(Result{}, waitErr)
				}
				return
			case pollErr == nil:
			case errors.Is(pollErr, Status(C.MULTIPOOL_DONE)):
				return
			default:
				yield(Result{}, pollErr)
				return
			}
			results := s.results(batch[:n], tags, out)
			for i := range results {
				if !yield(results[i], nil) {
					// Results taken but not yet yielded go back to nobody: deliver them first.
					for j := i + 1; j < len(results); j++ {
						s.requeue(results[j])
					}
					return
				}
			}
		}
	}
}

// requeue keeps a result for the next iteration to hand out.
func (s *Session) requeue(r Result) {
	s.pendingMu.Lock()
	s.pending = append(s.pending, r)
	s.pendingMu.Unlock()
}

// unclaimed takes a result kept by requeue.
func (s *Session) unclaimed() (Result, bool) {
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	if len(s.pending) == 0 {
		return Result{}, false
	}
	r := s.pending[len(s.pending)-1]
	s.pending = s.pending[:len(s.pending)-1]
	return r, true
}

// results converts a batch of C results into out, their paths taken out of the table under
// one lock and straight into out, their digests copied by value: nothing is allocated but a
// failure's FileError (tags and out are scratch space of the batch's length at least).
func (s *Session) results(batch []C.multipool_result, tags []uint64, out []Result) []Result {
	for i := range batch {
		tags[i] = uint64(batch[i].tag)
	}
	out = out[:len(batch)]
	s.paths.takeAll(tags[:len(batch)], out)
	for i := range batch {
		out[i].fill(&batch[i], s.alg)
	}
	return out
}

// fill sets every field of r but Path from the C result c: nothing is allocated but a
// failure's FileError.
func (r *Result) fill(c *C.multipool_result, alg Algorithm) {
	r.Size, r.Device, r.Algorithm = uint64(c.size), -1, alg
	if c.device != C.MULTIPOOL_DEVICE_NONE {
		r.Device = int(c.device)
	}
	r.Tag, r.Attempt, r.Chunks = uint64(c.tag), int(c.attempt), uint64(c.chunks)
	r.HasIdentity, r.Identity = c.has_identity != 0, Identity{}
	if r.HasIdentity {
		r.Identity = Identity{
			Size: uint64(c.size), MtimeNs: int64(c.mtime_ns), CtimeNs: int64(c.ctime_ns),
			Inode: uint64(c.inode), DeviceID: uint64(c.device_id), Mode: uint32(c.mode),
		}
	}
	r.Unchanged = c.status == C.MULTIPOOL_UNCHANGED
	if c.status == C.MULTIPOOL_OK || r.Unchanged {
		// All 64 bytes: the library zeroes those past digest_len, as Digest wants.
		r.Digest = digestOf(&c.digest, c.digest_len)
		r.Err = nil
	} else {
		r.Digest = Digest{}
		r.Err = &FileError{Path: r.Path, Status: Status(c.status), Errno: syscall.Errno(c.os_error)}
	}
}

// digestOf is the Digest of a C digest array and its length (the bytes past it are zero).
func digestOf(sum *[C.MULTIPOOL_MAX_DIGEST_LEN]C.uint8_t, n C.uint32_t) Digest {
	return Digest{sum: *(*[C.MULTIPOOL_MAX_DIGEST_LEN]byte)(unsafe.Pointer(sum)), n: uint8(n)}
}

// cgoNoop is the cheapest call into the library there is (a status's static description): the
// cost of one cgo transition and nothing else, which BenchmarkCgoCall measures.
func cgoNoop() { C.multipool_status_str(C.MULTIPOOL_OK) }
