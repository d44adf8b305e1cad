//! `LdapDirectory` against a real OpenLDAP slapd (people_ldap::testing): Metabase's connection test and
//! find tests (docs/ldap.md), passwords, filter injection, TLS with verified certificates, timeouts, a
//! directory going away, and many sign-ins at once.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use people_domain::ldap::{
    Authentication, Directory, DirectoryEntry, DirectoryError, LdapConfig, Security,
};
use people_ldap::testing::{start_or_skip, Variant, ACCOUNTING, ENGINEERING};
use people_ldap::LdapDirectory;

fn client() -> LdapDirectory {
    LdapDirectory::new(None).expect("client")
}

fn client_trusting(ca: &Path) -> LdapDirectory {
    LdapDirectory::new(Some(ca)).expect("client with CA bundle")
}

fn verified(result: Result<Authentication, DirectoryError>) -> DirectoryEntry {
    match result {
        Ok(Authentication::Verified(entry)) => entry,
        other => panic!("expected Verified, got {other:?}"),
    }
}

const JOHN: &str = "cn=John Smith,ou=People,dc=metabase,dc=com";

/// Metabase's connection-test scenarios (L1).
#[test]
fn connection_test() {
    let Some(slapd) = start_or_skip(Variant::Plain) else {
        return;
    };
    let directory = client();
    let config = slapd.config();
    assert_eq!(directory.check(&config), Ok(()));

    let mut anonymous = config.clone();
    anonymous.bind_dn = None;
    anonymous.password = None;
    assert_eq!(directory.check(&anonymous), Ok(()));

    let mut user_base = config.clone();
    user_base.user_base = "dc=example,dc=com".into();
    assert_eq!(
        directory.check(&user_base),
        Err(DirectoryError::UserBaseMissing)
    );

    let mut group_base = config.clone();
    group_base.group_base = Some("dc=example,dc=com".into());
    assert_eq!(
        directory.check(&group_base),
        Err(DirectoryError::GroupBaseMissing)
    );

    // slapd answers an unknown bind DN like a wrong password: 49, invalid credentials.
    let mut bind_dn = config.clone();
    bind_dn.bind_dn = Some("cn=Not Directory Manager".into());
    assert!(matches!(
        directory.check(&bind_dn),
        Err(DirectoryError::InvalidCredentials { .. })
    ));

    // A bind DN that is no DN at all: 34, invalid DN syntax.
    let mut not_a_dn = config.clone();
    not_a_dn.bind_dn = Some("not a dn".into());
    assert!(matches!(
        directory.check(&not_a_dn),
        Err(DirectoryError::InvalidBindDn(_))
    ));

    let mut password = config.clone();
    password.password = Some("wrong".into());
    assert!(matches!(
        directory.check(&password),
        Err(DirectoryError::InvalidCredentials { .. })
    ));

    let mut unknown = config.clone();
    unknown.host = "no-such-host.invalid".into();
    assert!(matches!(
        directory.check(&unknown),
        Err(DirectoryError::UnknownHost(_))
    ));

    // StartTLS to a server without TLS, LDAPS to a plain port: wrong port or security setting.
    for security in [Security::StartTls, Security::Ssl] {
        let mut tls = config.clone();
        tls.security = security;
        assert!(
            matches!(directory.check(&tls), Err(DirectoryError::Tls(_))),
            "{security:?}"
        );
    }

    // IPv6 literals, with and without brackets.
    for host in ["::1", "[::1]"] {
        let mut ipv6 = config.clone();
        ipv6.host = host.into();
        let result = directory.check(&ipv6);
        if slapd.has_ipv6() {
            assert_eq!(result, Ok(()), "{host}");
        } else {
            assert!(
                matches!(result, Err(DirectoryError::Refused(_))),
                "{host}: {result:?}"
            );
        }
    }
}

