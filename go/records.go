package multipool

/*
#include <multipool.h>
*/
import "C"

import (
	"encoding/hex"
	"errors"
	"time"
)

// Identity is a file as one stat saw it when it was hashed (Result.Identity): what decides next
// time, through a Record, whether the file changed.
type Identity struct {
	// Size in bytes.
	Size uint64
	// MtimeNs and CtimeNs are the modification and status-change times, nanoseconds since the
	// epoch.
	MtimeNs, CtimeNs int64
	// Inode number.
	Inode uint64
	// DeviceID is st_dev (not Result.Device, the index of the device that read the file):
	// unstable across reboots on removable disks and some file systems (ZFS, btrfs
	// subvolumes), which is why no preset policy compares it.
	DeviceID uint64
	// Mode is st_mode: the file type and permission bits, as the system has them.
	Mode uint32
}

// ModTime is MtimeNs as a time.
func (id Identity) ModTime() time.Time { return time.Unix(0, id.MtimeNs) }

// ChangeTime is CtimeNs as a time.
func (id Identity) ChangeTime() time.Time { return time.Unix(0, id.CtimeNs) }

// Record is what a caller knew of a file from its last backup: its identity then, and the digest
// it stored. Added with the file's path (AddWithRecords), it lets the session answer the file
// Unchanged, with Digest, without opening it, when the file's stat still matches under
// Options.RecordPolicy. Make one from a Result with Result.Record, or from stored fields. The
// zero Record is no record.
type Record struct {
	Size             uint64
	MtimeNs, CtimeNs int64
	Inode            uint64
	// DeviceID (st_dev) counts only with HasDeviceID, and only under a policy with
	// RecordMatchDevice.
	DeviceID    uint64
	HasDeviceID bool
	// Algorithm of Digest: a record of another algorithm than the session's never matches,
	// nor does one without an algorithm (0).
	Algorithm Algorithm
	// Digest the caller stored, returned in the Result when the record matches: it must have
	// the algorithm's length, or the record never matches. A record without one (Len 0) is no
	// record: its file is hashed.
	Digest Digest
}

// Record is the record to keep of r for next time: its identity, algorithm and digest; false
// when r has no digest or no identity (a failed file, or a session with NoFileDigest).
func (r Result) Record() (Record, bool) {
	if !r.HasIdentity || r.Digest.Len() == 0 {
		return Record{}, false
	}
	id := r.Identity
	return Record{
		Size: id.Size, MtimeNs: id.MtimeNs, CtimeNs: id.CtimeNs, Inode: id.Inode,
		DeviceID: id.DeviceID, HasDeviceID: true, Algorithm: r.Algorithm, Digest: r.Digest,
	}, true
}

// c is the record as the C API reads it: integers only.
func (r *Record) c() C.multipool_record {
	var c C.multipool_record
	if r.Digest.Len() == 0 {
		return c // flags 0: no record
	}
	c.flags = C.MULTIPOOL_RECORD_PRESENT
	if r.HasDeviceID {
		c.flags |= C.MULTIPOOL_RECORD_HAS_DEVICE
		c.device_id = C.uint64_t(r.DeviceID)
	}
	c.algorithm = C.uint32_t(r.Algorithm)
	c.size, c.inode = C.uint64_t(r.Size), C.uint64_t(r.Inode)
	c.mtime_ns, c.ctime_ns = C.int64_t(r.MtimeNs), C.int64_t(r.CtimeNs)
	c.digest_len = C.uint32_t(r.Digest.n)
	for i := range r.Digest.n {
		c.digest[i] = C.uint8_t(r.Digest.sum[i])
	}
	return c
}

// AddWithRecords queues paths as Add does (all of them or none, in one call into the library),
// records[i] being what the caller knew of paths[i]: a path whose record matches the file's stat
// under Options.RecordPolicy, with a digest of the session's algorithm and of its length, and
// whose mtime and ctime are older than the settle margin (1 s), is answered Unchanged with the
// record's digest, without being opened (and in a session with a Chunker, without chunk
// events). Every other path, and one whose record is the zero Record, is hashed as Add would.
// records must be as long as paths.
func (s *Session) AddWithRecords(paths []string, records []Record) error {
	if len(records) != len(paths) {
		return StatusInvalidArgument
	}
	return s.add(paths, records)
}

// RecordPolicy is a bitwise OR of RecordMatch* fields: those of a prior record that must equal
// the file's stat for it to be answered Unchanged (Options.RecordPolicy). The algorithm and the
// digest's length always count, and a file stamped within the settle margin of now is always
// read. The zero value is RecordPolicyRestic.
//
// Pitfalls: a ctime check sees chmod, chown, hard links and xattr writes (chmod -R forces a full
// rescan: RecordPolicyMtimeSize, or RecordPolicyRestic &^ RecordMatchCtime, restic's
// --ignore-ctime, survives it); an inode check sees a file replaced by rename, and every file of
// a file system restored or copied elsewhere (restic's --ignore-inode: &^ RecordMatchInode); the
// device number is unstable on removable disks, ZFS and btrfs subvolumes, so no preset has it.
type RecordPolicy uint32

// The fields a policy can compare, and the presets.
const (
	RecordMatchMtime  RecordPolicy = C.MULTIPOOL_RECORD_MATCH_MTIME
	RecordMatchCtime  RecordPolicy = C.MULTIPOOL_RECORD_MATCH_CTIME
	RecordMatchSize   RecordPolicy = C.MULTIPOOL_RECORD_MATCH_SIZE
	RecordMatchInode  RecordPolicy = C.MULTIPOOL_RECORD_MATCH_INODE
	RecordMatchDevice RecordPolicy = C.MULTIPOOL_RECORD_MATCH_DEVICE // where the record has one

	// RecordPolicyRestic compares mtime, ctime, size and inode, as restic does: the default.
	RecordPolicyRestic RecordPolicy = C.MULTIPOOL_RECORD_POLICY_RESTIC
	// RecordPolicyBorg compares ctime, size and inode, as borg's files cache does.
	RecordPolicyBorg RecordPolicy = C.MULTIPOOL_RECORD_POLICY_BORG
	// RecordPolicyMtimeSize compares mtime and size only: it survives chmod -R and new inodes.
	RecordPolicyMtimeSize RecordPolicy = C.MULTIPOOL_RECORD_POLICY_MTIME_SIZE
)

// ErrDigestLength is MakeDigest's and ParseDigest's error for more than 64 bytes.
var ErrDigestLength = errors.New("multipool: a digest has at most 64 bytes")

// MakeDigest is the Digest of raw bytes (at most 64), for a Record made from stored fields.
func MakeDigest(b []byte) (Digest, error) {
	var d Digest
	if len(b) > len(d.sum) {
		return Digest{}, ErrDigestLength
	}
	d.n = uint8(copy(d.sum[:], b))
	return d, nil
}

// ParseDigest is the Digest of a hex string, as Digest.String writes it.
func ParseDigest(s string) (Digest, error) {
	if len(s) > 2*C.MULTIPOOL_MAX_DIGEST_LEN {
		return Digest{}, ErrDigestLength
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return Digest{}, err
	}
	return MakeDigest(b)
}
