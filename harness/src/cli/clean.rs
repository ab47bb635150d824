//! `unitlab clean`: removes what the lab left behind in the Docker engine, the `oci` backend's
//! bundles and runtime state, and the memory cgroups of `unitlab density` runs that were killed.

use anyhow::Result;
use clap::Args;

/// Removes every container labelled by unitlab (left by a killed run), and with `--images`
/// the images it built; deletes the `oci` backend's leftover containers and bundles; and the
/// memory cgroups of killed `unitlab density` runs.
#[derive(Debug, Args)]
pub struct CleanCmd {
    /// Also remove the images unitlab built (they are rebuilt on the next run).
    #[arg(long)]
    pub images: bool,
    /// Only the Docker containers that also carry this label, e.g. `unitlab.owner_pid=1234`
    /// (the containers of one killed run: every unit is labelled with its run's pid); nothing
    /// else is cleaned.
    #[arg(long)]
    pub label: Option<String>,
}

impl CleanCmd {
    /// Runs the command.
    pub fn execute(self) -> Result<()> {
        // With --label, only that run's Docker containers: nothing shared is touched.
        let everything = self.label.is_none();
        if everything {
            clean_cgroups();
        }
        let mut failures = 0;
        #[cfg(feature = "container")]
        {
            let report = unitlab_backend_container::clean_matching(
                None,
                self.label.as_deref(),
                self.images,
            )?;
            println!(
                "removed {} containers, {} images",
                report.containers.len(),
                report.images.len()
            );
            for f in &report.failures {
                println!("could not remove {f}");
            }
            failures += report.failures.len();
        }
        #[cfg(feature = "oci")]
        if everything {
            let dir = unitlab_backend_oci::default_dir();
            let report = unitlab_backend_oci::clean(&dir);
            println!(
                "oci: deleted {} containers, removed {} bundles (in {}) and {} cgroups",
                report.containers.len(),
                report.bundles.len(),
                dir.display(),
                report.cgroups.len()
            );
            for f in &report.failures {
                println!("could not remove {f}");
            }
            failures += report.failures.len();
        }
        #[cfg(not(any(feature = "container", feature = "oci")))]
        {
            let _ = self.images;
            println!("built without the container and oci backends: nothing else to clean");
        }
        if failures > 0 {
            anyhow::bail!("{failures} objects could not be removed");
        }
        Ok(())
    }
}

/// Removes the cgroups of killed density runs; no memory controller is nothing to clean.
fn clean_cgroups() {
    if let Ok(removed) = unitlab::cgroup::remove_stale() {
        if !removed.is_empty() {
            println!(
                "removed {} memory cgroups of killed density runs",
                removed.len()
            );
        }
    }
}