/// Metabase's find tests (L2) on the plain directory: groups under the group base.
#[test]
fn find_users_and_their_groups() {
    let Some(slapd) = start_or_skip(Variant::Plain) else {
        return;
    };
    let directory = client();
    let config = slapd.config();

    let by_uid = verified(directory.authenticate(&config, "jsmith1", "strongpassword"));
    let by_mail =
        verified(directory.authenticate(&config, "John.Smith@metabase.com", "strongpassword"));
    assert_eq!(by_uid, by_mail);
    assert_eq!(by_uid.dn, JOHN);
    assert_eq!(by_uid.first("givenName"), Some("John"));
    assert_eq!(by_uid.first("sn"), Some("Smith"));
    assert_eq!(by_uid.first("mail"), Some("John.Smith@metabase.com"));
    assert_eq!(by_uid.first("uid"), Some("jsmith1"));
    assert_eq!(by_uid.groups, [ACCOUNTING]);
    assert!(by_uid
        .attributes
        .keys()
        .all(|k| *k == k.to_ascii_lowercase()));
    assert!(by_uid.attributes["objectclass"].contains(&"inetOrgPerson".to_string()));

    // Odd-case attribute names in the LDIF, and a password with `$`.
    let fred = verified(directory.authenticate(&config, "fred.taylor@metabase.com", "pa$$word"));
    assert_eq!(fred.dn, "cn=Fred Taylor,ou=People,dc=metabase,dc=com");
    assert_eq!(fred.first("givenname"), Some("Fred"));
    assert_eq!(fred.first("sn"), Some("Taylor"));
    assert_eq!(fred.first("mail"), Some("fred.taylor@metabase.com"));
    assert_eq!(fred.groups, [ACCOUNTING]);

    let jane = verified(directory.authenticate(
        &config,
        "jane.miller@metabase.com",
        people_ldap::testing::JANE_PASSWORD,
    ));
    assert_eq!(jane.first("givenname"), None);
    assert_eq!(jane.first("sn"), Some("Miller"));
    assert!(jane.groups.is_empty());

    let lucky = verified(directory.authenticate(&config, "lucky", "notalmonds"));
    assert_eq!(lucky.first("title"), Some("King Pigeon"));
    assert!(lucky.groups.is_empty());

    // The posixGroup, found with a `{uid}` membership filter.
    let mut posix = config.clone();
    posix.group_membership_filter = "(memberUid={uid})".into();
    let sally = verified(directory.authenticate(&posix, "sbrown20", "1234"));
    assert_eq!(sally.groups, [ENGINEERING]);
    let sally = verified(directory.authenticate(&config, "sbrown20", "1234"));
    assert!(sally.groups.is_empty());

    // Without group sync no group is read; without a group base there is none to read.
    let mut no_sync = config.clone();
    no_sync.group_sync = false;
    assert!(
        verified(directory.authenticate(&no_sync, "jsmith1", "strongpassword"))
            .groups
            .is_empty()
    );
    let mut no_base = config.clone();
    no_base.group_base = None;
    assert!(
        verified(directory.authenticate(&no_base, "jsmith1", "strongpassword"))
            .groups
            .is_empty()
    );
}

/// The Active Directory-like directory: groups are the entry's `memberOf` values, in their order.
#[test]
fn member_of_groups() {
    let Some(slapd) = start_or_skip(Variant::ActiveDirectory) else {
        return;
    };
    let directory = client();
    let config = slapd.config();
    let john = verified(directory.authenticate(&config, "jsmith1", "strongpassword"));
    assert_eq!(john.groups, [ACCOUNTING]);
    let sally = verified(directory.authenticate(&config, "sbrown20", "1234"));
    assert_eq!(sally.groups, [ACCOUNTING, ENGINEERING]);
    assert_eq!(sally.attributes["memberof"], [ACCOUNTING, ENGINEERING]);
    // memberOf is used even without a group base.
    let mut no_base = config.clone();
    no_base.group_base = None;
    let sally = verified(directory.authenticate(&no_base, "sbrown20", "1234"));
    assert_eq!(sally.groups, [ACCOUNTING, ENGINEERING]);
}

