//! people-mailer: email for people. [`Templates`] renders each email Metabase sends; [`OutboxWorker`]
//! delivers the outbox through [`SmtpDeliverer`] (lettre), retrying with back-off until each email is sent.

#![warn(missing_docs)]

mod smtp;
mod templates;
mod worker;

#[cfg(feature = "testing")]
pub mod testing;

pub use smtp::{
    Deliver, DeliveryError, SmtpDeliverer, SmtpSecurity, SmtpSettings, UnknownSmtpSecurity,
};
pub use templates::{escape, Templates};
pub use worker::{OutboxWorker, Pass, Wakeup, WorkerConfig, WorkerHandle};

/// Why an [`SmtpDeliverer`] cannot be set up. Each message names the variable at fault, if any.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// `MB_EMAIL_SMTP_HOST` cannot be used for TLS (lettre refused it as a TLS server name).
    #[error("MB_EMAIL_SMTP_HOST: {0}")]
    Host(#[source] lettre::transport::smtp::Error),
    /// `MB_EMAIL_FROM_ADDRESS` is not an address lettre accepts.
    #[error("MB_EMAIL_FROM_ADDRESS: {0}")]
    FromAddress(#[source] lettre::address::AddressError),
    /// The runtime that drives the transport cannot be started.
    #[error("cannot start the mail runtime: {0}")]
    Runtime(#[source] std::io::Error),
}
