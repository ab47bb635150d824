//! `unitlab trace ...` without the rest of unitlab: `cargo run -p unitlab-workloads --example
//! trace -- gen poisson --rate 10 --output-file t.csv`.

use clap::Parser;

#[derive(Parser)]
#[command(name = "trace", about = "unitlab trace commands")]
struct Cli {
    #[command(subcommand)]
    command: unitlab_workloads::cli::TraceCommand,
}

fn main() {
    if let Err(e) = Cli::parse().command.execute() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
