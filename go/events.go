package multipool

/*
#include <multipool.h>
*/
import "C"

import (
	"context"
	"errors"
	"io"
	"iter"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// EventKind says what an Event holds.
type EventKind uint8

// The kinds of events.
const (
	// EventChunk: a chunk of a file, in Event.Chunk.
	EventChunk EventKind = C.MULTIPOOL_EVENT_CHUNK
	// EventResult: a file's result, in Event.Result, after every chunk event of its Tag.
	EventResult EventKind = C.MULTIPOOL_EVENT_RESULT
)

// Chunk is one chunk of a file, as its chunk event says it.
type Chunk struct {
	// Path and Tag of the file, as its Result has them.
	Path string
	Tag  uint64
	// Attempt is the read of the file that cut the chunk: the chunk is the file's only if the
	// file's Result has no Err and the same Attempt.
	Attempt int
	// Index is the chunk's place among the file's chunks, from 0; Offset its first byte's
	// offset in the file; Length its length in bytes.
	Index, Offset, Length uint64
	// Digest of the chunk's bytes (Options.ChunkDigest), 32 bytes, by value.
	Digest Digest
}

// Event is a chunk of a file (Kind EventChunk) or a file's result (Kind EventResult), by value:
// delivering one allocates nothing, but a failed file's FileError.
type Event struct {
	Kind   EventKind
	Chunk  Chunk  // Kind EventChunk; zero otherwise
	Result Result // Kind EventResult; zero otherwise
}

// Events delivers the session's events until all are delivered (after Finish or Cancel): in a
// session with a Chunker, each file's chunks in offset order and then its result; without one,
// its results. Waiting and stopping are as for Results: the goroutine waits in Go's network
// poller, the error is ctx's or ErrClosed (not a file's: that is Result.Err), and ending the
// loop early leaves the events not yet delivered to the next Events or PollEvents.
//
// Order: a file's chunks come in order (Index 0, 1, ...), then its result, last; the events of
// different files are interleaved in no promised order. Several goroutines may take events at
// once: each event goes to one of them, so one file's chunks may be split among them (each
// still sees them in order); route them by Tag to put a file's chunks together. A file's chunk
// events are its chunks only if its result has no Err and their Attempt: a file that fails, or
// is read a second time, after some of its chunks were delivered, ends with a result that
// says so (an Err, or another Attempt), and the caller drops what it got for it. (An iteration
// ended early gives back the events it had taken but not handed out: the next one hands them
// out first, so a goroutine that breaks out and iterates again still sees each file's events
// in order, but another goroutine iterating meanwhile may see later ones before them.)
//
// The library keeps at most Options.MaxReadyChunks chunk events waiting: while the caller does
// not take them, the files that make them pause (not the other devices' work).
func (s *Session) Events(ctx context.Context) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		w, err := s.newWaiter(ctx)
		if err != nil {
			yield(Event{}, err)
			return
		}
		defer w.close()
		batch := make([]C.multipool_event, batchSize)
		out := make([]Event, batchSize) // yield copies each: reused batch after batch
		for {
			if err := ctx.Err(); err != nil {
				yield(Event{}, err)
				return
			}
			n, err := w.wait(ctx, batch, out)
			switch {
			case err == nil:
			case errors.Is(err, Status(C.MULTIPOOL_DONE)):
				return
			default:
				yield(Event{}, err)
				return
			}
			for i := range out[:n] {
				if !yield(out[i], nil) {
					s.requeueEvents(out[i+1 : n])
					return
				}
			}
		}
	}
}

// PollEvents waits for events and copies them into out: it returns how many (at least one, at
// most len(out) and at most 256 a call), or 0 and io.EOF once every event is delivered (after
// Finish or Cancel), or 0 and ctx's error or ErrClosed. One call into the library brings up to
// 256 events, and while events are ready PollEvents takes no descriptor, waits in no poller and
// allocates nothing: the cheapest way to take many chunk events. Order and several goroutines:
// as Events.
func (s *Session) PollEvents(ctx context.Context, out []Event) (int, error) {
	if len(out) == 0 {
		return 0, nil
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	b := eventBatches.Get().(*[]C.multipool_event)
	defer eventBatches.Put(b)
	// Events ready now: no descriptor needed.
	n, err := s.pollEvents(*b, out)
	if n == 0 && err == nil {
		var w *waiter
		if w, err = s.newWaiter(ctx); err != nil {
			return 0, err
		}
		n, err = w.wait(ctx, *b, out)
		w.close()
	}
	if errors.Is(err, Status(C.MULTIPOOL_DONE)) {
		return 0, io.EOF
	}
	return n, err
}

// eventBatches are PollEvents' C events, one call's worth each.
var eventBatches = sync.Pool{New: func() any {
	b := make([]C.multipool_event, batchSize)
	return &b
}}

// waiter waits on the session's readiness for one iteration of Events or one PollEvents.
type waiter struct {
	s    *Session
	conn syscall.RawConn
	done func()
	stop func() bool

	// The poll the poller calls back, and what it got: one closure for all the waits.
	poll    func(uintptr) bool
	batch   []C.multipool_event
	out     []Event
	n       int
	pollErr error
}

// newWaiter puts a duplicate of the readiness descriptor in the poller; cancelling ctx
// interrupts its waits.
func (s *Session) newWaiter(ctx context.Context) (*waiter, error) {
	f, done, err := s.waitFile()
	if err != nil {
		return nil, err
	}
	conn, err := f.SyscallConn()
	if err != nil {
		done()
		if s.isClosed() {
			err = ErrClosed
		}
		return nil, err
	}
	// Cancelling ctx interrupts the wait: a deadline in the past.
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Unix(1, 0)) })
	w := &waiter{s: s, conn: conn, done: done, stop: stop}
	// Poll inside the poller's callback: the poller forgets readiness seen before it starts,
	// so checking before waiting, not before entering, is what makes an event pushed in
	// between wake this wait (as in Results).
	w.poll = func(uintptr) bool {
		w.n, w.pollErr = s.pollEvents(w.batch, w.out)
		return w.n > 0 || w.pollErr != nil
	}
	return w, nil
}

