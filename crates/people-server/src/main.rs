//! `people`: serve Metabase's user API, apply migrations, or create an administrator.

use people_domain::setup::AdminSpec;
use people_server::{server, Cli, CliError, Command, Server, StartError};

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
    if let Err(e) = run(cli) {
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

fn run(mut cli: Cli) -> Result<(), StartError> {
    let config = cli.options.resolve()?;
    let command = cli.command.take().unwrap_or(Command::Serve {
        ephemeral: false,
        admin: None,
    });
    match command {
        Command::Serve {
            ephemeral: false,
            admin,
        } => {
            let server = Server::prepare(&config)?;
            if let Some(spec) = admin {
                let (email, password) = split_admin(&spec)?;
                server::sign_in_admin(server.people(), email, password)?;
            }
            actix_web::rt::System::new().block_on(server.run())
        }
        Command::Serve {
            ephemeral: true,
            admin,
        } => {
            let dir = server::ephemeral_dir()?;
            let result = serve_ephemeral(&cli.options, &dir, admin.as_deref());
            let _ = std::fs::remove_dir_all(&dir);
            result
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
                .map_err(StartError::CreateAdmin)?;
            println!("created administrator {} (id {})", user.email, user.id);
            Ok(())
        }
    }
}

/// `--admin EMAIL:PASSWORD`.
fn split_admin(spec: &str) -> Result<(&str, &str), StartError> {
    spec.split_once(':')
        .filter(|(e, p)| !e.is_empty() && !p.is_empty())
        .ok_or(StartError::AdminSpec)
}

/// `people serve --ephemeral`: a throwaway SQLite database in `dir` and a free port; prints one JSON line
/// (`url`, `admin_session`) on stdout once the server answers.
fn serve_ephemeral(
    options: &people_server::Options,
    dir: &std::path::Path,
    admin: Option<&str>,
) -> Result<(), StartError> {
    use std::io::Write;
    let config = server::ephemeral_config(options, dir)?;
    let server = Server::prepare(&config)?;
    let session = match admin {
        Some(spec) => {
            let (email, password) = split_admin(spec)?;
            Some(server::sign_in_admin(server.people(), email, password)?)
        }
        None => None,
    };
    let url = format!("http://{}", server.local_addr()?);
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        #[derive(serde::Serialize)]
        struct Ready {
            url: String,
            admin_session: Option<String>,
        }
        let line = serde_json::to_string(&Ready {
            url,
            admin_session: session,
        })
        .unwrap_or_default();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
        drop(out);
        server.run().await
    })
}
