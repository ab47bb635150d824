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
#[allow(
    clippy::large_enum_variant,
    reason = "one value, parsed once at start-up: boxing would only add noise"
)]
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
    Trace(cli::trace::TraceCommand),
    /// Replays a trace against a real backend under platform policies.
    Replay(cli::replay::ReplayCmd),
    /// Simulates platform policies on a trace, calibrated from measured results.
    Simulate(cli::simulate::SimulateCmd),
    /// Replays a short trace and simulates it, and reports how far apart they are.
    Validate(cli::validate::ValidateCmd),
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

/// On Ctrl-C (SIGINT), remove the containers and memory cgroups this process made and its
/// partial result directories before exiting with [`unitlab::exit::INTERRUPTED`], so an
/// interrupted run leaves nothing behind (`unitlab clean` catches what a SIGKILL leaves; the
/// next run into the same folder removes its partial directories). Child processes (Deno
/// hosts, runners) see their stdin close when this process exits, and exit.
fn install_interrupt_cleanup() {
    let _ = ctrlc::set_handler(|| {
        cli::INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
        unitlab_results::dir::remove_partial_dirs();
        #[cfg(feature = "container")]
        {
            let n = unitlab_backend_container::remove_live_units();
            if n > 0 {
                eprintln!("interrupted: removed {n} containers");
            }
        }
        #[cfg(feature = "oci")]
        {
            let n = unitlab_backend_oci::remove_live_units();
            if n > 0 {
                eprintln!("interrupted: removed {n} oci containers");
            }
        }
        let n = unitlab::cgroup::remove_live();
        if n > 0 {
            eprintln!("interrupted: removed {n} memory cgroups");
        }
        std::process::exit(unitlab::exit::INTERRUPTED);
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
        std::process::exit(unitlab::exit::code(&e));
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

    /// Every subcommand's flags (and nested subcommands'), with the path that leads to them.
    fn all_args(cmd: &clap::Command, path: &str, out: &mut Vec<(String, clap::Arg)>) {
        for a in cmd.get_arguments() {
            out.push((format!("{path} --{}", a.get_id()), a.clone()));
        }
        for sub in cmd.get_subcommands() {
            all_args(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    /// One syntax for every flag: each duration flag (value name `DURATION`) and each size
    /// flag (value name `SIZE`) of every subcommand accepts and rejects the same strings; a
    /// bare number is refused by both (it could mean seconds or milliseconds, bytes or MiB).
    #[test]
    fn duration_and_size_flags_share_one_syntax() {
        use std::ffi::OsStr;
        let cmd = super::Cli::command();
        let mut args = Vec::new();
        all_args(&cmd, "unitlab", &mut args);
        let cases: [(&str, &[&str], &[&str]); 2] = [
            (
                "DURATION",
                &["250ms", "1.5s", "10m", "24h"],
                &["60", "1.5", "10 parsecs", "ms", "-1s", ""],
            ),
            (
                "SIZE",
                &["64MiB", "65536KiB", "1GiB", "67108864B", "256m"],
                &["65536", "1.5", "64 parsecs", "MiB", ""],
            ),
        ];
        for (kind, good, bad) in cases {
            let flags: Vec<_> = args
                .iter()
                // `--size` is a request size, a count in the function's own unit (clap names
                // its value SIZE after the field).
                .filter(|(_, a)| a.get_id().as_str() != "size")
                .filter(|(_, a)| {
                    a.get_value_names()
                        .is_some_and(|v| v.iter().any(|n| n.as_str() == kind))
                })
                .collect();
            assert!(flags.len() >= 3, "too few {kind} flags found: {flags:?}");
            for (path, a) in &flags {
                // The flag alone in a command of its own, so that nothing else is required.
                let long = a
                    .get_long()
                    .expect("duration and size flags are long flags");
                let parse = |s: &str| {
                    clap::Command::new("t")
                        .arg(
                            (*a).clone()
                                .required(false)
                                .requires(clap::builder::Resettable::<clap::Id>::Reset),
                        )
                        .try_get_matches_from([
                            OsStr::new("t"),
                            OsStr::new(&format!("--{long}={s}")),
                        ])
                };
                for s in good {
                    assert!(parse(s).is_ok(), "{path} rejects {s:?}");
                }
                for s in bad {
                    assert!(parse(s).is_err(), "{path} accepts {s:?}");
                }
            }
        }
        // `-o` is a results directory everywhere (`--out`); a file is spelled `--output-file`.
        for (path, a) in &args {
            if a.get_short() == Some('o') {
                assert_eq!(a.get_id().as_str(), "out", "{path}: -o must be --out DIR");
            }
        }
        // Flags that take a duration or a size by name must say so in their value name.
        for (path, a) in &args {
            let id = a.get_id().as_str();
            let named = [
                "span",
                "bin",
                "deadline",
                "gap",
                "memory_limit",
                "unit_memory",
            ];
            if named.contains(&id) && a.get_action().takes_values() {
                let names = a.get_value_names().unwrap_or_default();
                assert!(
                    names.iter().any(|n| n == "DURATION" || n == "SIZE"),
                    "{path} takes a duration or a size but is not marked as one"
                );
            }
        }
    }
}
