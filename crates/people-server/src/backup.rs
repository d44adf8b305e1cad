//! `people backup PATH`: a consistent copy of a live SQLite database, written online with `VACUUM INTO`
//! into a new file (never over an existing one). On PostgreSQL it prints the `pg_dump` command for the
//! configured database instead, since a dump is the database server's own business.

use std::io::Write;
use std::path::{Path, PathBuf};

use people_store::{StoreError, Target};

/// Why `people backup` made no copy.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The database is PostgreSQL: the message gives the `pg_dump` command.
    #[error(
        "people backup copies SQLite databases; back up this PostgreSQL database with: {command} \
         (the password from PGPASSWORD or ~/.pgpass; restore with pg_restore, see docs/operations.md)"
    )]
    Postgres {
        /// The `pg_dump` command line for the configured database, without its password.
        command: String,
    },
    /// An in-memory database has nothing to copy.
    #[error("MB_DB_CONNECTION_URI: an in-memory database cannot be backed up")]
    InMemory,
    /// The target exists (a file, even an empty one, or anything else).
    #[error("{}: already exists; people backup never overwrites a file, name a new one", .0.display())]
    Exists(PathBuf),
    /// The target cannot be created.
    #[error("{}: {source}", .path.display())]
    Create {
        /// The target.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The copy failed (and the partial file was removed).
    #[error("backup failed: {0}")]
    Copy(#[source] StoreError),
}

impl BackupError {
    /// Exit code: 2 when the configuration names a database people cannot copy (PostgreSQL, in memory), 1
    /// when the target exists or the copy failed.
    pub fn exit_code(&self) -> i32 {
        match self {
            BackupError::Postgres { .. } | BackupError::InMemory => 2,
            BackupError::Exists(_) | BackupError::Create { .. } | BackupError::Copy(_) => 1,
        }
    }
}

/// Copies the database of `database_url` to the new file `dest`; returns the copy's size in bytes.
pub fn backup(database_url: &str, dest: &Path) -> Result<u64, BackupError> {
    let source = match Target::parse(database_url) {
        Ok(Target::SqliteFile(path)) => PathBuf::from(path),
        Ok(Target::SqliteMemory(_)) => return Err(BackupError::InMemory),
        Ok(Target::Postgres(url)) => {
            return Err(BackupError::Postgres {
                command: pg_dump_command(&url, dest),
            })
        }
        Err(e) => return Err(BackupError::Copy(e)),
    };
    // Created here, empty and private (it holds password hashes), so that the refusal to overwrite is
    // atomic; SQLite writes into an empty file.
    let file = create_new(dest)?;
    let copied = people_store::backup::vacuum_into(&source, dest).and_then(|()| {
        // The copy is durable before the command says it is done.
        file.sync_all()
            .map_err(|e| StoreError::Connect(e.to_string()))?;
        file.metadata()
            .map(|m| m.len())
            .map_err(|e| StoreError::Connect(e.to_string()))
    });
    match copied {
        Ok(bytes) => Ok(bytes),
        Err(e) => {
            let _ = std::fs::remove_file(dest);
            Err(BackupError::Copy(e))
        }
    }
}

fn create_new(dest: &Path) -> Result<std::fs::File, BackupError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(dest).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            BackupError::Exists(dest.to_path_buf())
        } else {
            BackupError::Create {
                path: dest.to_path_buf(),
                source,
            }
        }
    })
}

/// The `pg_dump` command that writes the database of `url` to `dest` in the custom format (for
/// `pg_restore`), with the URL's password left out.
pub fn pg_dump_command(url: &str, dest: &Path) -> String {
    format!(
        "pg_dump --format=custom --file={} --dbname={}",
        shell_quote(&dest.display().to_string()),
        shell_quote(&without_password(url))
    )
}

/// A postgres URL without the password of its user information.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap_or("");
            format!("{scheme}://{user}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

/// `s` in single quotes for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Prints the outcome of a backup on stdout.
pub fn report(database_url: &str, dest: &Path, bytes: u64) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "backed up {database_url} to {} ({bytes} bytes)",
        dest.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pg_dump_command_leaves_the_password_out() {
        assert_eq!(
            pg_dump_command(
                "postgres://people:s3cret@db.internal:5432/people?sslmode=require",
                Path::new("/backups/people.dump")
            ),
            "pg_dump --format=custom --file='/backups/people.dump' \
             --dbname='postgres://people@db.internal:5432/people?sslmode=require'"
        );
        assert_eq!(
            without_password("postgres://u@h/db"),
            "postgres://u@h/db",
            "no password"
        );
        assert_eq!(without_password("postgresql://h/db"), "postgresql://h/db");
        assert_eq!(
            without_password("postgres://u:p%40ss@h/db?x=a@b"),
            "postgres://u@h/db?x=a@b"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
