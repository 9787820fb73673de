//! restic's content-defined chunker, cut for cut (`github.com/restic/chunker`, which restic's
//! repositories depend on): a Rabin fingerprint over a sliding window of 64 bytes, modulo the
//! repository's random irreducible polynomial of degree 53; a cut where the fingerprint's low
//! 20 bits are all zero, no chunk under 512 KiB, none over 8 MiB.
//!
//! The fingerprint restarts at every cut: the window is zeroed, the digest is that of one byte
//! of value 1 slid into it (restic's start state), and the first 512 KiB − 64 bytes of the
//! chunk are skipped without hashing, so that the window is full of the chunk's own bytes
//! exactly when the chunk reaches the minimum size. A cut therefore depends only on the chunk's
//! bytes, which is what lets [`super::Chunker`] cut over the bytes it holds since the last cut.
//!
//! Written from the Go package's description and tested against it (the oracle test runs the
//! Go package itself); the `rustic_cdc` crate has a Rabin64 too, but restic's start state and
//! skipped bytes would still have to be built around it, and this is the whole of it.

/// restic's minimum chunk size.
pub(crate) const MIN_SIZE: usize = 512 << 10;
/// restic's maximum chunk size.
pub(crate) const MAX_SIZE: usize = 8 << 20;
/// The sliding window, in bytes.
const WINDOW: usize = 64;
/// A cut where the fingerprint's low 20 bits are zero: chunks of about 1 MiB on average (beyond
/// the minimum).
const SPLIT_MASK: u64 = (1 << 20) - 1;
/// The degree restic's polynomials have (the largest prime below 64 − 8: the fingerprint and a
/// byte shifted into it fit a `u64`).
const DEGREE: u32 = 53;

/// restic's test polynomial, `0x3DA3358B4DC173`: the one its own tests use, and the default for
/// callers that have no repository at hand. A repository's chunks are cut with the polynomial
/// in its config, which differs from repository to repository: cuts made with this one match
/// a repository only if it was made with it.
pub(crate) const TEST_POLYNOMIAL: u64 = 0x3DA3358B4DC173;

// Polynomials over GF(2) in a u64: bit i is the coefficient of x^i.

/// The degree of `p`, or `None` for the zero polynomial.
fn degree(p: u64) -> Option<u32> {
    p.checked_ilog2()
}

/// `x mod d`, `d` not zero.
fn rem(mut x: u64, d: u64) -> u64 {
    let dd = d.ilog2();
    while let Some(dx) = degree(x).filter(|&dx| dx >= dd) {
        x ^= d << (dx - dd);
    }
    x
}

/// `a · b mod g`, for `a` and `b` already reduced modulo `g` (of degree at most 62).
fn mul_mod(a: u64, b: u64, g: u64) -> u64 {
    let dg = g.ilog2();
    let mut r = 0u64;
    for i in (0..64 - b.leading_zeros()).rev() {
        r <<= 1;
        if r >> dg & 1 == 1 {
            r ^= g;
        }
        if b >> i & 1 == 1 {
            r ^= a;
        }
    }
    r
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, rem(a, b));
    }
    a
}

/// Whether `p` (of degree at least 2) is irreducible, by Ben-Or's test: it is unless, for some
/// `i` up to half its degree, `x^(2^i) − x` shares a factor with it (then `p` has a factor of a
/// degree dividing `i`).
fn irreducible(p: u64) -> bool {
    const X: u64 = 2;
    let mut x_2i = X; // x^(2^i) mod p
    for _ in 1..=p.ilog2() / 2 {
        x_2i = mul_mod(x_2i, x_2i, p);
        if gcd(p, x_2i ^ X) != 1 {
            return false;
        }
    }
    true
}

/// Why `poly` cannot be a restic polynomial, if it cannot: it must have degree 53 and be
/// irreducible, as restic's `RandomPolynomial` makes them (its chunker takes polynomials of
/// lower degree too, but no repository has one).
pub(crate) fn check(poly: u64) -> Result<(), String> {
    match degree(poly) {
        Some(DEGREE) if irreducible(poly) => Ok(()),
        Some(DEGREE) => Err(format!("restic polynomial {poly:#x} is reducible")),
        Some(d) => Err(format!("restic polynomial {poly:#x} has degree {d}, not {DEGREE}")),
        None => Err(format!("restic polynomial 0 has no degree, it needs {DEGREE}")),
    }
}

