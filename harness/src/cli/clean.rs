//! `unitlab clean`: removes what the lab left behind in the Docker engine, and the memory
//! cgroups of `unitlab density` runs that were killed.

use anyhow::Result;
use clap::Args;

/// Removes every container labelled by unitlab (left by a killed run), and with `--images`
/// the images it built; and the memory cgroups of killed `unitlab density` runs.
#[derive(Debug, Args)]
pub struct CleanCmd {
    /// Also remove the images unitlab built (they are rebuilt on the next run).
    #[arg(long)]
    pub images: bool,
}

impl CleanCmd {
    /// Runs the command.
    #[cfg(feature = "container")]
    pub fn execute(self) -> Result<()> {
        clean_cgroups();
        let report = unitlab_backend_container::clean_with(None, self.images)?;
        println!(
            "removed {} containers, {} images",
            report.containers.len(),
            report.images.len()
        );
        for f in &report.failures {
            println!("could not remove {f}");
        }
        if !report.failures.is_empty() {
            anyhow::bail!("{} objects could not be removed", report.failures.len());
        }
        Ok(())
    }

    /// Runs the command.
    #[cfg(not(feature = "container"))]
    pub fn execute(self) -> Result<()> {
        clean_cgroups();
        println!("built without the container backend: nothing to clean");
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
