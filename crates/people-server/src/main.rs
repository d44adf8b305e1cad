//! `people`: serve Metabase's user API, apply migrations, or create an administrator.

use clap::Parser;
use people_domain::setup::AdminSpec;
use people_server::{server, Cli, Command, Server, StartError};

fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .init();
}

fn main() {
    let cli = Cli::parse();
    init_logging();
    if let Err(e) = run(cli) {
        // One line, even when a driver's message spans several.
        let line = e
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        eprintln!("people: {line}");
        std::process::exit(e.exit_code());
    }
}

fn run(cli: Cli) -> Result<(), StartError> {
    let config = cli.options.resolve()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let server = Server::prepare(&config)?;
            actix_web::rt::System::new().block_on(server.run())
        }
        Command::Migrate => {
            let (_, applied) = server::open_database(&config)?;
            if applied.is_empty() {
                println!("database is up to date");
            }
            for m in applied {
                println!("applied migration {m}");
            }
            Ok(())
        }
        Command::CreateAdmin {
            email,
            password,
            first_name,
            last_name,
        } => {
            let (db, _) = server::open_database(&config)?;
            let people = server::build_people(&config, db)?;
            let user = people
                .create_admin(&AdminSpec {
                    email,
                    password,
                    first_name,
                    last_name,
                })
                .map_err(|e| StartError::Command(format!("create-admin: {}", describe(&e))))?;
            println!("created administrator {} (id {})", user.email, user.id);
            Ok(())
        }
    }
}

/// A domain error as one line for the terminal.
fn describe(e: &people_domain::DomainError) -> String {
    use people_domain::DomainError;
    match e {
        DomainError::Invalid { param, message, .. }
        | DomainError::Rule {
            field: param,
            message,
        } => {
            format!("{param}: {message}")
        }
        other => other.to_string(),
    }
}
