//! The `electune` binary: parses the command line, runs the subcommand, maps errors to exit codes.

use clap::Parser;

mod cli;
mod commands;

fn main() {
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() {
                electune::exit::BAD_INPUT
            } else {
                electune::exit::SUCCESS
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let code = cli::run(args);
    std::process::exit(code);
}