/// Wrong and empty passwords, unknown logins, filter injection, a missing user base, changed names.
#[test]
fn passwords_logins_and_changes() {
    let Some(slapd) = start_or_skip(Variant::Plain) else {
        return;
    };
    let directory = client();
    let config = slapd.config();
    assert_eq!(
        directory.authenticate(&config, "jsmith1", "wrong"),
        Ok(Authentication::WrongPassword)
    );
    assert_eq!(
        directory.authenticate(&config, "jsmith1", ""),
        Ok(Authentication::WrongPassword)
    );
    assert_eq!(
        directory.authenticate(&config, "nobody", "strongpassword"),
        Ok(Authentication::NotFound)
    );
    for injection in ["*)(uid=*", "*", "jsmith1)(uid=*", "*)(|(uid=*", "\\2a"] {
        assert_eq!(
            directory.authenticate(&config, injection, "strongpassword"),
            Ok(Authentication::NotFound),
            "{injection}"
        );
    }
    // Rasta's password is not Lucky's.
    assert_eq!(
        directory.authenticate(&config, "lucky", "blueberries"),
        Ok(Authentication::WrongPassword)
    );
    assert!(matches!(
        directory.authenticate(&config, "rasta", "blueberries"),
        Ok(Authentication::Verified(_))
    ));

    // A filter matching several entries: the size limit of 1 answers the first, not an error.
    let mut loose = config.clone();
    loose.user_filter = "(objectClass=inetOrgPerson)".into();
    assert!(matches!(
        directory.authenticate(&loose, "anyone", "not the password"),
        Ok(Authentication::WrongPassword)
    ));

    let mut missing = config.clone();
    missing.user_base = "cn=wrong,cn=com".into();
    assert_eq!(
        directory.authenticate(&missing, "jsmith1", "strongpassword"),
        Err(DirectoryError::UserBaseMissing)
    );

    let mut wrong_bind = config.clone();
    wrong_bind.password = Some("wrong".into());
    assert!(matches!(
        directory.authenticate(&wrong_bind, "jsmith1", "strongpassword"),
        Err(DirectoryError::InvalidCredentials { .. })
    ));

    // Names changed, then removed, in the directory between two sign-ins (kept connections see it).
    slapd
        .modify(&format!(
            "dn: {JOHN}\nchangetype: modify\nreplace: givenName\ngivenName: Johnny\n-\nreplace: sn\nsn: Smithers\n"
        ))
        .expect("modify");
    let john = verified(directory.authenticate(&config, "jsmith1", "strongpassword"));
    assert_eq!(
        (john.first("givenname"), john.first("sn")),
        (Some("Johnny"), Some("Smithers"))
    );
    slapd
        .modify(&format!(
            "dn: {JOHN}\nchangetype: modify\ndelete: givenName\n"
        ))
        .expect("modify");
    let john = verified(directory.authenticate(&config, "jsmith1", "strongpassword"));
    assert_eq!(john.first("givenname"), None);
}