/// The fingerprint's tables for one polynomial.
pub(crate) struct Rabin {
    /// `out[b]`: the fingerprint of `b` followed by 63 zero bytes. XORed in, it takes byte `b`
    /// back out of the fingerprint as it leaves the window.
    out: [u64; 256],
    /// `reduce[t]`: `t · x^53 mod p` plus `t · x^53` itself, for the 8 bits `t` that shifting a
    /// byte in pushes above the degree: XORed in, it clears them and adds their remainder.
    reduce: [u64; 256],
}

impl Rabin {
    /// The tables for `poly`, which must have passed [`check`].
    pub(crate) fn new(poly: u64) -> Rabin {
        debug_assert!(check(poly).is_ok());
        let append = |h: u64, b: u8| rem(h << 8 | u64::from(b), poly);
        let mut out = [0; 256];
        let mut reduce = [0; 256];
        for b in 0..=255u8 {
            out[usize::from(b)] = (1..WINDOW).fold(append(0, b), |h, _| append(h, 0));
            let top = u64::from(b) << DEGREE;
            reduce[usize::from(b)] = rem(top, poly) | top;
        }
        Rabin { out, reduce }
    }

    /// Shifts `b` into the fingerprint `digest` (which stays below `x^53`).
    #[inline(always)]
    fn shift_in(&self, digest: u64, b: u8) -> u64 {
        let top = (digest >> (DEGREE - 8)) as usize;
        (digest << 8 | u64::from(b)) ^ self.reduce[top]
    }

    /// The length of the first chunk of `bytes`, which start at a cut and are either the next
    /// [`MAX_SIZE`] bytes of the file or all the rest of it: the first place from the minimum
    /// on where the fingerprint's low bits are zero, or else all of `bytes`. The chunker cuts
    /// with [`Scan`]; this, over a whole chunk at once, is what the tests hold it to.
    #[cfg(test)]
    pub(crate) fn cut(&self, bytes: &[u8]) -> usize {
        debug_assert!(bytes.len() <= MAX_SIZE);
        if bytes.len() <= MIN_SIZE {
            return bytes.len();
        }
        // restic's start state: a byte 1 slid into a window of zeros (out[0] is 0).
        let mut window = [0u8; WINDOW];
        window[0] = 1;
        let mut wpos = 1;
        let mut digest = self.shift_in(0, 1);
        let mut slide = |digest: u64, b: u8| {
            let leaving = std::mem::replace(&mut window[wpos], b);
            wpos = (wpos + 1) % WINDOW;
            self.shift_in(digest ^ self.out[usize::from(leaving)], b)
        };
        // The first MIN_SIZE - WINDOW bytes are skipped; the window then fills with the chunk's
        // bytes, and the byte 1 leaves it as the chunk reaches the minimum, where cuts start.
        let (filling, rest) = bytes[MIN_SIZE - WINDOW..].split_at(WINDOW - 1);
        for &b in filling {
            digest = slide(digest, b);
        }
        for (i, &b) in rest.iter().enumerate() {
            digest = slide(digest, b);
            if digest & SPLIT_MASK == 0 {
                return MIN_SIZE + i;
            }
        }
        bytes.len()
    }
}

/// restic's cut as the bytes stream by, without holding them (see `super::stream` for
/// FastCDC's): the fingerprint and its window carried across buffers. Each chunk's scan starts
/// afresh ([`Scan::new`]): its first `MIN_SIZE - WINDOW` bytes are skipped, then the
/// fingerprint starts from restic's start state, exactly as `Rabin::cut` does over the chunk.
#[derive(Debug)]
pub(crate) struct Scan {
    /// Bytes of the chunk seen.
    pos: usize,
    digest: u64,
    /// The last `WINDOW` bytes slid in, the oldest at `wpos`: the bytes that leave next.
    window: [u8; WINDOW],
    wpos: usize,
}

impl Scan {
    /// The scan of a new chunk.
    pub(crate) fn new() -> Scan {
        Scan { pos: 0, digest: 0, window: [0; WINDOW], wpos: 0 }
    }

    /// The bytes of the chunk so far.
    pub(crate) fn len(&self) -> usize {
        self.pos
    }

