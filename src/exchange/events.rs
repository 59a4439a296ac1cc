//! The risky-event guard: an ID token issued for `pull_request_target` or `workflow_run` is not
//! exchanged unless the allow-list (`allow-events`, `--allow-events`) names its event.
//!
//! Those events run with the base repository's permissions and secrets, and their token's subject
//! is the base branch's (`repo:O/R:ref:refs/heads/main`), so a federated credential for `main`
//! trusts them; a workflow that checks out the pull request's head then runs its author's code
//! with an Azure token. Entra cannot match on `event_name`, so the check is made here, on the
//! ID token's own `event_name` claim (a step can set environment variables, not claims).
//! GitHub's warning: <https://docs.github.com/actions/reference/events-that-trigger-workflows#pull_request_target>;
//! the claim: <https://docs.github.com/actions/reference/security/oidc#oidc-token-claims>.

use super::invalid::{ConfigError, quote};

/// Events refused unless allowed by name.
pub const RISKY_EVENTS: &[&str] = &["pull_request_target", "workflow_run"];

/// The ID token's event is risky and not allowed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "refusing to exchange an ID token issued for a `{event}` event: {event} runs with the base repository's permissions and carries the base branch's subject, so a workflow that runs the pull request's code would hand it an Azure token. If this job never runs code from the pull request, allow it with `allow-events: {event}` (command line: --allow-events {event})"
)]
pub struct RiskyEvent {
    /// The `event_name` claim.
    pub event: String,
}

/// Whether an ID token whose `event_name` claim is `event_name` may be exchanged, given the events
/// `allowed`. A token without the claim (not from GitHub Actions: Kubernetes, GitLab) passes.
pub fn check_event(event_name: Option<&str>, allowed: &[String]) -> Result<(), RiskyEvent> {
    match event_name {
        Some(event) if RISKY_EVENTS.contains(&event) && !allowed.iter().any(|a| a == event) => {
            Err(RiskyEvent {
                event: event.to_owned(),
            })
        }
        _ => Ok(()),
    }
}

/// Parses `allow-events`: event names separated by commas or line breaks, each of `[a-z_]`
/// (GitHub's event names), blanks skipped.
pub fn parse_allow_events(value: &str) -> Result<Vec<String>, ConfigError> {
    value
        .split([',', '\n'])
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            if name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                Ok(name.to_owned())
            } else {
                Err(ConfigError::Invalid {
                    input: "allow-events",
                    problem: format!(
                        "has {}: list GitHub event names (lower case, e.g. pull_request_target), separated by commas or line breaks",
                        quote(name)
                    ),
                })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risky_events_are_refused_unless_allowed_by_name() {
        let none: Vec<String> = Vec::new();
        for event in RISKY_EVENTS {
            let refused = check_event(Some(event), &none).expect_err("refused");
            assert_eq!(refused.event, *event);
            assert!(
                refused
                    .to_string()
                    .contains(&format!("allow-events: {event}"))
            );
            assert!(check_event(Some(event), &[(*event).to_owned()]).is_ok());
        }
        let other = ["workflow_run".to_owned()];
        assert!(check_event(Some("pull_request_target"), &other).is_err());
        assert!(check_event(Some("push"), &none).is_ok());
        assert!(check_event(Some("pull_request"), &none).is_ok());
        assert!(check_event(None, &none).is_ok());
        // Exact names only: no case folding, no prefixes.
        assert!(
            check_event(
                Some("pull_request_target"),
                &["PULL_REQUEST_TARGET".to_owned()]
            )
            .is_err()
        );
    }

    #[test]
    fn allow_events_takes_commas_and_lines() {
        assert_eq!(
            parse_allow_events("pull_request_target, workflow_run\n\n").expect("valid"),
            vec!["pull_request_target", "workflow_run"]
        );
        assert_eq!(
            parse_allow_events(" ").expect("valid"),
            Vec::<String>::new()
        );
        let error = parse_allow_events("pull_request_target;rm").expect_err("invalid");
        assert!(error.to_string().contains("allow-events"), "{error}");
        assert!(parse_allow_events("Workflow_Run").is_err());
    }
}
