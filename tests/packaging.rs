//! `make install` lays the library out as distributions expect: versioned shared object with a
//! soname link, static archive, header and a pkg-config file that a C program can build with.

mod common;

use common::{can_run, have, lib_dir, root, run_ok, TempTree};
use std::process::Command;

#[test]
fn make_install_then_build_with_pkg_config() {
    if !can_run(
        have("pkg-config") && have("make") && have("readelf"),
        "make_install_then_build_with_pkg_config",
        "make, pkg-config and readelf",
    ) {
        return;
    }
    let stage = TempTree::new("stage");
    run_ok(
        Command::new("make")
            .current_dir(root())
            .arg("install")
            .arg("PREFIX=/usr")
            .arg(format!("DESTDIR={}", stage.path.display()))
            .arg(format!("BUILD_DIR={}", lib_dir().display())),
    );
    let lib = stage.path.join("usr/lib");
    let version = env!("CARGO_PKG_VERSION");
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    assert_eq!(
        std::fs::read_link(lib.join("libmultipool.so")).unwrap().to_str(),
        Some(&*format!("libmultipool.so.{major}"))
    );
    assert_eq!(
        std::fs::read_link(lib.join(format!("libmultipool.so.{major}"))).unwrap().to_str(),
        Some(&*format!("libmultipool.so.{version}"))
    );
    let dynamic = run_ok(
        Command::new("readelf").arg("-d").arg(lib.join(format!("libmultipool.so.{version}"))),
    );
    assert!(
        String::from_utf8_lossy(&dynamic.stdout).contains(&format!("[libmultipool.so.{major}]")),
        "soname"
    );

    let pkg = |args: &[&str]| {
        let out = run_ok(
            Command::new("pkg-config")
                .args(args)
                .arg("multipool")
                .env("PKG_CONFIG_PATH", lib.join("pkgconfig"))
                .env("PKG_CONFIG_SYSROOT_DIR", &stage.path),
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    assert_eq!(pkg(&["--modversion"]), version);
    let cflags = pkg(&["--cflags"]);
    let src = stage.path.join("prog.c");
    std::fs::write(&src, "#include <multipool.h>\n#include <stdio.h>\nint main(void) {\n  multipool_session *s = NULL;\n  if (multipool_session_new(NULL, &s) != MULTIPOOL_OK) return 1;\n  multipool_session_free(s);\n  printf(\"%s\\n\", multipool_version());\n  return multipool_version_number() / 10000 == MULTIPOOL_VERSION_MAJOR ? 0 : 1;\n}\n").unwrap();
    for (name, libs) in [
        ("dynamic", pkg(&["--libs"])),
        (
            "static",
            pkg(&["--libs", "--static"])
                .replace("-lmultipool", "-Wl,-Bstatic -lmultipool -Wl,-Bdynamic"),
        ),
    ] {
        let exe = stage.path.join(name);
        let line = format!(
            "cc -std=c99 -Wall -Wextra -Werror -pedantic {cflags} {} -o {} {libs}",
            src.display(),
            exe.display()
        );
        run_ok(Command::new("sh").args(["-c", &line]));
        let out = run_ok(Command::new(&exe).env("LD_LIBRARY_PATH", &lib));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), version, "{name}");
    }
}