    /// Scans `bytes`, the chunk's next ones: `Some(n)` when the chunk ends after `bytes[..n]`,
    /// `None` when all of `bytes` belong to it.
    pub(crate) fn scan(&mut self, rabin: &Rabin, bytes: &[u8]) -> Option<usize> {
        let mut i = 0;
        let skip_to = MIN_SIZE - WINDOW;
        if self.pos < skip_to {
            let k = (skip_to - self.pos).min(bytes.len());
            self.pos += k;
            i = k;
            if self.pos < skip_to {
                return None;
            }
            // restic's start state: a byte 1 slid into a window of zeros (out[0] is 0).
            self.window = [0; WINDOW];
            self.window[0] = 1;
            self.wpos = 1;
            self.digest = rabin.shift_in(0, 1);
        }
        let (mut digest, mut pos) = (self.digest, self.pos);
        let cut = |pos: usize, digest: u64| {
            (pos >= MIN_SIZE && digest & SPLIT_MASK == 0) || pos == MAX_SIZE
        };
        // The first bytes of this call push out bytes of the window; after `WINDOW` of them,
        // the byte leaving is the one `WINDOW` back in `bytes`, and the window is not needed
        // until the call ends.
        let slid_from = i;
        while i < bytes.len() && i < slid_from + WINDOW {
            let b = bytes[i];
            let leaving = std::mem::replace(&mut self.window[self.wpos], b);
            self.wpos = (self.wpos + 1) % WINDOW;
            digest = rabin.shift_in(digest ^ rabin.out[usize::from(leaving)], b);
            (pos, i) = (pos + 1, i + 1);
            if cut(pos, digest) {
                self.pos = pos;
                return Some(i);
            }
        }
        if i < bytes.len() {
            // Up to the maximum at most; past the minimum already (the window is full), so
            // only the fingerprint's low bits decide, and the maximum after the loop.
            let end = i + (bytes.len() - i).min(MAX_SIZE - pos);
            let (entering, leaving) = (&bytes[i..end], &bytes[i - WINDOW..end - WINDOW]);
            for (k, (&b, &out)) in entering.iter().zip(leaving).enumerate() {
                digest = rabin.shift_in(digest ^ rabin.out[usize::from(out)], b);
                if digest & SPLIT_MASK == 0 {
                    self.pos = pos + k + 1;
                    return Some(i + k + 1);
                }
            }
            (pos, i) = (pos + entering.len(), end);
            if pos == MAX_SIZE {
                self.pos = pos;
                return Some(i);
            }
        }
        if i >= slid_from + WINDOW {
            self.window.copy_from_slice(&bytes[i - WINDOW..i]);
            self.wpos = 0;
        }
        (self.digest, self.pos) = (digest, pos);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::tests::{chunks_through_the_reader, random};
    use crate::chunk::{Chunk, ChunkerSpec};
    use crate::read::ReadSettings;
    use crate::test_support::{can_run, find_go, TempDir};
    use crate::{digest_bytes, Algorithm};
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// restic's test polynomial and two drawn by the Go package's `RandomPolynomial`.
    const POLYNOMIALS: [u64; 3] = [TEST_POLYNOMIAL, 0x313371f2f4ff0f, 0x3f2bd6a81efdf5];

    /// The read buffers, smaller than a minimum chunk and larger: 4 KiB + 1, 64 KiB + 1 and
    /// 1 MiB + 1 bytes (the helper adds the one, as the engine does).
    const BUFFERS: [usize; 3] = [4 << 10, 64 << 10, 1 << 20];

    fn restic(poly: u64) -> ChunkerSpec {
        ChunkerSpec::Restic { poly }
    }

    #[test]
    fn the_streamed_scan_cuts_where_the_whole_chunk_cut_does_over_any_split() {
        let rabin = Rabin::new(TEST_POLYNOMIAL);
        let data = [random(5 << 20, 21), vec![0; MIN_SIZE + 100], periodic(MAX_SIZE + 7)].concat();
        // The whole-chunk cuts, one after the other.
        let mut want = Vec::new();
        let mut at = 0;
        while at < data.len() {
            let len = rabin.cut(&data[at..(at + MAX_SIZE).min(data.len())]);
            want.push(len);
            at += len;
        }
        for piece in [1, 63, 64, 65, 4096, 1 << 20, 9 << 20] {
            let mut got = Vec::new();
            let mut scan = Scan::new();
            for mut bytes in data.chunks(piece) {
                while let Some(n) = scan.scan(&rabin, bytes) {
                    got.push(scan.len());
                    bytes = &bytes[n..];
                    scan = Scan::new();
                }
            }
            if scan.len() > 0 {
                got.push(scan.len());
            }
            assert_eq!(got, want, "pieces of {piece}");
        }
    }

    #[test]
    fn polynomials_are_told_irreducible_as_restics_own_tests_tell_them() {
        // The table of restic's polynomials_test.go (all of degree 53).
        let table = [
            (0x38f1e565e288df, false),
            (0x3DA3358B4DC173, true),
            (0x30a8295b9d5c91, false),
            (0x255f4350b962cb, false),
            (0x267f776110a235, false),
            (0x2f4dae10d41227, false),
            (0x2482734cacca49, true),
            (0x312daf4b284899, false),
            (0x29dfb6553d01d1, false),
            (0x3548245eb26257, false),
            (0x3199e7ef4211b3, false),
            (0x362f39017dae8b, false),
            (0x200d57aa6fdacb, false),
            (0x35e0a4efa1d275, false),
            (0x2ced55b026577f, false),
            (0x260b012010893d, false),
            (0x2df29cbcd59e9d, false),
            (0x3f2ac7488bd429, false),
            (0x3e5cb1711669fb, false),
            (0x226d8de57a9959, false),
            (0x3c8de80aaf5835, false),
            (0x2026a59efb219b, false),
            (0x39dfa4d13fb231, false),
            (0x3143d0464b3299, false),
        ];
        for (poly, irred) in table {
            assert_eq!(degree(poly), Some(DEGREE));
            assert_eq!(irreducible(poly), irred, "{poly:#x}");
            assert_eq!(check(poly).is_ok(), irred, "{poly:#x}");
        }
        for poly in POLYNOMIALS {
            assert_eq!(check(poly), Ok(()), "{poly:#x}");
        }
        // Small cases whose factors are known.
        assert!(irreducible(0b111)); // x^2 + x + 1
        assert!(!irreducible(0b101)); // (x + 1)^2
        assert!(irreducible(0b1011)); // x^3 + x + 1
        assert!(!irreducible(0b1111)); // (x + 1)(x^2 + 1)
        assert_eq!(gcd(10, 50), 2);
        assert_eq!(mul_mod(0b10, 0b10, 0b111), 0b11); // x^2 = x + 1 mod x^2 + x + 1
    }

    #[test]
    fn a_polynomial_not_irreducible_of_degree_53_is_refused_with_the_reason() {
        for (poly, word) in [
            (TEST_POLYNOMIAL >> 1, "degree 52"),
            (TEST_POLYNOMIAL << 1, "degree 54"),
            (0x2482734cacca49 ^ (1 << 53) ^ (1 << 52), "degree 52"), // an irreducible one, lowered
            (0, "no degree"),
            (1, "degree 0"),
            (0x38f1e565e288df, "reducible"),
            ((1 << 53) | 1, "reducible"), // x^53 + 1: divisible by x + 1
            (TEST_POLYNOMIAL ^ 1, "reducible"), // no constant term: divisible by x
        ] {
            let err = restic(poly).validate().unwrap_err();
            assert!(err.to_string().contains(word), "{poly:#x}: {err}");
            assert!(err.to_string().contains("restic polynomial"), "{poly:#x}: {err}");
        }
        for poly in POLYNOMIALS {
            assert_eq!(restic(poly).validate(), Ok(()));
        }
    }

    /// The chunks through the reader, as the oracle prints them.
    fn our_lines(path: &Path, poly: u64, buffer: usize) -> Vec<String> {
        let (chunks, _) =
            chunks_through_the_reader(path, &restic(poly), buffer, ReadSettings::TEST);
        chunks.iter().map(|c: &Chunk| format!("{} {} {}", c.offset, c.len, c.digest)).collect()
    }

    /// The chunks' lengths, and that they rebuild `data` with their SHA-256 digests.
    fn lengths_rebuilding(path: &Path, data: &[u8], poly: u64, buffer: usize) -> Vec<usize> {
        let (chunks, _) =
            chunks_through_the_reader(path, &restic(poly), buffer, ReadSettings::TEST);
        let mut rebuilt = Vec::with_capacity(data.len());
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!((c.index, c.offset), (i as u64, rebuilt.len() as u64));
            let bytes = &data[c.offset as usize..(c.offset + c.len) as usize];
            assert_eq!(c.digest, digest_bytes(Algorithm::Sha256, bytes));
            rebuilt.extend_from_slice(bytes);
        }
        assert!(rebuilt == data, "the chunks rebuild the file");
        chunks.iter().map(|c| c.len as usize).collect()
    }

