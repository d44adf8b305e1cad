//! A throwaway OpenLDAP `slapd` for tests: its own process on free local ports, its own configuration and
//! database in a temporary directory, loaded with Metabase's test directory (docs/ldap.md), killed and
//! removed on drop. Nothing of the machine's own slapd (if any) is used.
//!
//! Needs OpenLDAP's `slapd` (`/usr/sbin/slapd`, or `$PEOPLE_SLAPD`) and `ldapmodify` (ldap-utils). Without
//! them, starting fails with an error saying `not run: slapd not found`; [`start_or_skip`] turns that into
//! a skipped test locally and a failure when `CI=true`.

use std::io::Write;
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use people_domain::ldap::{LdapConfig, Security};

use crate::Error;

/// The directory's base DN.
pub const BASE: &str = "dc=metabase,dc=com";
/// The bind DN with full rights (slapd's `rootdn`).
pub const ADMIN_DN: &str = "cn=Directory Manager,dc=metabase,dc=com";
/// `ADMIN_DN`'s password.
pub const ADMIN_PASSWORD: &str = "password";
/// Jane Miller's password (Metabase's fixture does not show it).
pub const JANE_PASSWORD: &str = "janepassword";
/// The Accounting group's DN.
pub const ACCOUNTING: &str = "cn=Accounting,ou=Groups,dc=metabase,dc=com";
/// The Engineering group's DN.
pub const ENGINEERING: &str = "cn=Engineering,ou=Groups,dc=metabase,dc=com";

/// Which directory to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Metabase's `ldap.ldif`: groups found under the group base (Accounting a `groupOfNames` of John,
    /// Rasta and Fred; Engineering a `posixGroup` with `memberUid: sbrown20`); plain LDAP only.
    Plain,
    /// Metabase's `active_directory.ldif`: the `memberof` overlay gives users `memberOf` (Accounting: John
    /// and Sally; Engineering: Sally).
    ActiveDirectory,
    /// The plain directory also served over TLS (StartTLS on the plain port, LDAPS on its own port) with
    /// a certificate for `localhost`, `127.0.0.1` and `::1`, issued by a CA made for the test.
    Tls,
}

/// A running slapd; killed and its files removed on drop.
pub struct Slapd {
    process: Mutex<Option<Child>>,
    program: PathBuf,
    urls: String,
    dir: PathBuf,
    port: u16,
    ldaps_port: Option<u16>,
    ipv6: bool,
}

/// Starts `variant`, or, when slapd is not installed and `CI` is not `true`, prints why the test does not
/// run and returns `None`. Any other failure (and a missing slapd on CI) panics: it is a test's failure.
pub fn start_or_skip(variant: Variant) -> Option<Slapd> {
    start_named_or_skip(variant, &["localhost", "127.0.0.1", "::1"])
}

/// [`start_or_skip`] with the TLS certificate issued for `names` (for [`Variant::Tls`]).
pub fn start_named_or_skip(variant: Variant, names: &[&str]) -> Option<Slapd> {
    match Slapd::start_named(variant, names) {
        Ok(slapd) => Some(slapd),
        Err(e) if e.to_string().contains(NOT_FOUND) && !on_ci() => {
            // Straight to the process's stderr, not through the test's captured output, so that the line
            // is in the log of a passing run too (CI looks for it).
            let _ = writeln!(std::io::stderr(), "{e}");
            None
        }
        Err(e) => panic!("cannot start the test directory: {e}"),
    }
}

/// What a missing slapd's error says, which CI looks for in test logs.
pub const NOT_FOUND: &str = "not run: slapd not found";

fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn harness(message: impl Into<String>) -> Error {
    Error::Harness(message.into())
}

