//! Delivery over SMTP with lettre: `MB_EMAIL_SMTP_*` settings and one message per queued email.

use std::fmt;
use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use people_domain::store::QueuedEmail;

use crate::MailError;

/// How to reach the SMTP server.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// `none`, `ssl`, `tls` (both implicit TLS) or `starttls`.
    pub security: String,
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

/// Delivers one queued email; the worker's port to the outside world.
pub trait Deliver: Send + Sync {
    /// Sends `email`; `Err` carries a one-line reason.
    fn deliver(&self, email: &QueuedEmail) -> Result<(), String>;
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
        let builder = match settings.security.as_str() {
            "none" => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.as_str())
            }
            "ssl" | "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host)
                .map_err(|e| MailError::Config(format!("MB_EMAIL_SMTP_HOST: {e}")))?,
            "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)
                .map_err(|e| MailError::Config(format!("MB_EMAIL_SMTP_HOST: {e}")))?,
            other => {
                return Err(MailError::Config(format!(
                    "MB_EMAIL_SMTP_SECURITY: unknown value {other:?}"
                )))
            }
        };
        let mut builder = builder.port(settings.port).timeout(Some(SMTP_TIMEOUT));
        if let Some(user) = &settings.username {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                settings.password.clone().unwrap_or_default(),
            ));
        }
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| MailError::Config(format!("MB_EMAIL_FROM_ADDRESS: {e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| MailError::Config(format!("cannot start the mail runtime: {e}")))?;
        Ok(SmtpDeliverer {
            transport: builder.build(),
            from,
            runtime: Some(runtime),
        })
    }

    /// The message for `email`: text and HTML alternatives, quoted-printable.
    pub fn message(&self, email: &QueuedEmail) -> Result<Message, String> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(email.subject.clone());
        for r in &email.recipients {
            let to: Mailbox = r.parse().map_err(|e| format!("bad recipient {r:?}: {e}"))?;
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
            .map_err(|e| format!("cannot build the message: {e}"))
    }
}

impl Deliver for SmtpDeliverer {
    fn deliver(&self, email: &QueuedEmail) -> Result<(), String> {
        let message = self.message(email)?;
        let runtime = self.runtime.as_ref().ok_or("the mail runtime is gone")?;
        runtime
            .block_on(self.transport.send(message))
            .map(|_| ())
            .map_err(|e| {
                e.to_string()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
    }
}