    /// A 64-byte random block over and over: the window only ever holds its rotations, whose
    /// few fingerprints have no low 20 bits all zero, so every chunk is a maximum one.
    fn periodic(len: usize) -> Vec<u8> {
        let block = random(WINDOW, 11);
        block.iter().copied().cycle().take(len).collect()
    }

    #[test]
    fn zeros_cut_at_the_minimum_and_a_periodic_file_at_the_maximum_and_chunks_rebuild_files() {
        let dir = TempDir::new("restic-chunk");
        let zeros = vec![0; 3 * MIN_SIZE + 5];
        let cycle = periodic(2 * MAX_SIZE + 3);
        let data = random(5 << 20, 12);
        let (zeros_path, cycle_path) = (dir.file("zeros", &zeros), dir.file("cycle", &cycle));
        let data_path = dir.file("random", &data);
        for poly in POLYNOMIALS {
            // Once the byte 1 of the start state leaves the window, zeros fingerprint to zero.
            let lengths = lengths_rebuilding(&zeros_path, &zeros, poly, 64 << 10);
            assert_eq!(lengths, [MIN_SIZE, MIN_SIZE, MIN_SIZE, 5]);
            let lengths = lengths_rebuilding(&cycle_path, &cycle, poly, 64 << 10);
            assert_eq!(lengths, [MAX_SIZE, MAX_SIZE, 3]);
            let lengths = lengths_rebuilding(&data_path, &data, poly, 64 << 10);
            assert!(lengths.len() > 2, "{lengths:?}");
            assert!(lengths[..lengths.len() - 1]
                .iter()
                .all(|&l| (MIN_SIZE..MAX_SIZE).contains(&l)));
        }
    }

