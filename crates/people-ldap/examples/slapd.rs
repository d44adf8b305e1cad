//! Metabase's test directory (`people_ldap::testing`, the plain variant) as a program of its own, for
//! benchmarks and manual tries (`bench/bench.py --scenarios ldap` runs it):
//!
//! ```sh
//! cargo run --release -p people-ldap --features testing --example slapd
//! ```
//!
//! Prints `PORT <port>` (plain LDAP on 127.0.0.1), then `PID <pid>` (slapd's own process, to account its
//! CPU time), then waits until its standard input closes or it is told to stop (SIGTERM, SIGINT), and
//! stops slapd and removes its files on the way out. Base `dc=metabase,dc=com`, bind as
//! `cn=Directory Manager,dc=metabase,dc=com` / `password`; users jsmith1/strongpassword, sbrown20/1234,
//! jmiller/janepassword, rasta/blueberries, lucky/notalmonds.

use std::io::{Read, Write};
use std::sync::mpsc;

use people_ldap::testing::{Slapd, Variant};

fn main() {
    let slapd = match Slapd::start(Variant::Plain) {
        Ok(slapd) => slapd,
        Err(e) => {
            eprintln!("slapd: {e}");
            std::process::exit(1);
        }
    };
    let pid = std::fs::read_to_string(slapd.dir().join("slapd.pid")).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "PORT {}", slapd.port());
    let _ = writeln!(out, "PID {}", pid.trim());
    let _ = out.flush();
    drop(out);

    // Whichever comes first: standard input closed, or a signal.
    let (done, wait) = mpsc::channel::<()>();
    let stdin_done = done.clone();
    std::thread::spawn(move || {
        let mut sink = [0u8; 256];
        let mut stdin = std::io::stdin().lock();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        let _ = stdin_done.send(());
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the signal handlers");
    std::thread::spawn(move || {
        runtime.block_on(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        });
        let _ = done.send(());
    });
    let _ = wait.recv();
    drop(slapd);
}
