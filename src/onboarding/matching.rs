//! Would a given federated credential match this token? `explain --subject` compares an exact
//! credential's subject the way Entra does (exactly, case-sensitively); `explain --expression`
//! evaluates a flexible credential's expression (`crate::onboarding::expression`). Both say when the subject
//! forms differ (name-based vs ID-based), the mismatch GitHub's 2026 change brought.

use serde_json::{Map, Value};

use crate::onboarding::credential::GITHUB_ISSUER;
use crate::onboarding::expression::Expression;

/// What `explain` was asked to check.
#[derive(Clone, Debug, Default)]
pub struct Check {
    /// An exact credential's subject.
    pub subject: Option<String>,
    /// A flexible credential's expression.
    pub expression: Option<Expression>,
    /// Whether they came from the action's inputs (`explain-subject`, `explain-expression`) rather
    /// than the CLI's flags (`--subject`, `--expression`): the failure names the one the user set.
    pub from_inputs: bool,
}

fn quoted(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The report lines for `check` against a token's `claims`, and, when the credential would not
/// match, one line saying why (the step then fails).
pub fn check_lines(claims: &Map<String, Value>, check: &Check) -> (Vec<String>, Option<String>) {
    let mut lines = Vec::new();
    let mut failures = Vec::new();
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if let Some(note) = crate::onboarding::subject::presented_form_note(sub) {
        lines.push(String::new());
        lines.push(note);
    }
    if let Some(subject) = &check.subject {
        lines.push(String::new());
        lines.push(
            "The credential subject you gave, compared as Entra does (exactly, case-sensitively):"
                .to_owned(),
        );
        if subject == sub {
            lines.push(format!("  {}  matches the token's sub", quoted(subject)));
        } else {
            let why = if subject.to_lowercase() == sub.to_lowercase() {
                "only the letter case differs, and matching is case-sensitive (AADSTS7002138)"
            } else {
                "it differs (AADSTS700213)"
            };
            lines.push(format!(
                "  {}  does NOT match the token's sub {}: {why}",
                quoted(subject),
                quoted(sub)
            ));
            let name = if check.from_inputs {
                "explain-subject"
            } else {
                "--subject"
            };
            failures.push(format!("{name} does not match the token's sub: {why}"));
        }
        lines.extend(
            crate::onboarding::subject::form_mismatch(sub, subject).map(|w| format!("  {w}")),
        );
    }
    if let Some(expression) = &check.expression {
        lines.push(String::new());
        lines.push(format!(
            "The flexible credential expression you gave (Entra preview; issuer {GITHUB_ISSUER} only):"
        ));
        lines.push(format!("  {expression}"));
        let mut holds = true;
        for checked in expression.check(claims) {
            let actual = checked
                .actual
                .as_deref()
                .map_or_else(|| "missing".to_owned(), quoted);
            lines.push(format!(
                "  claims['{}'] is {actual}: {}",
                checked.condition.claim,
                if checked.holds {
                    "holds"
                } else {
                    "does NOT hold"
                }
            ));
            holds &= checked.holds;
        }
        let issuer = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if issuer != GITHUB_ISSUER {
            lines.push(format!(
                "  Entra evaluates flexible credentials for GitHub only with issuer {GITHUB_ISSUER}; this token's issuer is {}",
                quoted(issuer)
            ));
            holds = false;
        }
        if let Some(pattern) = expression.subject_pattern() {
            lines.extend(
                crate::onboarding::subject::form_mismatch(sub, pattern).map(|w| format!("  {w}")),
            );
        }
        if holds {
            lines.push("  result: the expression matches this token".to_owned());
        } else {
            lines.push("  result: the expression does NOT match this token".to_owned());
            let name = if check.from_inputs {
                "explain-expression"
            } else {
                "--expression"
            };
            failures.push(format!("{name} does not match the token's claims"));
        }
    }
    let failure = (!failures.is_empty()).then(|| failures.join("; "));
    (lines, failure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onboarding::expression::parse;

    fn claims(sub: &str) -> Map<String, Value> {
        let mut claims = Map::new();
        claims.insert("iss".into(), GITHUB_ISSUER.into());
        claims.insert("sub".into(), sub.into());
        claims
    }

    #[test]
    fn an_exact_subject_matches_only_exactly() {
        let token = claims("repo:o/r:ref:refs/heads/main");
        let check = |subject: &str| {
            check_lines(
                &token,
                &Check {
                    subject: Some(subject.to_owned()),
                    expression: None,
                    from_inputs: false,
                },
            )
        };
        let (lines, failure) = check("repo:o/r:ref:refs/heads/main");
        assert_eq!(failure, None);
        assert!(
            lines
                .iter()
                .any(|l| l.contains("presents the name-based subject form")),
            "explain always says which form the token has: {lines:#?}"
        );
        let (lines, failure) = check("repo:O/r:ref:refs/heads/main");
        assert!(failure.is_some_and(|f| f.contains("letter case")));
        assert!(lines.iter().any(|l| l.contains("AADSTS7002138")));
        let (lines, failure) = check("repo:o@1/r@2:ref:refs/heads/main");
        assert!(failure.is_some());
        assert!(
            lines
                .iter()
                .any(|l| l.contains("warning: the token presents the name-based")),
            "{lines:#?}"
        );
    }

    #[test]
    fn an_expression_is_evaluated_and_its_issuer_checked() {
        let expression = parse("claims['sub'] matches 'repo:o/r:ref:refs/heads/release/*'").ok();
        let check = Check {
            subject: None,
            expression,
            from_inputs: false,
        };
        assert_eq!(
            check_lines(&claims("repo:o/r:ref:refs/heads/release/7"), &check).1,
            None
        );
        let (lines, failure) = check_lines(&claims("repo:o/r:ref:refs/heads/main"), &check);
        assert!(failure.is_some());
        assert!(
            lines.iter().any(|l| l.contains("does NOT hold")),
            "{lines:#?}"
        );
        let mut ghes = claims("repo:o/r:ref:refs/heads/release/7");
        ghes.insert("iss".into(), "https://ghes.example/_services/token".into());
        let (lines, failure) = check_lines(&ghes, &check);
        assert!(failure.is_some());
        assert!(lines.iter().any(|l| l.contains("this token's issuer is")));
    }
}
