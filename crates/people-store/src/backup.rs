//! Online copies of a SQLite database: `VACUUM INTO` writes a consistent snapshot (one read transaction)
//! while the server goes on writing; in WAL mode it neither waits for writers nor makes them wait.

use std::path::Path;

use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{Connection, RunQueryDsl, SqliteConnection};

use crate::error::StoreError;

/// Copies the SQLite database in the file `source` to `dest`, which must not exist or be empty (SQLite
/// refuses anything else). The copy is a complete database file of its own, without a WAL beside it.
pub fn vacuum_into(source: &Path, dest: &Path) -> Result<(), StoreError> {
    if !source.is_file() {
        return Err(StoreError::Connect(format!(
            "no SQLite database at {}",
            source.display()
        )));
    }
    let (Some(source), Some(dest)) = (source.to_str(), dest.to_str()) else {
        return Err(StoreError::Connect("paths must be UTF-8".into()));
    };
    let mut conn =
        SqliteConnection::establish(source).map_err(|e| StoreError::Connect(e.to_string()))?;
    conn.batch_execute("PRAGMA busy_timeout = 5000;")?;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(dest)
        .execute(&mut conn)?;
    Ok(())
}
