//! `unitlab doctor`: which backends can run here, and how to fix the others; which OCI
//! runtimes the Docker engine has and which are installed for the `oci` backend.

use anyhow::Result;
use clap::Args;
use unitlab::BackendKind;
use unitlab_backend::Availability;

/// Lists every backend as available or not, with the reason and the fix, then every OCI runtime.
#[derive(Debug, Args)]
pub struct DoctorCmd {
    /// Also list each backend's `--opt` keys.
    #[arg(long)]
    pub options: bool,
}

impl DoctorCmd {
    /// Runs the command. Exits 0 even when backends are missing: it reports, it doesn't judge.
    pub fn execute(self) -> Result<()> {
        for kind in BackendKind::ALL {
            match kind.availability() {
                Availability::Available(what) => {
                    println!("{:<10} available    {what}", kind.name())
                }
                Availability::Unavailable { reason, fix } => {
                    println!("{:<10} unavailable  {reason}", kind.name());
                    println!("{:<10}              fix: {fix}", "");
                }
            }
            if self.options {
                for (k, help) in kind.options() {
                    println!("{:<10}   --opt {k}=...  {help}", "");
                }
            }
        }
        runtimes();
        Ok(())
    }
}

/// One line per OCI runtime: installed (for `--backend oci`) and registered with dockerd (for
/// `--backend container --runtime ...`), with the fix for what is missing.
#[cfg(feature = "container")]
fn runtimes() {
    use unitlab_backend_container::runtime;
    println!(
        "OCI runtimes (--runtime): installed for `oci`, registered with dockerd for `container`"
    );
    if let Some(engine) = runtime::engine_runtimes(None) {
        let names: Vec<&str> = engine.registered.keys().map(String::as_str).collect();
        println!(
            "  dockerd has: {} (default {})",
            names.join(", "),
            engine.default
        );
    }
    for s in runtime::statuses(None) {
        let installed = match &s.installed {
            Some((path, version)) => format!("installed ({version}, {})", path.display()),
            None => "not installed".to_string(),
        };
        let registered = match s.registered {
            Some(true) => "registered with dockerd",
            Some(false) => "not registered with dockerd",
            None => "dockerd not answering",
        };
        println!("  {:<8} {installed}; {registered}", s.runtime.name());
        for fix in &s.fixes {
            println!("  {:<8} fix: {fix}", "");
        }
    }
    let unified = std::path::Path::new("/sys/fs/cgroup/unified/cgroup.controllers");
    if let Some(why) = runtime::hybrid_cgroup_problem(unified) {
        println!("  {:<8} {why}", "crun");
    }
}

#[cfg(not(feature = "container"))]
fn runtimes() {}
