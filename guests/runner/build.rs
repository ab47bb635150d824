//! Compiles runner.c into a static executable with the platform C compiler (found by the `cc`
//! crate, so CC and CFLAGS are honoured). The binary is embedded into the library.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=runner.c");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let exe = out.join("unitlab-runner");
    let compiler = cc::Build::new().opt_level(2).get_compiler();
    let mut cmd = compiler.to_command();
    cmd.args(["-O2", "-static", "-s", "runner.c", "-o"])
        .arg(&exe);
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {:?}: {e}", compiler.path()));
    if !output.status.success() {
        panic!(
            "building the static runner failed (a static libc is needed: on Debian `apt-get install libc6-dev`):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
