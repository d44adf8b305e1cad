//! `people`: serve Metabase's user API, apply migrations, or create an administrator.

use people_server::{server, Cli, CliError, StartError};

fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .init();
}

fn main() {
    let cli = match Cli::from_process() {
        Ok(cli) => cli,
        Err(CliError::Usage(e)) => e.exit(),
        Err(CliError::Config(e)) => fail(&StartError::Config(e)),
    };
    init_logging();
    if let Err(e) = server::run(cli) {
        fail(&e);
    }
}

/// Prints `e` as one line (even when a driver's message spans several) and exits with its code.
fn fail(e: &StartError) -> ! {
    let line = e
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    eprintln!("people: {line}");
    std::process::exit(e.exit_code());
}
