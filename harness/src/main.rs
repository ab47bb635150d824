//! The `unitlab` command line.

use anyhow::Result;
use clap::{Parser, Subcommand};

mod cli;

/// unitlab measures and simulates serverless execution units: containers, V8 isolates, Deno
/// workers, Wasm instances and bare processes, on this machine.
#[derive(Debug, Parser)]
#[command(name = "unitlab", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The main job: measure every available backend, simulate and replay the default bursty
    /// workload, write the HTML report and print its path.
    Run(cli::run::RunCmd),
    /// Cold starts, warm invokes and memory per unit of one backend and function.
    Measure(cli::measure::MeasureCmd),
    /// Lists every backend as available or not, with the reason and the fix.
    Doctor(cli::doctor::DoctorCmd),
    /// Generate, inspect and transform traces (synthetic and loaded).
    #[command(subcommand)]
    Trace(unitlab_workloads::cli::TraceCommand),
    /// Replays a trace against a real backend under platform policies.
    Replay(cli::platform::ReplayCmd),
    /// Simulates platform policies on a trace, calibrated from measured results.
    Simulate(cli::platform::SimulateCmd),
    /// Replays a short trace and simulates it, and reports how far apart they are.
    Validate(cli::platform::ValidateCmd),
    /// Writes the HTML report from result directories.
    Report(cli::report::ReportCmd),
    /// Compares two sets of results, flagging changes outside the noise.
    Compare(cli::report::CompareCmd),
    /// Removes containers (and with --images, images) that unitlab left behind.
    Clean(cli::clean::CleanCmd),
    /// Releases N cold starts at once per level and times until every one has answered.
    Burst(cli::burst::BurstCmd),
    /// Counts the units that fit in a memory budget the kernel enforces (a cgroup limit).
    Density(cli::density::DensityCmd),
    /// The child process `density` runs its units in (internal).
    #[command(hide = true, name = "density-units")]
    DensityUnits(cli::density::DensityUnitsCmd),
}

/// On Ctrl-C, remove the containers and memory cgroups this process made before exiting, so an
/// interrupted run leaves nothing behind (`unitlab clean` catches what a SIGKILL leaves).
fn install_interrupt_cleanup() {
    let _ = ctrlc::set_handler(|| {
        cli::INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
        #[cfg(feature = "container")]
        {
            let n = unitlab_backend_container::remove_live_units();
            if n > 0 {
                eprintln!("interrupted: removed {n} containers");
            }
        }
        let n = unitlab::cgroup::remove_live();
        if n > 0 {
            eprintln!("interrupted: removed {n} memory cgroups");
        }
        std::process::exit(130);
    });
}

fn main() {
    let cli = Cli::parse();
    install_interrupt_cleanup();
    let result: Result<()> = match cli.command {
        Command::Run(c) => c.execute(),
        Command::Measure(c) => c.execute(),
        Command::Doctor(c) => c.execute(),
        Command::Trace(c) => c.execute(),
        Command::Replay(c) => c.execute(),
        Command::Simulate(c) => c.execute(),
        Command::Validate(c) => c.execute(),
        Command::Report(c) => c.execute(),
        Command::Compare(c) => c.execute(),
        Command::Clean(c) => c.execute(),
        Command::Burst(c) => c.execute(),
        Command::Density(c) => c.execute(),
        Command::DensityUnits(c) => c.execute(),
    };
    if cli::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
        // The handler is still removing what this process made; it exits with 130.
        loop {
            std::thread::park();
        }
    }
    if let Err(e) = result {
        eprintln!("error: {e}");
        for cause in e.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every subcommand's flags are consistent (no two share a name or short flag).
    #[test]
    fn command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