/// LDAPS and StartTLS verify the server's certificate against the system roots plus the CA bundle.
#[test]
fn tls_verifies_certificates() {
    let Some(slapd) = start_or_skip(Variant::Tls) else {
        return;
    };
    let trusting = client_trusting(&slapd.ca_file());
    let system_only = client();
    let untrusting = client_trusting(&slapd.untrusted_ca_file());
    let ldaps_port = slapd.ldaps_port().expect("ldaps port");

    let mut ssl = slapd.config();
    ssl.security = Security::Ssl;
    ssl.port = ldaps_port;
    let mut starttls = slapd.config();
    starttls.security = Security::StartTls;

    for config in [&ssl, &starttls] {
        assert_eq!(trusting.check(config), Ok(()), "{:?}", config.security);
        let john = verified(trusting.authenticate(config, "jsmith1", "strongpassword"));
        assert_eq!(john.groups, [ACCOUNTING]);
        assert_eq!(
            trusting.authenticate(config, "jsmith1", "wrong"),
            Ok(Authentication::WrongPassword)
        );
        for refusing in [&system_only, &untrusting] {
            assert!(
                matches!(refusing.check(config), Err(DirectoryError::Tls(_))),
                "{:?}",
                config.security
            );
            assert!(matches!(
                refusing.authenticate(config, "jsmith1", "strongpassword"),
                Err(DirectoryError::Tls(_))
            ));
        }
        // IP addresses are verified against the certificate's IP names.
        let mut by_ip = config.clone();
        by_ip.host = "127.0.0.1".into();
        assert_eq!(trusting.check(&by_ip), Ok(()));
        if slapd.has_ipv6() {
            let mut by_ipv6 = config.clone();
            by_ipv6.host = "[::1]".into();
            assert_eq!(trusting.check(&by_ipv6), Ok(()), "{:?}", config.security);
        }
    }

    // Plain LDAP sent to the LDAPS port, LDAPS to the plain port: wrong port or security setting.
    let mut plain_to_ldaps = slapd.config();
    plain_to_ldaps.port = ldaps_port;
    assert!(matches!(
        trusting.check(&plain_to_ldaps),
        Err(DirectoryError::Tls(_))
    ));
    let mut ldaps_to_plain = ssl.clone();
    ldaps_to_plain.port = slapd.port();
    assert!(matches!(
        trusting.check(&ldaps_to_plain),
        Err(DirectoryError::Tls(_))
    ));
}

/// A certificate for another name is refused even from a trusted CA.
#[test]
fn tls_refuses_a_certificate_for_another_name() {
    let Some(slapd) =
        people_ldap::testing::start_named_or_skip(Variant::Tls, &["ldap.example.invalid"])
    else {
        return;
    };
    let trusting = client_trusting(&slapd.ca_file());
    let mut ssl = slapd.config();
    ssl.security = Security::Ssl;
    ssl.port = slapd.ldaps_port().expect("ldaps port");
    let mut starttls = slapd.config();
    starttls.security = Security::StartTls;
    for config in [ssl, starttls] {
        assert!(
            matches!(trusting.check(&config), Err(DirectoryError::Tls(_))),
            "{:?}",
            config.security
        );
    }
}

