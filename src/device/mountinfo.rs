//! Parsing `/proc/self/mountinfo` (proc(5)).

/// One line of mountinfo: the fields the device resolver needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MountEntry {
    /// `st_dev` of files on this mount, as (major, minor).
    pub(crate) dev: (u32, u32),
    /// Where it is mounted, unescaped.
    pub(crate) mount_point: Vec<u8>,
    /// File-system type, e.g. `ext4`, `tmpfs`, `fuse.sshfs`.
    pub(crate) fs_type: String,
    /// Mount source, unescaped, e.g. `/dev/vda1`, `server:/export`, `tmpfs`.
    pub(crate) source: Vec<u8>,
    /// Per-superblock options, unescaped, e.g. `rw,lowerdir=/a,upperdir=/b` for overlay.
    pub(crate) super_options: Vec<u8>,
}

/// Parses mountinfo text, skipping lines that do not have the documented shape.
///
/// A line is `ID PARENT MAJ:MIN ROOT MOUNT-POINT OPTIONS [OPTIONAL…] - TYPE SOURCE SUPER-OPTIONS`,
/// with spaces, tabs, newlines and backslashes in paths escaped as `\NNN` octal.
pub(crate) fn parse(text: &[u8]) -> Vec<MountEntry> {
    text.split(|b| *b == b'\n').filter_map(parse_line).collect()
}

fn parse_line(line: &[u8]) -> Option<MountEntry> {
    let fields: Vec<&[u8]> = line.split(|b| *b == b' ').filter(|f| !f.is_empty()).collect();
    let separator = fields.iter().position(|f| *f == b"-")?;
    if separator < 6 || fields.len() < separator + 3 {
        return None;
    }
    let (major, minor) = std::str::from_utf8(fields[2]).ok()?.split_once(':')?;
    Some(MountEntry {
        dev: (major.parse().ok()?, minor.parse().ok()?),
        mount_point: unescape(fields[4]),
        fs_type: String::from_utf8_lossy(&unescape(fields[separator + 1])).into_owned(),
        source: unescape(fields[separator + 2]),
        super_options: fields.get(separator + 3).map_or_else(Vec::new, |f| unescape(f)),
    })
}

/// Where every file system of this process is mounted, read from `/proc/self/mountinfo`
/// (empty if it cannot be read). Reading it touches no mount.
/// Each with its device number (`st_dev` of the files on it, as glibc's `makedev` makes it).
pub(crate) fn mount_points() -> Vec<(u64, Vec<u8>)> {
    let text = std::fs::read("/proc/self/mountinfo").unwrap_or_default();
    parse(&text)
        .into_iter()
        .map(|entry| (libc::makedev(entry.dev.0, entry.dev.1), entry.mount_point))
        .collect()
}

/// Undoes the kernel's `\NNN` octal escaping.
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let octal = field.get(i + 1..i + 4).filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (field[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') << 6 | (d[1] - b'0') << 3 | (d[2] - b'0'));
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = b"\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
25 22 0:22 / /dev/shm rw,nosuid,nodev shared:3 - tmpfs tmpfs rw,inode64
40 22 0:41 / /mnt/my\\040disk rw,relatime shared:20 master:7 - nfs4 server:/export\\011x rw,vers=4.2
41 22 0:42 / /mnt/ssh rw - fuse.sshfs user@host:/home rw,user_id=0
garbage line
42 22 0:43 / /mnt/short rw -
";

    #[test]
    fn parses_devices_types_and_sources() {
        let entries = parse(SAMPLE);
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[0].dev, (254, 0));
        assert_eq!(entries[0].fs_type, "ext4");
        assert_eq!(entries[0].source, b"/dev/vda");
        assert_eq!(entries[1].mount_point, b"/dev/shm");
        assert_eq!(entries[1].fs_type, "tmpfs");
    }

    #[test]
    fn optional_fields_and_escapes() {
        let entries = parse(SAMPLE);
        assert_eq!(entries[2].dev, (0, 41));
        assert_eq!(entries[2].mount_point, b"/mnt/my disk");
        assert_eq!(entries[2].fs_type, "nfs4");
        assert_eq!(entries[2].source, b"server:/export\tx");
        assert_eq!(entries[3].fs_type, "fuse.sshfs");
    }

    #[test]
    fn backslash_without_octal_is_kept() {
        assert_eq!(unescape(b"a\\b\\09"), b"a\\b\\09");
        assert_eq!(unescape(b"\\134"), b"\\");
    }

    #[test]
    fn reads_this_machines_table() {
        let text = std::fs::read("/proc/self/mountinfo").unwrap();
        let entries = parse(&text);
        assert!(entries.iter().any(|e| e.mount_point == b"/"), "{entries:?}");
    }
}
