//! The `electune` binary: parses the command line, runs the subcommand, maps errors to exit codes.

use clap::Parser;

mod cli;

fn main() {
    let args = cli::Cli::parse();
    let code = cli::run(args);
    std::process::exit(code);
}
