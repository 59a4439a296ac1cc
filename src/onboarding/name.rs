//! Credential names: Entra's rule (3–120 of `[A-Za-z0-9_-]`, starting with a letter or digit),
//! and names derived from a subject or pattern that stay distinct when shortened.

use crate::onboarding::expression;

/// Whether `name` is a credential name Entra accepts: 3–120 of `[A-Za-z0-9_-]`, the first a
/// letter or digit (the managed-identity API's pattern `^[a-zA-Z0-9]{1}[a-zA-Z0-9-_]{2,119}$`).
pub fn valid_name(name: &str) -> bool {
    (3..=120).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// 32-bit FNV-1a: a stable, dependency-free fingerprint that keeps shortened names distinct.
pub(crate) fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

fn sanitise(text: &str) -> String {
    let mut sanitized = String::new();
    for c in text.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '-'
        };
        if !(c == '-' && (sanitized.is_empty() || sanitized.ends_with('-'))) {
            sanitized.push(c);
        }
    }
    sanitized.trim_end_matches('-').to_owned()
}

/// `github-<tail>`, cut to 120 characters; a cut name ends in `-<8 hex digits>` of the whole
/// `source`, so two long sources that share their first 110 characters keep distinct names.
fn name_from(source: &str, tail: &str, always_hash: bool) -> String {
    let sanitized = sanitise(tail);
    let full = if sanitized.is_empty() {
        "github".to_owned()
    } else {
        format!("github-{sanitized}")
    };
    if full.len() <= 120 && !always_hash {
        return full;
    }
    let suffix = format!("-{:08x}", fnv1a(source));
    let mut kept = full;
    kept.truncate(120 - suffix.len());
    format!("{}{suffix}", kept.trim_end_matches('-'))
}

/// A credential name Entra accepts, derived from the subject: `github-<subject, sanitised>`.
pub fn credential_name(subject: &str) -> String {
    name_from(
        subject,
        subject.strip_prefix("repo:").unwrap_or(subject),
        false,
    )
}

/// A flexible credential's name: from the `sub` pattern, always with the hash suffix (a wildcard
/// sanitises to the same name as some exact subject would).
pub fn flexible_name(expression: &str) -> String {
    let pattern = expression::parse(expression)
        .ok()
        .and_then(|e| e.subject_pattern().map(str::to_owned))
        .unwrap_or_default();
    name_from(
        expression,
        pattern.strip_prefix("repo:").unwrap_or(&pattern),
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitise_folds_runs_and_drops_leading_and_trailing_dashes() {
        assert_eq!(sanitise("::repo:o/r::"), "repo-o-r");
        assert_eq!(sanitise("a//b"), "a-b");
        assert_eq!(sanitise("-x_y"), "x_y");
    }
}
