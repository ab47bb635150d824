//! Writes an OCI bundle exactly like an `oci` unit's (the runner image's root file system,
//! the same config.json) at the given path, for timing a bare `crun run` of it:
//! `cargo run -p unitlab-backend-oci --example bundle -- <bundle dir> <container id>`.

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(bundle), Some(id)) = (args.next(), args.next()) else {
        eprintln!("usage: bundle <bundle dir> <container id>");
        std::process::exit(2);
    };
    let dir = unitlab_backend_oci::default_dir();
    let image = unitlab_backend_container::ImageChoice::Runner;
    if let Err(e) = unitlab_backend_oci::write_bundle(&dir, &image, bundle.as_ref(), &id) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    println!("{bundle}");
}
