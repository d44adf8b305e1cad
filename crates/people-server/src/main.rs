//! `people`: serve Metabase's user API, apply migrations, or create an administrator.

use people_server::logging::{self, LogFormat};
use people_server::{server, Cli, CliError, StartError};

fn main() {
    let cli = match Cli::from_process() {
        Ok(cli) => cli,
        Err(CliError::Usage(e)) => e.exit(),
        Err(CliError::Config(e)) => fail(&StartError::Config(e)),
    };
    let format = cli.options.log_format;
    logging::init(format);
    if let Err(e) = server::run(cli) {
        if format == LogFormat::Json {
            // Every line on stderr stays JSON.
            log::error!(target: "people", "{}", one_line(&e));
            std::process::exit(e.exit_code());
        }
        fail(&e);
    }
}

/// `e` as one line, even when a driver's message spans several.
fn one_line(e: &StartError) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Prints `e` as one line (even when a driver's message spans several) and exits with its code.
fn fail(e: &StartError) -> ! {
    let line = one_line(e);
    eprintln!("people: {line}");
    std::process::exit(e.exit_code());
}
