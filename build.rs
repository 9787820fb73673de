//! Generates `include/multipool.h` with cbindgen and sets the shared library's soname.
//!
//! The header is written to `OUT_DIR` every build and copied to `include/` only when its content
//! differs, so that an unchanged header keeps its timestamp (no needless C rebuilds) and a
//! read-only or packaged source tree still builds: a failed copy is a warning, not an error.

use std::{env, fs, path::PathBuf};

/// The status table (`src/status/table.rs`, the one source of the codes) as data:
/// `(C name, code, doc lines)`.
macro_rules! statuses {
    ($( $(#[doc = $doc:literal])* $variant:ident = $code:literal, $c_name:ident, $text:literal; )*) => {
        &[ $( (stringify!($c_name), $code, &[$($doc),*]) ),* ]
    };
}
const STATUSES: &[(&str, u32, &[&str])] = include!("src/status/table.rs");

/// The status codes as C `#define`s, each under its documentation.
fn status_defines() -> String {
    let mut out = String::from(
        "\n/* Status codes (multipool_status), from src/status/table.rs. A newer library may return codes\n\
         \x20* this header does not name: multipool_status_str() describes any code. */\n",
    );
    for (name, code, doc) in STATUSES {
        out.push_str("\n/**\n");
        for line in doc.iter() {
            out.push_str(&format!(" *{}\n", line.trim_end()));
        }
        out.push_str(&format!(" */\n#define {name} {code}\n"));
    }
    out
}

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo");
    let minor = env::var("CARGO_PKG_VERSION_MINOR").expect("set by cargo");
    let patch = env::var("CARGO_PKG_VERSION_PATCH").expect("set by cargo");

    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");
    // Only the ABI major version goes into the soname: minor releases stay link-compatible.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmultipool.so.{major}");

    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml must parse");
    let versions = format!(
        "\n/** Version of the header; compare with multipool_version_number() at run time. */\n\
         #define MULTIPOOL_VERSION_MAJOR {major}\n\
         #define MULTIPOOL_VERSION_MINOR {minor}\n\
         #define MULTIPOOL_VERSION_PATCH {patch}\n{}",
        status_defines()
    );
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .with_after_include(versions)
        .generate()
        .expect("cbindgen failed to generate include/multipool.h");

    let generated = out_dir.join("multipool.h");
    bindings.write_to_file(&generated);
    let fresh = fs::read(&generated).expect("just written");
    let committed = crate_dir.join("include").join("multipool.h");
    if fs::read(&committed).ok().as_deref() != Some(fresh.as_slice()) {
        let written = fs::create_dir_all(committed.parent().expect("has a parent"))
            .and_then(|()| fs::write(&committed, &fresh));
        if let Err(err) = written {
            println!(
                "cargo:warning=could not update {}: {err}; the generated header is at {}",
                committed.display(),
                generated.display()
            );
        }
    }
}