/// A bad CA bundle stops the client from being made.
#[test]
fn bad_ca_bundles_are_refused() {
    let dir = std::env::temp_dir().join(format!("people-ldap-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").expect("write");
    assert!(LdapDirectory::new(Some(&dir.join("missing.pem"))).is_err());
    let error = LdapDirectory::new(Some(&empty)).expect_err("no certificate");
    assert!(error.to_string().contains("PEOPLE_LDAP_CA_FILE"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Called (wrongly) from inside an async task, or dropped there, the client neither panics nor hangs.
#[test]
fn async_callers_do_not_panic() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let closed = TcpListener::bind("127.0.0.1:0").expect("listener");
    let mut config = LdapConfig::from_values(|_| None);
    config.host = "127.0.0.1".into();
    config.port = closed.local_addr().expect("address").port();
    config.user_base = "dc=metabase,dc=com".into();
    drop(closed);
    runtime.block_on(async {
        let directory = client();
        assert!(matches!(
            directory.authenticate(&config, "jsmith1", "strongpassword"),
            Err(DirectoryError::Refused(_))
        ));
        drop(directory);
    });
}

/// A server that accepts connections and never answers costs the timeout, no more; a closed port is
/// refused at once.
#[test]
fn hung_and_closed_ports() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("address").port();
    // Accept and hold every connection, answering nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let directory = client();
    let mut config = LdapConfig::from_values(|_| None);
    config.host = "127.0.0.1".into();
    config.port = port;
    config.user_base = "dc=metabase,dc=com".into();
    config.timeout = Duration::from_secs(1);
    for security in [Security::None, Security::Ssl, Security::StartTls] {
        config.security = security;
        let started = Instant::now();
        assert_eq!(
            directory.check(&config),
            Err(DirectoryError::Timeout(config.timeout))
        );
        let started_login = Instant::now();
        assert_eq!(
            directory.authenticate(&config, "jsmith1", "strongpassword"),
            Err(DirectoryError::Timeout(config.timeout))
        );
        let elapsed = started.elapsed();
        assert!(
            started_login.elapsed() < Duration::from_millis(1500)
                && elapsed < Duration::from_millis(3000),
            "{security:?}: {elapsed:?}"
        );
    }

    let closed = TcpListener::bind("127.0.0.1:0").expect("listener");
    config.port = closed.local_addr().expect("address").port();
    drop(closed);
    config.security = Security::None;
    assert!(matches!(
        directory.check(&config),
        Err(DirectoryError::Refused(_))
    ));
    assert!(matches!(
        directory.authenticate(&config, "jsmith1", "strongpassword"),
        Err(DirectoryError::Refused(_))
    ));
}

/// The directory killed between two sign-ins: the kept connections fail, a new one is refused, the
/// sign-in gets an error at once; a directory back on the same port is used again.
#[test]
fn directory_going_away() {
    let Some(slapd) = start_or_skip(Variant::Plain) else {
        return;
    };
    let directory = client();
    let config = slapd.config();
    verified(directory.authenticate(&config, "jsmith1", "strongpassword"));
    slapd.stop();
    let started = Instant::now();
    let result = directory.authenticate(&config, "jsmith1", "strongpassword");
    assert!(
        matches!(result, Err(DirectoryError::Refused(_))),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(matches!(
        directory.check(&config),
        Err(DirectoryError::Refused(_))
    ));

    // Another directory on another port: the settings changed, the client follows.
    let Some(again) = start_or_skip(Variant::Plain) else {
        return;
    };
    verified(directory.authenticate(&again.config(), "jsmith1", "strongpassword"));
}

/// The directory restarted between two sign-ins: the kept connections are dead, new ones are made.
#[test]
fn directory_restarting() {
    let Some(slapd) = start_or_skip(Variant::Plain) else {
        return;
    };
    let directory = client();
    let config = slapd.config();
    verified(directory.authenticate(&config, "jsmith1", "strongpassword"));
    slapd.restart().expect("restart");
    verified(directory.authenticate(&config, "jsmith1", "strongpassword"));
    assert_eq!(
        directory.authenticate(&config, "jsmith1", "wrong"),
        Ok(Authentication::WrongPassword)
    );
    assert_eq!(directory.check(&config), Ok(()));
}

/// Many sign-ins at once all succeed (kept connections are taken one per call, new ones made as needed).
#[test]
fn concurrent_sign_ins() {
    let Some(slapd) = start_or_skip(Variant::Plain) else {
        return;
    };
    let directory = Arc::new(client());
    let config = Arc::new(slapd.config());
    let logins = [
        ("jsmith1", "strongpassword"),
        ("sbrown20", "1234"),
        ("ftaylor300", "pa$$word"),
        ("rasta", "blueberries"),
    ];
    let rounds = 5;
    let started = Instant::now();
    let threads: Vec<_> = (0..64)
        .map(|i| {
            let (directory, config) = (directory.clone(), config.clone());
            let (login, password) = logins[i % logins.len()];
            std::thread::spawn(move || {
                for _ in 0..rounds {
                    let entry = verified(directory.authenticate(&config, login, password));
                    assert_eq!(entry.first("uid"), Some(login));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("thread");
    }
    let elapsed = started.elapsed();
    eprintln!(
        "64 threads × {rounds} sign-ins: {elapsed:?} ({:.0}/s)",
        (64 * rounds) as f64 / elapsed.as_secs_f64()
    );

    // One after another, on kept connections.
    let started = Instant::now();
    for _ in 0..100 {
        verified(directory.authenticate(&config, "jsmith1", "strongpassword"));
    }
    eprintln!("100 sign-ins in a row: {:?}", started.elapsed());
}