func (w *waiter) close() {
	w.stop()
	w.done()
}

// wait returns the events ready, in out, waiting for some if there are none; its error is
// the poll's (MULTIPOOL_DONE among them), ctx's, or ErrClosed.
func (w *waiter) wait(ctx context.Context, batch []C.multipool_event, out []Event) (int, error) {
	w.batch, w.out = batch, out
	defer func() { w.batch, w.out = nil, nil }()
	if err := w.conn.Read(w.poll); err != nil {
		switch {
		case ctx.Err() != nil:
			return 0, ctx.Err()
		case w.s.isClosed():
			return 0, ErrClosed
		}
		return 0, err
	}
	return w.n, w.pollErr
}

// pollEvents takes the events ready, without waiting: first those an iteration gave back, else
// up to min(len(batch), len(out)) from the library, converted into out. The call and the
// paths' lookups are one step under eventsMu, so that a file's result, which forgets its path,
// is never looked up before its chunks are, even by another goroutine. Its error is the
// library's status (MULTIPOOL_DONE when all are delivered), or ErrClosed.
func (s *Session) pollEvents(batch []C.multipool_event, out []Event) (int, error) {
	s.eventsMu.Lock()
	defer s.eventsMu.Unlock()
	if len(s.pendingEvents) > 0 {
		n := copy(out, s.pendingEvents)
		clear(s.pendingEvents[:n]) // no paths or errors kept alive
		if s.pendingEvents = s.pendingEvents[n:]; len(s.pendingEvents) == 0 {
			s.pendingEvents = nil
		}
		return n, nil
	}
	capacity := min(len(batch), len(out))
	for {
		var n C.size_t
		err := s.h.call(func(cs *C.multipool_session) C.multipool_status {
			st := C.multipool_session_poll_events(cs, &batch[0], C.size_t(unsafe.Sizeof(batch[0])),
				C.size_t(capacity), 0, &n)
			if st == C.MULTIPOOL_TIMEOUT {
				return C.MULTIPOOL_OK
			}
			return st
		})
		if err != nil || n == 0 {
			return 0, err
		}
		if k := s.events(batch[:n], out); k > 0 {
			return k, nil
		}
		// Only kinds of a newer library, skipped: take more.
	}
}

// events converts C events into out, skipping kinds this package does not know, and returns
// how many it wrote: the paths under one lock of the table (a chunk's looked up, a result's
// taken out), then the rest by value.
func (s *Session) events(batch []C.multipool_event, out []Event) int {
	k := 0
	s.paths.mu.Lock()
	lastTag, lastPath := ^uint64(0), ""
	for i := range batch {
		c := &batch[i]
		tag := uint64(c.tag)
		switch c.kind {
		case C.MULTIPOOL_EVENT_CHUNK:
			if tag != lastTag { // a file's chunks mostly come together: one lookup
				lastTag, lastPath = tag, s.paths.lookLocked(tag)
			}
			out[k] = Event{Kind: EventChunk, Chunk: Chunk{Path: lastPath}}
		case C.MULTIPOOL_EVENT_RESULT:
			out[k] = Event{Kind: EventResult, Result: Result{Path: s.paths.takeLocked(tag)}}
			lastTag = ^uint64(0)
		default:
			continue
		}
		k++
	}
	s.paths.mu.Unlock()
	k = 0
	for i := range batch {
		c := &batch[i]
		e := &out[k]
		switch c.kind {
		case C.MULTIPOOL_EVENT_CHUNK:
			e.Chunk.Tag, e.Chunk.Attempt = uint64(c.tag), int(c.attempt)
			e.Chunk.Index, e.Chunk.Offset, e.Chunk.Length = uint64(c.index), uint64(c.offset), uint64(c.length)
			e.Chunk.Digest = digestOf(&c.digest, c.digest_len)
		case C.MULTIPOOL_EVENT_RESULT:
			e.Result.fill(&c.result, s.alg)
		default:
			continue
		}
		k++
	}
	return k
}

// requeueEvents keeps events an iteration took but did not hand out, for the next one, in
// their order and before any taken later.
func (s *Session) requeueEvents(events []Event) {
	if len(events) == 0 {
		return
	}
	s.eventsMu.Lock()
	s.pendingEvents = append(s.pendingEvents, events...)
	s.eventsMu.Unlock()
}
