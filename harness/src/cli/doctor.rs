//! `unitlab doctor`: which backends can run here, and how to fix the others.

use anyhow::Result;
use clap::Args;
use unitlab::BackendKind;
use unitlab_backend::Availability;

/// Lists every backend as available or not, with the reason and the fix.
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
        Ok(())
    }
}
