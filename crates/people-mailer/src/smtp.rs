//! Delivery over SMTP with lettre: `MB_EMAIL_SMTP_*` settings and one message per queued email.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use lettre::address::AddressError;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use people_domain::store::QueuedEmail;

use crate::MailError;

/// How the connection to the SMTP server is secured (`MB_EMAIL_SMTP_SECURITY`), with Metabase's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmtpSecurity {
    /// Plain SMTP (the default).
    #[default]
    None,
    /// Implicit TLS from the first byte (the same as [`SmtpSecurity::Tls`]).
    Ssl,
    /// Implicit TLS from the first byte (the same as [`SmtpSecurity::Ssl`]).
    Tls,
    /// Plain SMTP upgraded with STARTTLS.
    Starttls,
}

impl SmtpSecurity {
    /// Metabase's name of this value.
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpSecurity::None => "none",
            SmtpSecurity::Ssl => "ssl",
            SmtpSecurity::Tls => "tls",
            SmtpSecurity::Starttls => "starttls",
        }
    }

    /// The port used when none is configured: 25, 465 for implicit TLS, 587 for STARTTLS.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::None => 25,
            SmtpSecurity::Ssl | SmtpSecurity::Tls => 465,
            SmtpSecurity::Starttls => 587,
        }
    }
}

impl fmt::Display for SmtpSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value of `MB_EMAIL_SMTP_SECURITY` that is none of Metabase's (it holds the value, trimmed and
/// lower-cased).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected none, ssl, tls or starttls, got {0:?}")]
pub struct UnknownSmtpSecurity(pub String);

impl FromStr for SmtpSecurity {
    type Err = UnknownSmtpSecurity;

    /// `none`, `ssl`, `tls` or `starttls`, in any case, surrounding blanks ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(SmtpSecurity::None),
            "ssl" => Ok(SmtpSecurity::Ssl),
            "tls" => Ok(SmtpSecurity::Tls),
            "starttls" => Ok(SmtpSecurity::Starttls),
            other => Err(UnknownSmtpSecurity(other.to_string())),
        }
    }
}

/// How to reach the SMTP server.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// How the connection is secured.
    pub security: SmtpSecurity,
    /// User name for AUTH.
    pub username: Option<String>,
    /// Password for AUTH.
    pub password: Option<String>,
    /// Sender address.
    pub from: String,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .finish()
    }
}

/// Why one email was not delivered. Its text (one line) is what the outbox records as the email's last error.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// A recipient is not an address lettre accepts.
    #[error("bad recipient {address:?}: {source}")]
    BadRecipient {
        /// The recipient as queued.
        address: String,
        /// What is wrong with it.
        source: AddressError,
    },
    /// The message could not be put together.
    #[error("cannot build the message: {0}")]
    Build(#[source] lettre::error::Error),
    /// The deliverer's runtime has already been shut down.
    #[error("the mail runtime is gone")]
    RuntimeGone,
    /// The SMTP exchange failed: connection, TLS, authentication or a refusal by the server.
    #[error("{}", one_line(.0))]
    Smtp(#[source] lettre::transport::smtp::Error),
}

/// `e`'s text with every run of white space (line breaks of multi-line server replies included) as one space.
fn one_line(e: &impl fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Delivers one queued email; the worker's port to the outside world.
pub trait Deliver: Send + Sync {
    /// Sends `email`; `Err` says what failed (its text is one line).
    fn deliver(&self, email: &QueuedEmail) -> Result<(), DeliveryError>;
}

/// lettre's SMTP transport, driven by a private single-threaded runtime. `deliver` blocks: call it from a
/// thread of its own (the worker's), not from async code.
pub struct SmtpDeliverer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// Always `Some` until drop, which hands it to `shutdown_background` (dropping a runtime may not block
    /// when the owner happens to be dropped inside another runtime).
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for SmtpDeliverer {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// How long one SMTP exchange may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

impl SmtpDeliverer {
    /// A transport for `settings`.
    pub fn new(settings: &SmtpSettings) -> Result<Self, MailError> {
        let builder = match settings.security {
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.as_str())
            }
            SmtpSecurity::Ssl | SmtpSecurity::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host)
                    .map_err(MailError::Host)?
            }
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)
                    .map_err(MailError::Host)?
            }
        };
        let mut builder = builder.port(settings.port).timeout(Some(SMTP_TIMEOUT));
        if let Some(user) = &settings.username {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                settings.password.clone().unwrap_or_default(),
            ));
        }
        let from: Mailbox = settings.from.parse().map_err(MailError::FromAddress)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(MailError::Runtime)?;
        Ok(SmtpDeliverer {
            transport: builder.build(),
            from,
            runtime: Some(runtime),
        })
    }

    /// The message for `email`: text and HTML alternatives, quoted-printable.
    pub fn message(&self, email: &QueuedEmail) -> Result<Message, DeliveryError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(email.subject.clone());
        for r in &email.recipients {
            let to: Mailbox = r.parse().map_err(|source| DeliveryError::BadRecipient {
                address: r.clone(),
                source,
            })?;
            builder = builder.to(to);
        }
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .header(ContentTransferEncoding::QuotedPrintable)
            .body(email.body_text.clone());
        let html = SinglePart::builder()
            .header(ContentType::TEXT_HTML)
            .header(ContentTransferEncoding::QuotedPrintable)
            .body(email.body_html.clone());
        builder
            .multipart(MultiPart::alternative().singlepart(text).singlepart(html))
            .map_err(DeliveryError::Build)
    }
}

impl Deliver for SmtpDeliverer {
    fn deliver(&self, email: &QueuedEmail) -> Result<(), DeliveryError> {
        let message = self.message(email)?;
        let runtime = self.runtime.as_ref().ok_or(DeliveryError::RuntimeGone)?;
        runtime
            .block_on(self.transport.send(message))
            .map(|_| ())
            .map_err(DeliveryError::Smtp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_names_round_trip_and_choose_the_port() {
        for (name, port) in [("none", 25), ("ssl", 465), ("tls", 465), ("starttls", 587)] {
            let s: SmtpSecurity = name.parse().unwrap();
            assert_eq!((s.to_string().as_str(), s.default_port()), (name, port));
        }
        assert_eq!(" STARTTLS ".parse(), Ok(SmtpSecurity::Starttls));
        assert_eq!(
            "SSH".parse::<SmtpSecurity>().map_err(|e| e.to_string()),
            Err("expected none, ssl, tls or starttls, got \"ssh\"".to_string())
        );
    }

    #[test]
    fn delivery_errors_read_as_one_line() {
        let e = DeliveryError::BadRecipient {
            address: "a b".into(),
            source: "a b".parse::<Mailbox>().unwrap_err(),
        };
        assert!(e.to_string().starts_with("bad recipient \"a b\": "), "{e}");
        assert_eq!(one_line(&"550 no\n  such\tuser"), "550 no such user");
    }
}
