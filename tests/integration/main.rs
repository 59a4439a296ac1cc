//! The integration suites, one test binary: each module spawns the real binary (or reads the
//! repository's files) the way its former `tests/<name>.rs` did; `cargo test --test integration
//! -- <module>::` runs one suite. The fault catalogue and the load test stay separate binaries
//! without libtest's harness (`tests/faults.rs`, `tests/load.rs`): they print their own totals.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

#[path = "../support/mod.rs"]
mod support;

mod action;
mod audit;
mod commands;
mod container;
mod contract;
mod cookbook;
mod credentials;
mod hardening;
mod installer;
mod native;
mod native_contract;
mod properties;
mod readme;
mod recipes;
mod sdk;
mod service;
mod service_clients;
mod terraform_audience;
mod token_output;
mod windows;
