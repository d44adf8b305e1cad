//! The directory calls themselves, as async code on the client's runtime: connecting (TCP, then LDAPS or
//! StartTLS), the service bind, the user search, the group lookup and the password bind, with every
//! failure sorted into the domain's [`DirectoryError`] kinds.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use ldap3::asn1::StructureTag;
use ldap3::{
    ldap_escape, Ldap, LdapConnAsync, LdapConnSettings, LdapError, ResultEntry, Scope,
    SearchOptions, SearchResult, StdStream,
};
use people_domain::ldap::{Authentication, DirectoryEntry, DirectoryError, LdapConfig, Security};

use crate::pool::Pool;
use crate::tls::Tls;

/// Everything a call needs and that outlives it: trust anchors and the kept connections.
pub(crate) struct Client {
    /// Trust anchors and client configurations.
    pub(crate) tls: Tls,
    /// Connections bound as the service account (`ldap-bind-dn`), for searches.
    pub(crate) service: Pool,
    /// Connections used for the users' password binds.
    pub(crate) binders: Pool,
}

/// How an operation on an open connection failed.
enum Fail {
    /// The connection itself broke (closed, reset, unreadable): another connection may do better.
    Broken(String),
    /// The directory answered, and the answer is this error.
    Directory(DirectoryError),
}

impl From<DirectoryError> for Fail {
    fn from(error: DirectoryError) -> Self {
        Fail::Directory(error)
    }
}

/// Sorts an `ldap3` error of an operation: connection-level failures apart from everything else.
fn fail(error: LdapError) -> Fail {
    match error {
        LdapError::Io { .. }
        | LdapError::OpSend { .. }
        | LdapError::ResultRecv { .. }
        | LdapError::IdScrubSend { .. }
        | LdapError::MiscSend { .. }
        | LdapError::EndOfStream
        | LdapError::Timeout { .. } => Fail::Broken(error.to_string()),
        LdapError::FilterParsing => Fail::Directory(DirectoryError::Other(
            "the user filter or group membership filter is not a valid LDAP filter".into(),
        )),
        other => Fail::Directory(DirectoryError::Other(other.to_string())),
    }
}

/// A connection-level failure of the first operation on a fresh connection: the server is not speaking
/// LDAP the way the settings say (typically plain LDAP sent to an LDAPS port).
fn first_operation(result: Result<(), Fail>) -> Result<(), DirectoryError> {
    match result {
        Ok(()) => Ok(()),
        Err(Fail::Broken(why)) => Err(DirectoryError::Tls(format!(
            "the server closed the connection ({why}); wrong port or security setting?"
        ))),
        Err(Fail::Directory(error)) => Err(error),
    }
}

/// Keeps `ldap` in `pool` unless it broke, and turns the result into the port's.
fn keep<T>(
    pool: &Pool,
    key: &str,
    ldap: Ldap,
    result: Result<T, Fail>,
) -> Result<T, DirectoryError> {
    match result {
        Ok(value) => {
            pool.put(key, ldap);
            Ok(value)
        }
        Err(Fail::Directory(error)) => {
            pool.put(key, ldap);
            Err(error)
        }
        Err(Fail::Broken(why)) => Err(DirectoryError::Other(format!(
            "the connection to the directory broke: {why}"
        ))),
    }
}

/// The host and port part of the settings, which every kept connection shares.
fn server_key(config: &LdapConfig) -> String {
    format!(
        "{}\n{}\n{}",
        config.host.trim(),
        config.port,
        config.security.as_str()
    )
}

/// The settings a service connection is made with: the server and the bind identity (the password only
/// as its SHA-256, so that the key held in memory is not the secret).
fn service_key(config: &LdapConfig) -> String {
    format!(
        "{}\n{}\n{}",
        server_key(config),
        config.bind_dn.as_deref().unwrap_or(""),
        people_domain::session::sha256_hex(config.password.as_deref().unwrap_or(""))
    )
}

