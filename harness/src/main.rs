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
    /// Cold starts, warm invokes and memory per unit of one backend and function.
    Measure(cli::measure::MeasureCmd),
    /// Lists every backend as available or not, with the reason and the fix.
    Doctor(cli::doctor::DoctorCmd),
    /// Generate, inspect and transform traces (synthetic and loaded).
    #[command(subcommand)]
    Trace(unitlab_workloads::cli::TraceCommand),
}

fn main() {
    let cli = Cli::parse();
    let result: Result<()> = match cli.command {
        Command::Measure(c) => c.execute(),
        Command::Doctor(c) => c.execute(),
        Command::Trace(c) => c.execute(),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        for cause in e.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
        std::process::exit(1);
    }
}
