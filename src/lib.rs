//! azure-oidc-token: exchange a GitHub Actions OIDC token for a short-lived Azure access token.
//!
//! Three wings, and a thin edge that picks between them:
//! - [`exchange`]: the protocol, with no knowledge of GitHub Actions: where the ID token comes from
//!   ([`exchange::source`]), Entra's token endpoint, HTTP with deadlines and retries, clouds.
//! - [`action`]: the GitHub runner contract: `INPUT_*` into a validated configuration, step outputs,
//!   `GITHUB_ENV`, the step summary, workflow and file commands.
//! - [`onboarding`]: getting the federated credential right: the generator, the expression
//!   language of flexible credentials, `explain`, and the AADSTS diagnosis.
//!
//! [`audit`] (`federated-credential audit`) reads the credentials already in Entra and judges them
//! against GitHub; it uses the exchange and onboarding, neither uses it.
//!
//! [`cli`] parses arguments and picks the mode; [`report`] renders every error in one place.
//! Follow the access token: `exchange::source` → `exchange::entra` → `action::outputs`.
//! The contract users rely on is `docs/design.md`.

pub mod action;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod error;
pub mod exchange;
pub mod onboarding;
pub mod report;
pub mod secret;
pub mod service;
pub mod token_file;
