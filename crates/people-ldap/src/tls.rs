//! The TLS client configuration: server certificates are always verified, against the system's roots plus
//! the optional CA bundle of `PEOPLE_LDAP_CA_FILE` (Metabase trusts any certificate; people does not, see
//! docs/ldap.md). There is deliberately no way to turn verification off.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::ring;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::Error;

/// The trust anchors and the configurations built from them, shared by every connection.
#[derive(Debug, Clone)]
pub(crate) struct Tls {
    /// The configuration of connections to a host name or an IPv4 address (ldap3 derives the server
    /// name from the URL's host).
    pub(crate) config: Arc<ClientConfig>,
    /// The verifier behind `config`, for connections to IPv6 literals (see [`Tls::for_ipv6`]).
    verifier: Arc<WebPkiServerVerifier>,
}

impl Tls {
    /// The system roots (rustls-native-certs, as ldap3 itself uses) plus every certificate of the PEM file
    /// at `ca_file`. A file that cannot be read or holds no certificate is an error; system roots that do
    /// not load are logged and skipped (the bundle may be all a deployment needs).
    pub(crate) fn new(ca_file: Option<&Path>) -> Result<Self, Error> {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for error in &native.errors {
            log::warn!("LDAP TLS: a system root certificate store could not be read: {error}");
        }
        let (added, ignored) = roots.add_parsable_certificates(native.certs);
        log::debug!("LDAP TLS: {added} system root certificates ({ignored} unusable)");
        if let Some(path) = ca_file {
            let ca_error = |message: String| Error::CaFile {
                path: path.to_path_buf(),
                message,
            };
            let bytes = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
            let certs = CertificateDer::pem_slice_iter(&bytes)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ca_error(format!("not a PEM certificate bundle: {e}")))?;
            if certs.is_empty() {
                return Err(ca_error("no PEM certificate in the file".into()));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| ca_error(format!("unusable certificate: {e}")))?;
            }
        }
        let provider = Arc::new(ring::default_provider());
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| Error::Tls(e.to_string()))?;
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_webpki_verifier(verifier.clone())
            .with_no_client_auth();
        Ok(Tls {
            config: Arc::new(config),
            verifier,
        })
    }

    /// The configuration of a connection to the IPv6 address `ip`. ldap3 takes the server name from the
    /// URL's host, which for an IPv6 literal keeps its brackets and is no valid server name; so the URL
    /// names a placeholder and this configuration verifies the certificate against `ip` itself (the same
    /// verifier, bound to the real name), without SNI (which never carries addresses).
    pub(crate) fn for_ipv6(&self, ip: IpAddr) -> Arc<ClientConfig> {
        let mut config = (*self.config).clone();
        config.enable_sni = false;
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(PinnedName {
                inner: self.verifier.clone(),
                name: ServerName::IpAddress(ip.into()),
            }));
        Arc::new(config)
    }
}

/// The system-roots-plus-bundle verifier, checking the certificate against a fixed server name instead of
/// the placeholder the connection was opened with.
#[derive(Debug)]
struct PinnedName {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for PinnedName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
