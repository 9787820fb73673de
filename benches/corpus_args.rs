//! What the cold and chunking benchmarks share: `[ROUNDS] DIR...` arguments and the regular
//! files under a directory.

use std::path::{Path, PathBuf};

/// The rounds (the first argument when it is a number, else 7) and the directories after it.
pub fn rounds_and_dirs() -> (usize, Vec<String>) {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let rounds = match args.first().and_then(|a| a.parse().ok()) {
        Some(r) => {
            args.remove(0);
            r
        }
        None => 7,
    };
    (rounds, args)
}

/// Every regular file under `dir`, with its size, sorted by path.
pub fn files_under(dir: &Path) -> Vec<(PathBuf, u64)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                walk(&e.path(), out);
            } else if t.is_file() {
                out.push((e.path(), e.metadata().unwrap().len()));
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    files.sort();
    files
}