    /// Builds tests/restic_chunker (restic's chunker, vendored: no network) into `dir`.
    fn build_oracle(go: &Path, dir: &Path) -> PathBuf {
        let exe = dir.join("restic_chunker");
        let out = Command::new(go)
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/restic_chunker"))
            .env("GOFLAGS", "-mod=vendor -buildvcs=false")
            .env("GOCACHE", dir.join("gocache"))
            .env("GOPATH", dir.join("gopath"))
            .env("GOPROXY", "off")
            .env("GOTOOLCHAIN", "local")
            .env("CGO_ENABLED", "0")
            .arg("build")
            .arg("-o")
            .arg(&exe)
            .arg(".")
            .output()
            .unwrap();
        assert!(out.status.success(), "go build: {}", String::from_utf8_lossy(&out.stderr));
        exe
    }

    fn oracle_lines(oracle: &Path, path: &Path, poly: u64) -> Vec<String> {
        let out = Command::new(oracle).arg(path).arg(format!("{poly:#x}")).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect()
    }

    #[test]
    fn cuts_and_sha256_chunk_ids_equal_restics_own_chunker_through_the_reader() {
        let test = "cuts_and_sha256_chunk_ids_equal_restics_own_chunker_through_the_reader";
        let go = find_go();
        if !can_run(go.is_some(), test, "go 1.23+") {
            return;
        }
        let dir = TempDir::new("restic-oracle");
        let oracle = build_oracle(&go.unwrap(), dir.path());
        let files: Vec<(&str, Vec<u8>)> = vec![
            ("random-20M", random((20 << 20) + 12_345, 21)),
            ("zeros-8M", vec![0; MAX_SIZE]),
            ("periodic-17M", periodic(2 * MAX_SIZE + (1 << 20) + 3)),
            ("below-min", random(300_000, 22)),
            ("min-minus-window", random(MIN_SIZE - WINDOW, 23)),
            ("min", random(MIN_SIZE, 24)),
            ("min-plus-one", random(MIN_SIZE + 1, 25)),
            ("max", random(MAX_SIZE, 26)),
            ("max-plus-one", random(MAX_SIZE + 1, 27)),
            ("one-byte", vec![7]),
            ("empty", Vec::new()),
        ];
        let paths: Vec<PathBuf> = files.iter().map(|(name, data)| dir.file(name, data)).collect();
        let mut compared = 0;
        std::thread::scope(|s| {
            let runs: Vec<_> = POLYNOMIALS
                .iter()
                .map(|&poly| {
                    let (oracle, paths, files) = (&oracle, &paths, &files);
                    s.spawn(move || {
                        let mut compared = 0;
                        for (path, (name, _)) in paths.iter().zip(files) {
                            let want = oracle_lines(oracle, path, poly);
                            for buffer in BUFFERS {
                                let got = our_lines(path, poly, buffer);
                                assert_eq!(
                                    got, want,
                                    "{name}, polynomial {poly:#x}, buffer {buffer}"
                                );
                                compared += 1;
                            }
                        }
                        compared
                    })
                })
                .collect();
            compared = runs.into_iter().map(|r| r.join().unwrap()).sum::<usize>();
        });
        assert_eq!(compared, POLYNOMIALS.len() * files.len() * BUFFERS.len());
    }
}