/// A free local port (free when asked: slapd binds it right after).
fn free_port(ipv6: bool) -> Result<u16, Error> {
    for _ in 0..20 {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| harness(format!("no free port: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| harness(e.to_string()))?
            .port();
        if !ipv6 || TcpListener::bind((Ipv6Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(harness("no port free on both 127.0.0.1 and ::1"))
}

/// Whether this machine can listen on `::1`.
fn has_ipv6() -> bool {
    TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}

fn program(env: &str, default: &str, name: &str) -> Result<PathBuf, Error> {
    let path = std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from);
    if path.is_file() {
        return Ok(path);
    }
    // Elsewhere on the PATH?
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|candidate| candidate.is_file())
        })
        .ok_or_else(|| {
            harness(format!(
                "{NOT_FOUND} ({name} is missing: install the slapd and ldap-utils packages)"
            ))
        })
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl Slapd {
    /// Starts `variant` with its data loaded; the TLS certificate names `localhost`, `127.0.0.1`, `::1`.
    pub fn start(variant: Variant) -> Result<Slapd, Error> {
        Self::start_named(variant, &["localhost", "127.0.0.1", "::1"])
    }

    /// Starts `variant`; for [`Variant::Tls`] the server's certificate names exactly `names`.
    pub fn start_named(variant: Variant, names: &[&str]) -> Result<Slapd, Error> {
        let slapd = program("PEOPLE_SLAPD", "/usr/sbin/slapd", "slapd")?;
        program("PEOPLE_LDAPMODIFY", "/usr/bin/ldapmodify", "ldapmodify")?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "people-slapd-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(dir.join("db"))
            .map_err(|e| harness(format!("{}: {e}", dir.display())))?;
        let ipv6 = has_ipv6();
        let port = free_port(ipv6)?;
        let ldaps_port = match variant {
            Variant::Tls => Some(free_port(ipv6)?),
            _ => None,
        };
        let mut urls = vec![format!("ldap://127.0.0.1:{port}/")];
        if ipv6 {
            urls.push(format!("ldap://[::1]:{port}/"));
        }
        if let Some(ldaps) = ldaps_port {
            urls.push(format!("ldaps://127.0.0.1:{ldaps}/"));
            if ipv6 {
                urls.push(format!("ldaps://[::1]:{ldaps}/"));
            }
        }
        let server = Slapd {
            process: Mutex::new(None),
            program: slapd,
            urls: urls.join(" "),
            dir,
            port,
            ldaps_port,
            ipv6,
        };
        if variant == Variant::Tls {
            server.certificates(names)?;
        }
        server.write(
            "slapd.conf",
            &slapd_conf(
                &server.dir,
                variant == Variant::ActiveDirectory,
                ldaps_port.is_some(),
            ),
        )?;
        server.spawn()?;
        // Tests change the data with ldapmodify, so it goes in the same way (and through the memberof
        // overlay, which an offline slapadd would bypass).
        server.ldapmodify(&data(variant), true)?;
        Ok(server)
    }

    /// Starts the slapd process and waits until it listens.
    fn spawn(&self) -> Result<(), Error> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("slapd.log"))
            .map_err(|e| harness(e.to_string()))?;
        let child = Command::new(&self.program)
            .arg("-f")
            .arg(self.dir.join("slapd.conf"))
            .arg("-h")
            .arg(&self.urls)
            // In the foreground (so that killing the child kills slapd), logging nothing but errors.
            .args(["-d", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| harness(format!("{}: {e}", self.program.display())))?;
        *self.lock() = Some(child);
        self.wait_ready()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Child>> {
        self.process.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self, name: &str, text: &str) -> Result<(), Error> {
        std::fs::write(self.dir.join(name), text)
            .map_err(|e| harness(format!("{}: {e}", self.dir.join(name).display())))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("slapd.log")).unwrap_or_default()
    }

    fn wait_ready(&self) -> Result<(), Error> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let ports: Vec<u16> = std::iter::once(self.port).chain(self.ldaps_port).collect();
        loop {
            if let Some(child) = self.lock().as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(harness(format!(
                        "slapd exited ({status}) at start-up: {}",
                        self.log()
                    )));
                }
            }
            let up = ports.iter().all(|port| {
                TcpStream::connect_timeout(
                    &SocketAddr::from(([127, 0, 0, 1], *port)),
                    Duration::from_millis(200),
                )
                .is_ok()
            });
            if up {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(harness(format!(
                    "slapd did not listen within 10 s: {}",
                    self.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn certificates(&self, names: &[&str]) -> Result<(), Error> {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
            KeyUsagePurpose,
        };
        let rc = |e: rcgen::Error| harness(format!("generating certificates: {e}"));
        let authority = |name: &str| -> Result<(rcgen::Certificate, KeyPair), Error> {
            let key = KeyPair::generate().map_err(rc)?;
            let mut params = CertificateParams::new(Vec::<String>::new()).map_err(rc)?;
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.distinguished_name.push(DnType::CommonName, name);
            params.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            let cert = params.self_signed(&key).map_err(rc)?;
            Ok((cert, key))
        };
        let (ca, ca_key) = authority("people test CA")?;
        let (other, _) = authority("people untrusted test CA")?;
        let key = KeyPair::generate().map_err(rc)?;
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<String>>())
                .map_err(rc)?;
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("server"),
        );
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &ca, &ca_key).map_err(rc)?;
        self.write("ca.pem", &ca.pem())?;
        self.write("other-ca.pem", &other.pem())?;
        self.write("server.pem", &cert.pem())?;
        self.write("server.key", &key.serialize_pem())?;
        Ok(())
    }

    fn ldapmodify(&self, ldif: &str, add: bool) -> Result<(), Error> {
        let ldapmodify = program("PEOPLE_LDAPMODIFY", "/usr/bin/ldapmodify", "ldapmodify")?;
        let mut command = Command::new(ldapmodify);
        command
            // Not the machine's ldap.conf nor the user's .ldaprc.
            .env("LDAPNOINIT", "1")
            .args(["-x", "-H", &format!("ldap://127.0.0.1:{}", self.port)])
            .args(["-D", ADMIN_DN, "-w", ADMIN_PASSWORD])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if add {
            command.arg("-a");
        }
        let mut child = command
            .spawn()
            .map_err(|e| harness(format!("ldapmodify: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(ldif.as_bytes())
                .map_err(|e| harness(format!("ldapmodify: {e}")))?;
        }
        let output = child
            .wait_with_output()
            .map_err(|e| harness(format!("ldapmodify: {e}")))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(harness(format!(
                "ldapmodify failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )))
        }
    }

    /// Applies `ldif` (ldapmodify's change records: `changetype: modify`, `add`, `delete`, …) as the
    /// directory manager, e.g. to change a user's names between two sign-ins.
    pub fn modify(&self, ldif: &str) -> Result<(), Error> {
        self.ldapmodify(ldif, false)
    }

    /// Starts the server again after [`Slapd::stop`], on the same ports with the same data (a directory
    /// restarted between two sign-ins).
    pub fn restart(&self) -> Result<(), Error> {
        self.stop();
        self.spawn()
    }

    /// Kills the server at once (the directory going away between two sign-ins). Idempotent.
    pub fn stop(&self) {
        if let Some(mut child) = self.lock().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The host to connect to: `localhost` (the certificate of [`Variant::Tls`] names it).
    pub fn host(&self) -> &str {
        "localhost"
    }

    /// The plain LDAP (and StartTLS) port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The LDAPS port of [`Variant::Tls`].
    pub fn ldaps_port(&self) -> Option<u16> {
        self.ldaps_port
    }

    /// Whether the server also listens on `::1` (the machine has IPv6).
    pub fn has_ipv6(&self) -> bool {
        self.ipv6
    }

    /// The PEM file of the CA that issued the server's certificate ([`Variant::Tls`]): the CA bundle to
    /// trust it.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A CA bundle that does **not** hold the server's issuer: the certificate must be refused with it.
    pub fn untrusted_ca_file(&self) -> PathBuf {
        self.dir.join("other-ca.pem")
    }

    /// The directory's files (configuration, database, certificates, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Settings for this server as Metabase's tests use them: enabled, plain LDAP on [`Slapd::port`],
    /// bound as the directory manager, user and group base `dc=metabase,dc=com`, group sync on, Metabase's
    /// default filters, a 5 s timeout.
    pub fn config(&self) -> LdapConfig {
        let mut config = LdapConfig::from_values(|_| None);
        config.enabled = true;
        config.host = self.host().to_string();
        config.port = self.port;
        config.security = Security::None;
        config.bind_dn = Some(ADMIN_DN.to_string());
        config.password = Some(ADMIN_PASSWORD.to_string());
        config.user_base = BASE.to_string();
        config.group_base = Some(BASE.to_string());
        config.group_sync = true;
        config.timeout = Duration::from_secs(5);
        config
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn slapd_conf(dir: &Path, member_of: bool, tls: bool) -> String {
    let dir = dir.display();
    let mut conf = String::from(
        "include /etc/ldap/schema/core.schema\n\
         include /etc/ldap/schema/cosine.schema\n\
         include /etc/ldap/schema/nis.schema\n\
         include /etc/ldap/schema/inetorgperson.schema\n\
         modulepath /usr/lib/ldap\n\
         moduleload back_mdb\n",
    );
    if member_of {
        conf.push_str("moduleload memberof\n");
    }
    conf.push_str(&format!(
        "pidfile {dir}/slapd.pid\nargsfile {dir}/slapd.args\n"
    ));
    if tls {
        conf.push_str(&format!(
            "TLSCACertificateFile {dir}/ca.pem\n\
             TLSCertificateFile {dir}/server.pem\n\
             TLSCertificateKeyFile {dir}/server.key\n"
        ));
    }
    conf.push_str(&format!(
        "database mdb\n\
         maxsize 16777216\n\
         suffix \"{BASE}\"\n\
         rootdn \"{ADMIN_DN}\"\n\
         rootpw {ADMIN_PASSWORD}\n\
         directory {dir}/db\n"
    ));
    if member_of {
        conf.push_str("overlay memberof\n");
    }
    conf.push_str(
        "access to attrs=userPassword by self write by anonymous auth by * none\n\
         access to * by * read\n",
    );
    conf
}

/// The directory's entries, as `ldapadd` input.
fn data(variant: Variant) -> String {
    let mut ldif = String::from(
        "dn: dc=metabase,dc=com
objectClass: dcObject
objectClass: organization
dc: metabase
o: Metabase

dn: ou=People,dc=metabase,dc=com
objectClass: organizationalUnit
ou: People

dn: ou=Birds,dc=metabase,dc=com
objectClass: organizationalUnit
ou: Birds

dn: ou=Groups,dc=metabase,dc=com
objectClass: organizationalUnit
ou: Groups

dn: cn=John Smith,ou=People,dc=metabase,dc=com
objectClass: inetOrgPerson
cn: John Smith
givenName: John
sn: Smith
uid: jsmith1
mail: John.Smith@metabase.com
userPassword: strongpassword

dn: cn=Sally Brown,ou=People,dc=metabase,dc=com
objectClass: inetOrgPerson
cn: Sally Brown
givenName: Sally
sn: Brown
uid: sbrown20
mail: sally.brown@metabase.com
userPassword: 1234

dn: cn=Fred Taylor,ou=People,dc=metabase,dc=com
objectClass: inetOrgPerson
cn: Fred Taylor
givenname: Fred
sN: Taylor
uid: ftaylor300
mAiL: fred.taylor@metabase.com
userpassword: pa$$word

dn: cn=Jane Miller,ou=People,dc=metabase,dc=com
objectClass: inetOrgPerson
cn: Jane Miller
sn: Miller
uid: jmiller
mail: jane.miller@metabase.com
userPassword: janepassword

dn: cn=Rasta Toucan,ou=Birds,dc=metabase,dc=com
objectClass: inetOrgPerson
cn: Rasta Toucan
givenName: Rasta
sn: Toucan
uid: rasta
mail: rasta@metabase.com
userPassword: blueberries

dn: cn=Lucky Pigeon,ou=Birds,dc=metabase,dc=com
objectClass: inetOrgPerson
cn: Lucky Pigeon
givenName: Lucky
sn: Pigeon
uid: lucky
mail: lucky@metabase.com
title: King Pigeon
userPassword: notalmonds

",
    );
    if variant == Variant::ActiveDirectory {
        ldif.push_str(
            "dn: cn=Accounting,ou=Groups,dc=metabase,dc=com
objectClass: groupOfNames
cn: Accounting
member: cn=John Smith,ou=People,dc=metabase,dc=com
member: cn=Sally Brown,ou=People,dc=metabase,dc=com

dn: cn=Engineering,ou=Groups,dc=metabase,dc=com
objectClass: groupOfNames
cn: Engineering
member: cn=Sally Brown,ou=People,dc=metabase,dc=com
",
        );
    } else {
        ldif.push_str(
            "dn: cn=Accounting,ou=Groups,dc=metabase,dc=com
objectClass: groupOfNames
cn: Accounting
member: cn=John Smith,ou=People,dc=metabase,dc=com
member: cn=Rasta Toucan,ou=Birds,dc=metabase,dc=com
member: cn=Fred Taylor,ou=People,dc=metabase,dc=com

dn: cn=Engineering,ou=Groups,dc=metabase,dc=com
objectClass: posixGroup
cn: Engineering
gidNumber: 1001
memberUid: sbrown20
",
        );
    }
    ldif
}
