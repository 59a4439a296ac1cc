//! azure-oidc-token: exchange a GitHub Actions OIDC token for a short-lived Azure access token.
//!
//! The binary is a thin wrapper around [`app::run_action`]. One module per concern; the contract is
//! `DESIGN.md` (inputs, outputs, errors), the protocol facts are in `reference/`.

pub mod app;
pub mod claims;
pub mod cli;
pub mod config;
pub mod entra;
pub mod error;
pub mod explain;
pub mod expression;
pub mod fic;
pub mod github;
pub mod http;
pub mod matching;
pub mod outputs;
pub mod runner;
pub mod secret;
pub mod token_file;
