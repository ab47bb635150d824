//! Finds libnode (V8's headers and shared library) and builds the C++ shim as a shared
//! library linked against it.
//!
//! Search order: `UNITLAB_LIBNODE_DIR` (a root holding `usr/include/node` and
//! `usr/lib/x86_64-linux-gnu`), then the project-local `.deps/libnode` made by
//! `scripts/setup-v8.sh`, then a system install (`/usr/include/node/v8.h` AND a `libnode.so`:
//! Debian's `nodejs` package alone ships headers of a different V8 and no libnode).
//!
//! Why a shared library loaded with dlopen instead of linking `-lnode` into the crate: a
//! dependency's `-Wl,-rpath` does not reach the final binaries (the harness CLI), which would
//! then fail to start wherever libnode is not on the loader path. The shim carries its own
//! rpath to libnode, and the crate loads it at run time, so a binary with the `v8` backend
//! starts everywhere and the backend reports `Unavailable` with the fix when it cannot load.
//!
//! When libnode is missing the build does not fail: cfg `unitlab_v8` stays unset and the crate
//! compiles a stub whose `availability()` says what was searched and how to fix it.

use std::env;
use std::path::{Path, PathBuf};

const LIB_SUBDIR: &str = "usr/lib/x86_64-linux-gnu";

struct Libnode {
    include: PathBuf,
    lib_dir: PathBuf,
}

fn probe_root(root: &Path) -> Option<Libnode> {
    let include = root.join("usr/include/node");
    let lib_dir = root.join(LIB_SUBDIR);
    (include.join("v8.h").is_file() && lib_dir.join("libnode.so").exists())
        .then_some(Libnode { include, lib_dir })
}

fn probe_system() -> Option<Libnode> {
    let include = PathBuf::from("/usr/include/node");
    if !include.join("v8.h").is_file() {
        return None;
    }
    ["/usr/lib/x86_64-linux-gnu", "/usr/lib", "/usr/local/lib"]
        .iter()
        .map(PathBuf::from)
        .find(|d| d.join("libnode.so").exists())
        .map(|lib_dir| Libnode { include, lib_dir })
}

fn main() {
    println!("cargo::rustc-check-cfg=cfg(unitlab_v8)");
    println!("cargo::rerun-if-env-changed=UNITLAB_LIBNODE_DIR");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=shim/shim.cc");
    println!("cargo::rerun-if-changed=shim/shim.h");

    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let local = manifest.join("../../.deps/libnode");
    let local = local.canonicalize().unwrap_or(local);

    let mut searched = Vec::new();
    let found = if let Some(dir) = env::var_os("UNITLAB_LIBNODE_DIR") {
        let root = PathBuf::from(dir);
        searched.push(format!("UNITLAB_LIBNODE_DIR={}", root.display()));
        probe_root(&root)
    } else {
        searched.push(local.display().to_string());
        searched.push("/usr/include/node/v8.h + libnode.so".to_string());
        probe_root(&local).or_else(probe_system)
    };

    let Some(libnode) = found else {
        // Watch what setup-v8.sh creates: a missing path makes cargo rerun this (cheap)
        // script on every build, so the backend turns on as soon as libnode appears.
        println!("cargo::rerun-if-changed={}", local.display());
        println!(
            "cargo::rerun-if-changed={}",
            local.join(LIB_SUBDIR).join("libnode.so").display()
        );
        let where_ = searched.join(", ");
        println!("cargo::rustc-env=UNITLAB_V8_SEARCHED={where_}");
        println!(
            "cargo::warning=unitlab-backend-v8: libnode not found ({where_}); building the \
             stub backend. Run scripts/setup-v8.sh to enable it."
        );
        return;
    };

    println!(
        "cargo::rerun-if-changed={}",
        libnode.include.join("v8.h").display()
    );
    println!(
        "cargo::rerun-if-changed={}",
        libnode.lib_dir.join("libnode.so").display()
    );
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it"));
    let so = out.join("libunitlab_v8_shim.so");
    // The cc crate picks the C++ compiler and the target's flags (-fPIC, -m64, -O, -g);
    // we add what a shared library linked against libnode needs.
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .std("c++17")
        .include(&libnode.include)
        .include(manifest.join("shim"))
        // v8.h has warnings under newer compilers; they are not ours to fix.
        .flag("-w")
        // libnode's V8 is built without RTTI: a class deriving from a V8 interface (our
        // ArrayBuffer allocator) must be too, or it needs V8 typeinfo the library lacks.
        .flag("-fno-rtti")
        .pic(true);
    let compiler = build.get_compiler();
    let mut cmd = compiler.to_command();
    cmd.arg("-shared")
        .arg(manifest.join("shim/shim.cc"))
        .arg("-o")
        .arg(&so)
        .arg(format!("-L{}", libnode.lib_dir.display()))
        .arg("-lnode")
        .arg(format!("-Wl,-rpath,{}", libnode.lib_dir.display()))
        .arg("-Wl,--no-undefined")
        .arg("-pthread");
    let shown = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("running the C++ compiler `{shown}`: {e}"));
    if !status.success() {
        panic!(
            "compiling the V8 shim failed ({status}); command: `{shown}`. libnode was found at {} \
             / {}: if these headers do not belong to that library, point UNITLAB_LIBNODE_DIR \
             at a matching root or run scripts/setup-v8.sh",
            libnode.include.display(),
            libnode.lib_dir.display()
        );
    }
    println!("cargo::rustc-cfg=unitlab_v8");
    println!("cargo::rustc-env=UNITLAB_V8_SHIM_PATH={}", so.display());
    println!(
        "cargo::rustc-env=UNITLAB_V8_LIBNODE_DIR={}",
        libnode.lib_dir.display()
    );
}
