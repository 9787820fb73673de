package multipool

/*
#include <multipool.h>
*/
import "C"

// Chunker says how each file of a session is cut into chunks while it is read (Options.Chunker):
// a FastCDC, a Restic or a Fixed value (or a pointer to one). Chunks come as events, each file's
// in offset order before its result, through Events or PollEvents.
type Chunker interface {
	chunker()
}

// FastCDC cuts as FastCDC 2020, exactly as the Rust fastcdc crate's v2020 module does (or with
// the Gear table derived from Options.ChunkKey when there is one). Zero sizes take the
// defaults: Min 512 KiB, Avg 1 MiB, Max 8 MiB. Ranges (even sizes): Min 64 B–1 MiB, Avg 256 B–4
// MiB, Max 1 KiB–16 MiB, Min ≤ Avg ≤ Max; others are refused with StatusInvalidChunker.
type FastCDC struct {
	Min, Avg, Max int
	// Level is the normalization level: LevelDefault (the zero value, level 1, the crate's
	// default) or Level0 to Level3.
	Level Level
}

// Level is FastCDC's normalization level plus one, as the C options store it, so that the zero
// value is the default: LevelDefault, Level0, Level1, Level2, Level3.
type Level uint8

// The normalization levels (the fastcdc crate's Normalization::Level0 to Level3).
const (
	LevelDefault Level = iota // level 1
	Level0
	Level1
	Level2
	Level3
)

// Restic cuts as restic's own chunker (github.com/restic/chunker) does, cut for cut, with
// restic's sizes (512 KiB to 8 MiB, about 1 MiB on average). Polynomial is the repository's
// (its config's chunker_polynomial), irreducible of degree 53; 0: restic's test polynomial
// 0x3DA3358B4DC173. restic's chunk IDs are SHA-256: ask for ChunkSHA256 unless Algorithm is
// SHA256 already.
type Restic struct {
	Polynomial uint64
}

// Fixed cuts chunks of exactly Size bytes (1 B to 16 MiB), the last one shorter.
type Fixed struct {
	Size int
}

func (FastCDC) chunker() {}
func (Restic) chunker()  {}
func (Fixed) chunker()   {}

// ChunkDigest is the digest of each chunk (Options.ChunkDigest).
type ChunkDigest uint32

// The chunk digests. Every one is 32 bytes long.
const (
	// ChunkDigestDefault: BLAKE3 keyed with Options.ChunkKey if there is one, else BLAKE3 when
	// Options.Algorithm is BLAKE3, else SHA-256.
	ChunkDigestDefault ChunkDigest = 0
	ChunkSHA256        ChunkDigest = C.MULTIPOOL_CHUNK_DIGEST_SHA256
	ChunkBLAKE3        ChunkDigest = C.MULTIPOOL_CHUNK_DIGEST_BLAKE3
	// ChunkBLAKE3Keyed is BLAKE3 keyed with Options.ChunkKey (which it needs).
	ChunkBLAKE3Keyed ChunkDigest = C.MULTIPOOL_CHUNK_DIGEST_BLAKE3_KEYED
)

// chunking fills the chunking fields of the C options; the library checks their values and
// ranges (StatusInvalidChunker), this only what does not fit its types.
func (o *Options) chunking(c *C.multipool_options) error {
	size := func(v int) (C.uint64_t, error) {
		if v < 0 {
			return 0, StatusInvalidChunker
		}
		return C.uint64_t(v), nil
	}
	chunker := o.Chunker
	// A pointer to a chunker is the chunker; a nil one is none of them.
	switch ch := chunker.(type) {
	case *FastCDC:
		chunker = deref(ch)
	case *Restic:
		chunker = deref(ch)
	case *Fixed:
		chunker = deref(ch)
	}
	var err error
	switch ch := chunker.(type) {
	case nil:
		c.chunker = C.MULTIPOOL_CHUNKER_NONE
	case FastCDC:
		if ch.Min < 0 || ch.Avg < 0 || ch.Max < 0 {
			return StatusInvalidChunker
		}
		c.chunker, c.chunk_level = C.MULTIPOOL_CHUNKER_FASTCDC, C.uint32_t(ch.Level)
		c.chunk_min, c.chunk_avg, c.chunk_max = C.uint64_t(ch.Min), C.uint64_t(ch.Avg), C.uint64_t(ch.Max)
	case Restic:
		c.chunker, c.chunk_polynomial = C.MULTIPOOL_CHUNKER_RESTIC, C.uint64_t(ch.Polynomial)
	case Fixed:
		c.chunker = C.MULTIPOOL_CHUNKER_FIXED
		c.chunk_avg, err = size(ch.Size)
	default:
		return StatusInvalidChunker
	}
	if err != nil {
		return err
	}
	c.chunk_digest = C.uint32_t(o.ChunkDigest)
	if o.ChunkKey != nil {
		c.flags |= C.MULTIPOOL_FLAG_CHUNK_KEY
		for i, b := range o.ChunkKey {
			c.chunk_key[i] = C.uint8_t(b)
		}
	}
	if o.MaxReadyChunks < 0 || uint64(o.MaxReadyChunks) > 1<<32-1 {
		return StatusInvalidArgument
	}
	c.max_ready_chunks = C.uint32_t(o.MaxReadyChunks)
	return nil
}

// deref is *p as a Chunker, or an invalid one for a nil p.
func deref[T Chunker](p *T) Chunker {
	if p == nil {
		return invalidChunker{}
	}
	return *p
}

// invalidChunker stands for a nil *FastCDC, *Restic or *Fixed.
type invalidChunker struct{}

func (invalidChunker) chunker() {}