/// `template` with each placeholder replaced by its value, in one pass (a value is never searched for
/// placeholders itself).
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    'scan: while !rest.is_empty() {
        for (placeholder, value) in values {
            if let Some(after) = rest.strip_prefix(placeholder) {
                out.push_str(value);
                rest = after;
                continue 'scan;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// The entry of a search result, or `None` for referrals, intermediate messages and anything malformed
/// (ldap3's own `SearchEntry::construct` panics on those). Attribute names are lower-cased; values that
/// are not UTF-8 (photos, certificates) are left out.
fn entry(result: ResultEntry) -> Option<DirectoryEntry> {
    if result.is_ref() || result.is_intermediate() {
        return None;
    }
    let mut parts = result.0.match_id(4)?.expect_constructed()?.into_iter();
    let dn = String::from_utf8(parts.next()?.expect_primitive()?).ok()?;
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for attribute in parts.next()?.expect_constructed()? {
        let Some(mut attribute) = attribute.expect_constructed().map(Vec::into_iter) else {
            continue;
        };
        let Some(name) = attribute
            .next()
            .and_then(StructureTag::expect_primitive)
            .and_then(|name| String::from_utf8(name).ok())
        else {
            continue;
        };
        let values = attribute
            .next()
            .and_then(StructureTag::expect_constructed)
            .unwrap_or_default()
            .into_iter()
            .filter_map(StructureTag::expect_primitive)
            .filter_map(|value| String::from_utf8(value).ok());
        attributes
            .entry(name.to_ascii_lowercase())
            .or_default()
            .extend(values);
    }
    attributes.retain(|_, values| !values.is_empty());
    Some(DirectoryEntry {
        dn,
        attributes,
        groups: Vec::new(),
    })
}

/// Binds `ldap` as the service account, or anonymously without `ldap-bind-dn`.
async fn bind_service(ldap: &mut Ldap, config: &LdapConfig) -> Result<(), Fail> {
    let (dn, password) = match &config.bind_dn {
        Some(dn) => (dn.as_str(), config.password.as_deref().unwrap_or("")),
        None => ("", ""),
    };
    let result = ldap.simple_bind(dn, password).await.map_err(fail)?;
    match result.rc {
        0 => Ok(()),
        49 => Err(DirectoryError::InvalidCredentials {
            detail: if result.text.is_empty() {
                "invalid credentials".to_string()
            } else {
                result.text
            },
        }
        .into()),
        34 => Err(DirectoryError::InvalidBindDn(if result.text.is_empty() {
            dn.to_string()
        } else {
            format!("{dn}: {}", result.text)
        })
        .into()),
        _ => Err(DirectoryError::Other(format!("binding as {dn:?}: {result}")).into()),
    }
}

/// Whether the entry at `base` exists and can be read.
async fn read_base(ldap: &mut Ldap, base: &str) -> Result<bool, Fail> {
    if base.trim().is_empty() {
        return Ok(false);
    }
    let SearchResult(entries, done) = ldap
        .search(base, Scope::Base, "(objectClass=*)", vec!["1.1"])
        .await
        .map_err(fail)?;
    // Every refusal (no such object, a DN the server cannot parse, no access) means the same to the
    // administrator, as in Metabase: that base cannot be used.
    Ok(done.rc == 0 && entries.into_iter().any(|e| entry(e).is_some()))
}

/// The entry `login` names, with its groups when group sync is on.
async fn find(
    ldap: &mut Ldap,
    config: &LdapConfig,
    login: &str,
) -> Result<Option<DirectoryEntry>, Fail> {
    let filter = fill(&config.user_filter, &[("{login}", &ldap_escape(login))]);
    let SearchResult(entries, done) = ldap
        .with_search_options(SearchOptions::new().sizelimit(1))
        .search(
            &config.user_base,
            Scope::Subtree,
            &filter,
            vec!["*", "memberOf"],
        )
        .await
        .map_err(fail)?;
    match done.rc {
        // sizeLimitExceeded: more than one entry matches, the first one is the answer (as in Metabase).
        0 | 4 => {}
        32 => return Err(DirectoryError::UserBaseMissing.into()),
        _ => {
            return Err(
                DirectoryError::Other(format!("searching for the user failed: {done}")).into(),
            )
        }
    }
    let Some(mut found) = entries.into_iter().find_map(entry) else {
        return Ok(None);
    };
    if config.group_sync {
        found.groups = groups(ldap, config, &found).await?;
    }
    Ok(Some(found))
}

/// The entry's groups: its `memberOf` values, else the groups under `ldap-group-base` matching the
/// membership filter, else none.
async fn groups(
    ldap: &mut Ldap,
    config: &LdapConfig,
    found: &DirectoryEntry,
) -> Result<Vec<String>, Fail> {
    if let Some(member_of) = found.attributes.get("memberof") {
        if !member_of.is_empty() {
            return Ok(member_of.clone());
        }
    }
    let Some(base) = config
        .group_base
        .as_deref()
        .filter(|base| !base.trim().is_empty())
    else {
        return Ok(Vec::new());
    };
    let uid = match found.first("uid") {
        Some(uid) => ldap_escape(uid).into_owned(),
        // A `{uid}` filter cannot match an entry without one.
        None if config.group_membership_filter.contains("{uid}") => return Ok(Vec::new()),
        None => String::new(),
    };
    let filter = fill(
        &config.group_membership_filter,
        &[("{dn}", &ldap_escape(found.dn.as_str())), ("{uid}", &uid)],
    );
    let SearchResult(entries, done) = ldap
        .search(base, Scope::Subtree, &filter, vec!["1.1"])
        .await
        .map_err(fail)?;
    match done.rc {
        0 => Ok(entries
            .into_iter()
            .filter_map(entry)
            .map(|group| group.dn)
            .collect()),
        32 => Err(DirectoryError::GroupBaseMissing.into()),
        _ => Err(
            DirectoryError::Other(format!("searching for the user's groups failed: {done}")).into(),
        ),
    }
}

/// Whether `password` binds as `dn`.
async fn verify(ldap: &mut Ldap, dn: &str, password: &str) -> Result<bool, Fail> {
    let result = ldap.simple_bind(dn, password).await.map_err(fail)?;
    match result.rc {
        0 => Ok(true),
        49 => Ok(false),
        _ => Err(DirectoryError::Other(format!("binding as the user failed: {result}")).into()),
    }
}

impl Client {
    /// A new connection to the settings' server, TLS established as `ldap-security` says, not yet bound.
    async fn connect(&self, config: &LdapConfig) -> Result<Ldap, DirectoryError> {
        let host = config.host.trim();
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if bare.is_empty() {
            return Err(DirectoryError::UnknownHost("no host is set".into()));
        }
        let port = config.port;
        let ip = bare.parse::<IpAddr>().ok();
        let addresses: Vec<SocketAddr> = match ip {
            Some(ip) => vec![SocketAddr::new(ip, port)],
            None => tokio::net::lookup_host((bare, port))
                .await
                .map_err(|e| DirectoryError::UnknownHost(format!("{bare}: {e}")))?
                .collect(),
        };
        let mut stream = None;
        let mut refused = format!("{bare}: no address");
        for address in addresses {
            match tokio::net::TcpStream::connect(address).await {
                Ok(connected) => {
                    stream = Some(connected);
                    break;
                }
                Err(e) => refused = format!("{address}: {e}"),
            }
        }
        let stream = stream.ok_or(DirectoryError::Refused(refused))?;
        // Small requests answered at once: do not wait to fill packets.
        let _ = stream.set_nodelay(true);
        let stream = stream
            .into_std()
            .map_err(|e| DirectoryError::Other(e.to_string()))?;

        let tls = config.security != Security::None;
        let (url_host, tls_config) = match ip {
            Some(v6 @ IpAddr::V6(_)) if tls => {
                ("ipv6-address.invalid".to_string(), self.tls.for_ipv6(v6))
            }
            Some(IpAddr::V6(v6)) => (format!("[{v6}]"), self.tls.config.clone()),
            _ => (bare.to_string(), self.tls.config.clone()),
        };
        let scheme = if config.security == Security::Ssl {
            "ldaps"
        } else {
            "ldap"
        };
        let settings = LdapConnSettings::new()
            .set_config(tls_config)
            .set_starttls(config.security == Security::StartTls)
            .set_std_stream(StdStream::Tcp(stream));
        let url = format!("{scheme}://{url_host}:{port}");
        let (connection, ldap) =
            LdapConnAsync::with_settings(settings, &url)
                .await
                .map_err(|e| match e {
                    LdapError::UrlParsing { .. } | LdapError::DNSName { .. } => {
                        DirectoryError::UnknownHost(format!("{bare}: {e}"))
                    }
                    e if tls => DirectoryError::Tls(e.to_string()),
                    e => DirectoryError::Other(e.to_string()),
                })?;
        tokio::spawn(async move {
            if let Err(e) = connection.drive().await {
                log::debug!("LDAP connection closed: {e}");
            }
        });
        Ok(ldap)
    }

    /// A new connection bound as the service account.
    async fn service_connection(&self, config: &LdapConfig) -> Result<Ldap, DirectoryError> {
        let mut ldap = self.connect(config).await?;
        first_operation(bind_service(&mut ldap, config).await)?;
        Ok(ldap)
    }

    /// The connection test: connect, bind as the service account, read the user base and the group base.
    pub(crate) async fn check(&self, config: &LdapConfig) -> Result<(), DirectoryError> {
        let mut ldap = self.service_connection(config).await?;
        let broken = |why: String| DirectoryError::Other(format!("the connection broke: {why}"));
        match read_base(&mut ldap, &config.user_base).await {
            Ok(true) => {}
            Ok(false) => return Err(DirectoryError::UserBaseMissing),
            Err(Fail::Broken(why)) => return Err(broken(why)),
            Err(Fail::Directory(error)) => return Err(error),
        }
        if let Some(group_base) = config.group_base.as_deref() {
            match read_base(&mut ldap, group_base).await {
                Ok(true) => {}
                Ok(false) => return Err(DirectoryError::GroupBaseMissing),
                Err(Fail::Broken(why)) => return Err(broken(why)),
                Err(Fail::Directory(error)) => return Err(error),
            }
        }
        Ok(())
    }

    /// Sign-in: find the login's entry with the service account, then bind as it with the password.
    pub(crate) async fn authenticate(
        &self,
        config: &LdapConfig,
        login: &str,
        password: &str,
    ) -> Result<Authentication, DirectoryError> {
        if config.user_base.trim().is_empty() {
            return Err(DirectoryError::UserBaseMissing);
        }
        let key = service_key(config);
        let mut kept = self.service.take(&key);
        let found = loop {
            let reused = kept.is_some();
            let mut ldap = match kept.take() {
                Some(ldap) => ldap,
                None => self.service_connection(config).await?,
            };
            match find(&mut ldap, config, login).await {
                Err(Fail::Broken(why)) if reused => {
                    // A kept connection the server closed (idle timeout, restart): the others are likely
                    // gone too. Try once more on a new one.
                    log::info!("LDAP: a kept connection broke ({why}); reconnecting");
                    self.service.clear();
                }
                result => break keep(&self.service, &key, ldap, result)?,
            }
        };
        let Some(found) = found else {
            return Ok(Authentication::NotFound);
        };
        if password.is_empty() {
            return Ok(Authentication::WrongPassword);
        }

        let key = server_key(config);
        let mut kept = self.binders.take(&key);
        let verified = loop {
            let reused = kept.is_some();
            let mut ldap = match kept.take() {
                Some(ldap) => ldap,
                None => self.connect(config).await?,
            };
            match verify(&mut ldap, &found.dn, password).await {
                Err(Fail::Broken(why)) if reused => {
                    log::info!("LDAP: a kept connection broke ({why}); reconnecting");
                    self.binders.clear();
                }
                result => break keep(&self.binders, &key, ldap, result)?,
            }
        };
        Ok(if verified {
            Authentication::Verified(found)
        } else {
            Authentication::WrongPassword
        })
    }
}

#[cfg(test)]
mod tests {
    use super::fill;

    #[test]
    fn placeholders_are_filled_in_one_pass() {
        assert_eq!(
            fill(
                "(&(member={dn})(x={uid}))",
                &[("{dn}", "a{uid}"), ("{uid}", "u")]
            ),
            "(&(member=a{uid})(x=u))"
        );
        assert_eq!(
            fill("(uid={login})", &[("{login}", "é\\2a")]),
            "(uid=é\\2a)"
        );
    }
}
