package multipool

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// settle waits out the library's settle margin (1 s): only a file stamped before it can be
// answered from its record.
func settle() { time.Sleep(1100 * time.Millisecond) }

func stat(t *testing.T, path string) *syscall.Stat_t {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Sys().(*syscall.Stat_t)
}

// collect runs one session over paths (with records, if not nil) and returns the results by
// path, and the session's counters.
func collect(t *testing.T, o Options, paths []string, records []Record) (map[string]Result, Stats) {
	t.Helper()
	s, err := NewSession(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if records == nil {
		err = s.Add(paths...)
	} else {
		err = s.AddWithRecords(paths, records)
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Finish()
	out := map[string]Result{}
	for r, err := range s.Results(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		out[r.Path] = r
	}
	if len(out) != len(paths) {
		t.Fatalf("%d results for %d paths", len(out), len(paths))
	}
	stats, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return out, stats
}

// recordsOf hashes paths and returns the record of each, in order.
func recordsOf(t *testing.T, o Options, paths []string) []Record {
	t.Helper()
	results, _ := collect(t, o, paths, nil)
	records := make([]Record, len(paths))
	for i, p := range paths {
		r := results[p]
		if r.Err != nil || r.Unchanged {
			t.Fatalf("%s: %+v", p, r)
		}
		var ok bool
		if records[i], ok = r.Record(); !ok {
			t.Fatalf("%s: no record: %+v", p, r)
		}
	}
	return records
}

// fake is a digest no file here has: a record vouching for a file returns it as it is.
var fake = func() Digest {
	sum := sha256.Sum256([]byte("what the caller stored"))
	d, _ := MakeDigest(sum[:])
	return d
}()

func withDigest(records []Record, d Digest) []Record {
	out := append([]Record(nil), records...)
	for i := range out {
		out[i].Digest = d
	}
	return out
}

func TestEveryResultCarriesTheIdentityItWasHashedWith(t *testing.T) {
	paths := files(t, 3)
	missing := filepath.Join(filepath.Dir(paths[0]), "missing")
	results, _ := collect(t, Options{}, append(paths, missing), nil)
	for _, p := range paths {
		r, st := results[p], stat(t, p)
		if !r.HasIdentity || r.Unchanged || r.Algorithm != SHA256 {
			t.Fatalf("%s: %+v", p, r)
		}
		want := Identity{
			Size: uint64(st.Size), MtimeNs: st.Mtim.Nano(), CtimeNs: st.Ctim.Nano(),
			Inode: st.Ino, DeviceID: st.Dev, Mode: st.Mode,
		}
		if r.Identity != want {
			t.Fatalf("%s: identity %+v, stat %+v", p, r.Identity, want)
		}
		if !r.Identity.ModTime().Equal(time.Unix(st.Mtim.Unix())) {
			t.Fatalf("ModTime %v", r.Identity.ModTime())
		}
		rec, ok := r.Record()
		if !ok || rec.Digest != r.Digest || rec.Algorithm != SHA256 || rec.Inode != st.Ino ||
			!rec.HasDeviceID || rec.DeviceID != st.Dev || rec.Size != uint64(st.Size) {
			t.Fatalf("%s: record %+v", p, rec)
		}
	}
	if r := results[missing]; r.HasIdentity || r.Identity != (Identity{}) || r.Err == nil {
		t.Fatalf("missing: %+v", r)
	}
	if _, ok := results[missing].Record(); ok {
		t.Fatal("a failed file made a record")
	}
}

func TestMatchingRecordsAnswerUnchangedWithTheirDigestUnread(t *testing.T) {
	paths := files(t, 20)
	settle()
	records := recordsOf(t, Options{}, paths)
	results, stats := collect(t, Options{}, paths, withDigest(records, fake))
	for i, p := range paths {
		r := results[p]
		// One loop: Err is nil, the digest is the record's (not the file's), and Unchanged says
		// that it was not read.
		if !r.Unchanged || r.Err != nil || r.Digest != fake || r.Attempt != 0 || !r.HasIdentity {
			t.Fatalf("%s: %+v", p, r)
		}
		if r.Identity.Inode != records[i].Inode || r.Size != records[i].Size {
			t.Fatalf("%s: identity %+v, record %+v", p, r.Identity, records[i])
		}
	}
	if stats.FilesUnchanged != 20 || stats.FilesDone != 0 || stats.BytesDone != 0 {
		t.Fatalf("%+v", stats)
	}

	// With a chunker: no chunk events, the result only.
	s, err := NewSession(Options{Chunker: Fixed{Size: 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddWithRecords(paths[:1], withDigest(records[:1], fake)); err != nil {
		t.Fatal(err)
	}
	s.Finish()
	var events []Event
	for e, err := range s.Events(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	if len(events) != 1 || events[0].Kind != EventResult || !events[0].Result.Unchanged ||
		events[0].Result.Digest != fake || events[0].Result.Chunks != 0 {
		t.Fatalf("%+v", events)
	}
}

func TestRecordsThatLieAreHashed(t *testing.T) {
	path := files(t, 1)[0]
	settle()
	record := recordsOf(t, Options{}, []string{path})[0]
	truth := record.Digest
	short, _ := MakeDigest(fake.Bytes()[:16])
	lie := func(change func(*Record)) Record {
		r := record
		r.Digest = fake
		change(&r)
		return r
	}
	cases := []struct {
		what   string
		record Record
	}{
		{"no record", Record{}},
		{"another size", lie(func(r *Record) { r.Size++ })},
		{"another mtime", lie(func(r *Record) { r.MtimeNs-- })},
		{"a future mtime", lie(func(r *Record) { r.MtimeNs = time.Now().Add(time.Hour).UnixNano() })},
		{"another ctime", lie(func(r *Record) { r.CtimeNs++ })},
		{"another inode", lie(func(r *Record) { r.Inode++ })},
		{"another algorithm", lie(func(r *Record) { r.Algorithm = BLAKE3 })},
		{"no algorithm", lie(func(r *Record) { r.Algorithm = 0 })},
		{"a digest of the wrong length", lie(func(r *Record) { r.Digest = short })},
		{"another device", lie(func(r *Record) { r.DeviceID++ })},
	}
	paths := make([]string, len(cases))
	records := make([]Record, len(cases))
	for i, c := range cases {
		paths[i], records[i] = path, c.record
	}
	// The same path added once per case: results by tag.
	s, err := NewSession(Options{RecordPolicy: RecordPolicyRestic | RecordMatchDevice})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddWithRecords(paths, records); err != nil {
		t.Fatal(err)
	}
	s.Finish()
	n := 0
	for r, err := range s.Results(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if r.Unchanged || r.Err != nil || r.Digest != truth || r.Attempt == 0 {
			t.Fatalf("%s: not hashed: %+v", cases[r.Tag].what, r)
		}
	}
	if n != len(cases) {
		t.Fatalf("%d results", n)
	}
	// The device counts only under a policy that names it.
	other := lie(func(r *Record) { r.DeviceID++ })
	results, _ := collect(t, Options{}, []string{path}, []Record{other})
	if r := results[path]; !r.Unchanged || r.Digest != fake {
		t.Fatalf("another device under restic's policy: %+v", r)
	}

	if err := s.AddWithRecords([]string{path}, nil); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("records shorter than paths: %v", err)
	}
	if _, err := ParseDigest("zz"); err == nil {
		t.Fatal("ParseDigest took zz")
	}
	if _, err := MakeDigest(make([]byte, 65)); !errors.Is(err, ErrDigestLength) {
		t.Fatalf("MakeDigest of 65 bytes: %v", err)
	}
}

func TestChmodMovesCtimeOnlyAndThePoliciesDecide(t *testing.T) {
	path := files(t, 1)[0]
	settle()
	record := recordsOf(t, Options{}, []string{path})[0]
	record.Digest = fake
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	settle()
	for _, c := range []struct {
		name      string
		policy    RecordPolicy
		unchanged bool
	}{
		{"restic (the default)", 0, false},
		{"restic", RecordPolicyRestic, false},
		{"borg", RecordPolicyBorg, false},
		{"mtime and size", RecordPolicyMtimeSize, true},
		{"restic --ignore-ctime", RecordPolicyRestic &^ RecordMatchCtime, true},
	} {
		results, stats := collect(t, Options{RecordPolicy: c.policy}, []string{path}, []Record{record})
		r := results[path]
		if r.Unchanged != c.unchanged || r.Err != nil || (r.Digest == fake) != c.unchanged {
			t.Fatalf("%s: %+v", c.name, r)
		}
		if c.unchanged != (stats.FilesUnchanged == 1) {
			t.Fatalf("%s: %+v", c.name, stats)
		}
	}
}

func TestAFileWrittenJustNowIsHashedWhateverItsRecordSays(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fresh")
	if err := os.WriteFile(path, []byte("fresh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A record made from the file's stat by the caller, with a stored hex digest.
	st := stat(t, path)
	stored, err := ParseDigest(fake.String())
	if err != nil || stored != fake {
		t.Fatal(stored, err)
	}
	record := Record{
		Size: uint64(st.Size), MtimeNs: st.Mtim.Nano(), CtimeNs: st.Ctim.Nano(), Inode: st.Ino,
		Algorithm: SHA256, Digest: stored,
	}
	results, _ := collect(t, Options{}, []string{path}, []Record{record})
	if r := results[path]; r.Unchanged || r.Err != nil || r.Hex() != sha("fresh\n") {
		t.Fatalf("within the settle margin: %+v", r)
	}
	settle()
	results, _ = collect(t, Options{}, []string{path}, []Record{record})
	if r := results[path]; !r.Unchanged || r.Digest != fake {
		t.Fatalf("once settled: %+v", r)
	}
}

func TestTenThousandRecordsInOneSession(t *testing.T) {
	const n = 10_000
	paths := files(t, n)
	settle()
	records := recordsOf(t, Options{Algorithm: BLAKE3}, paths)
	// Every hundredth record lies about the size: those files are hashed.
	for i := 0; i < n; i += 100 {
		records[i].Size++
	}
	results, stats := collect(t, Options{Algorithm: BLAKE3}, paths, records)
	hashed := 0
	for i, p := range paths {
		r := results[p]
		if r.Err != nil || r.Digest != records[i].Digest || r.Unchanged != (i%100 != 0) {
			t.Fatalf("%s: %+v", p, r)
		}
		if !r.Unchanged {
			hashed++
		}
	}
	if hashed != n/100 || stats.FilesUnchanged != n-n/100 || stats.FilesDone != n/100 {
		t.Fatalf("%d hashed, %+v", hashed, stats)
	}
}
