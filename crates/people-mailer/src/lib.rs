//! people-mailer: email for people. [`Templates`] renders each email Metabase sends; [`OutboxWorker`]
//! delivers the outbox through [`SmtpDeliverer`] (lettre), retrying with back-off until each email is sent.

#![warn(missing_docs)]

mod smtp;
mod templates;
mod worker;

#[cfg(feature = "testing")]
pub mod testing;

pub use smtp::{Deliver, SmtpDeliverer, SmtpSettings};
pub use templates::{escape, Templates};
pub use worker::{OutboxWorker, Pass, Wakeup, WorkerConfig, WorkerHandle};

/// Mail set-up failures.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// An SMTP setting is unusable.
    #[error("{0}")]
    Config(String),
}
