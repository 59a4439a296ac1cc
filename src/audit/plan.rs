//! The declared-versus-deployed plan: the credentials a repository declares (the generator's own
//! JSON lines, committed next to the workflows) compared by name with what Entra holds, and the
//! `az` commands that would reconcile them. The audit prints the commands; it never runs them.
//!
//! Commands: `az ad app federated-credential create|update|delete`
//! (<https://learn.microsoft.com/cli/azure/ad/app/federated-credential>), `az identity
//! federated-credential create|update|delete`
//! (<https://learn.microsoft.com/cli/azure/identity/federated-credential>), and for flexible
//! credentials on apps `az rest` against Graph beta's `federatedIdentityCredentials`
//! (<https://learn.microsoft.com/graph/api/resources/federatedidentitycredential?view=graph-rest-beta>).

use serde::Deserialize;

use crate::audit::findings::{Code, Deployed, Finding};
use crate::audit::target::Target;
use crate::onboarding::credential::{ClaimsMatchingExpression, Credential, shell_quote};
use crate::onboarding::expression::LANGUAGE_VERSION;

/// Why the declaration cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeclaredError {
    /// A line is not one of the generator's JSON objects.
    #[error(
        "--declared line {line}: {problem}; the file holds the JSON lines `azure-oidc-token federated-credential --format json` prints"
    )]
    Line {
        /// 1-based.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// Two declared credentials share a name (Entra names are unique per app or identity).
    #[error("--declared names {0:?} twice: credential names are unique per app or identity")]
    DuplicateName(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeclaredLine {
    name: String,
    issuer: String,
    subject: Option<String>,
    #[serde(rename = "claimsMatchingExpression")]
    claims_matching_expression: Option<ExpressionLine>,
    #[allow(dead_code)] // accepted, not compared: Entra's description is free text
    description: Option<String>,
    audiences: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpressionLine {
    value: String,
    #[serde(rename = "languageVersion")]
    #[allow(dead_code)] // always 1
    language_version: u32,
}

/// Reads the declaration: one JSON object per line (blank lines and `#` comments skipped).
pub fn parse_declared(text: &str) -> Result<Vec<Deployed>, DeclaredError> {
    let mut declared: Vec<Deployed> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let parsed: DeclaredLine =
            serde_json::from_str(trimmed).map_err(|error| DeclaredError::Line {
                line: index + 1,
                problem: error.to_string(),
            })?;
        if parsed.subject.is_some() == parsed.claims_matching_expression.is_some() {
            return Err(DeclaredError::Line {
                line: index + 1,
                problem: "give exactly one of subject and claimsMatchingExpression".to_owned(),
            });
        }
        if declared.iter().any(|d| d.name == parsed.name) {
            return Err(DeclaredError::DuplicateName(parsed.name));
        }
        declared.push(Deployed {
            name: parsed.name,
            issuer: parsed.issuer,
            subject: parsed.subject,
            expression: parsed.claims_matching_expression.map(|e| e.value),
            audiences: parsed.audiences,
        });
    }
    Ok(declared)
}

/// The comparison: findings per deployed credential (same order), findings about no deployed
/// credential, and the reconciling commands in the order to run them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// `differs-from-declared` / `undeclared`, per deployed credential.
    pub per_credential: Vec<Vec<Finding>>,
    /// `not-deployed`.
    pub top: Vec<Finding>,
    /// Commands: updates, then deletions (they free slots), then creations.
    pub commands: Vec<String>,
}

fn differences(declared: &Deployed, deployed: &Deployed) -> Vec<String> {
    let mut out = Vec::new();
    let show = |v: &Option<String>| v.as_deref().map_or("none".to_owned(), |v| format!("{v:?}"));
    if declared.issuer != deployed.issuer {
        out.push(format!(
            "issuer {:?} declared, {:?} deployed",
            declared.issuer, deployed.issuer
        ));
    }
    if declared.subject != deployed.subject {
        out.push(format!(
            "subject {} declared, {} deployed",
            show(&declared.subject),
            show(&deployed.subject)
        ));
    }
    if declared.expression != deployed.expression {
        out.push(format!(
            "expression {} declared, {} deployed",
            show(&declared.expression),
            show(&deployed.expression)
        ));
    }
    let sorted = |a: &[String]| {
        let mut a = a.to_vec();
        a.sort();
        a
    };
    if sorted(&declared.audiences) != sorted(&deployed.audiences) {
        out.push(format!(
            "audiences {:?} declared, {:?} deployed",
            declared.audiences, deployed.audiences
        ));
    }
    out
}

/// The generator's credential for `d` (to reuse its JSON and command rendering).
pub fn credential(d: &Deployed) -> Credential {
    Credential {
        name: d.name.clone(),
        issuer: d.issuer.clone(),
        subject: d.subject.clone(),
        claims_matching_expression: d.expression.as_ref().map(|value| ClaimsMatchingExpression {
            value: value.clone(),
            language_version: LANGUAGE_VERSION,
        }),
        description: None,
        audiences: d.audiences.clone(),
    }
}

/// What a command does to a credential.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verb {
    Create,
    Update,
    Delete,
}

/// The `az` command that does `verb` to `d` on `target`; `graph` is Graph's root (for `az rest`).
fn command(verb: Verb, d: &Deployed, target: &Target, graph: &str) -> String {
    let c = credential(d);
    match target {
        Target::App { app_id } => {
            let flexible_url =
                format!("{graph}/beta/applications(appId='{app_id}')/federatedIdentityCredentials");
            match (verb, c.claims_matching_expression.is_some()) {
                (Verb::Delete, _) => format!(
                    "az ad app federated-credential delete --id {app_id} --federated-credential-id {}",
                    shell_quote(&c.name)
                ),
                (Verb::Create, true) => format!(
                    "az rest --method POST --url {} --headers Content-Type=application/json --body {}",
                    shell_quote(&flexible_url),
                    shell_quote(&c.to_json())
                ),
                (Verb::Update, true) => format!(
                    "az rest --method PATCH --url {} --headers Content-Type=application/json --body {}",
                    shell_quote(&format!("{flexible_url}/{}", c.name)),
                    shell_quote(&c.to_json())
                ),
                (Verb::Create, false) => format!(
                    "az ad app federated-credential create --id {app_id} --parameters {}",
                    shell_quote(&c.to_json())
                ),
                (Verb::Update, false) => format!(
                    "az ad app federated-credential update --id {app_id} --federated-credential-id {} --parameters {}",
                    shell_quote(&c.name),
                    shell_quote(&c.to_json())
                ),
            }
        }
        Target::Identity(identity) => {
            let scope = format!(
                "--name {} --identity-name {} --resource-group {} --subscription {}",
                shell_quote(&c.name),
                shell_quote(&identity.name),
                shell_quote(&identity.resource_group),
                identity.subscription
            );
            let verb_word = match verb {
                Verb::Create => "create",
                Verb::Update => "update",
                Verb::Delete => {
                    return format!("az identity federated-credential delete {scope} --yes");
                }
            };
            let matcher = match c.expression() {
                Some(value) => format!(
                    "--claims-matching-expression-value {} --claims-matching-expression-version {LANGUAGE_VERSION}",
                    shell_quote(value)
                ),
                None => format!(
                    "--subject {}",
                    shell_quote(c.subject.as_deref().unwrap_or_default())
                ),
            };
            format!(
                "az identity federated-credential {verb_word} {scope} --issuer {} {matcher} --audiences {}",
                shell_quote(&c.issuer),
                c.audiences
                    .iter()
                    .map(|a| shell_quote(a))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    }
}

/// Said before a command that would write a flexible credential to a managed identity.
pub const IDENTITY_FLEXIBLE_WARNING: &str = "# warning: Microsoft Entra does not support flexible federated credentials on managed identities yet (https://learn.microsoft.com/entra/workload-id/workload-identities-flexible-federated-identity-credentials); Azure may refuse the next command";

fn push(commands: &mut Vec<String>, verb: Verb, d: &Deployed, target: &Target, graph: &str) {
    if verb != Verb::Delete && d.expression.is_some() && matches!(target, Target::Identity(_)) {
        commands.push(IDENTITY_FLEXIBLE_WARNING.to_owned());
    }
    commands.push(command(verb, d, target, graph));
}

/// Compares `declared` with `deployed` by name.
pub fn compare(declared: &[Deployed], deployed: &[Deployed], target: &Target, graph: &str) -> Plan {
    let mut plan = Plan::default();
    let (mut updates, mut deletions, mut creations) = (Vec::new(), Vec::new(), Vec::new());
    for d in deployed {
        let mut findings = Vec::new();
        match declared.iter().find(|x| x.name == d.name) {
            Some(want) => {
                let diffs = differences(want, d);
                if !diffs.is_empty() {
                    findings.push(Finding::new(
                        Code::DiffersFromDeclared,
                        format!(
                            "differs from the declaration: {}; update it (the text output ends with the command) or change the declaration",
                            diffs.join("; ")
                        ),
                    ));
                    push(&mut updates, Verb::Update, want, target, graph);
                }
            }
            None => {
                findings.push(Finding::new(
                    Code::Undeclared,
                    "in Entra but not in the declaration: declare it (federated-credential --format json >> the file) or delete it (the text output ends with the command)",
                ));
                push(&mut deletions, Verb::Delete, d, target, graph);
            }
        }
        plan.per_credential.push(findings);
    }
    for want in declared {
        if !deployed.iter().any(|d| d.name == want.name) {
            plan.top.push(Finding::new(
                Code::NotDeployed,
                format!(
                    "{:?} is declared but {} has no credential of that name: create it (the text output ends with the command)",
                    want.name,
                    target.describe()
                ),
            ));
            push(&mut creations, Verb::Create, want, target, graph);
        }
    }
    plan.commands.extend(updates);
    plan.commands.extend(deletions);
    plan.commands.extend(creations);
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::target::IdentityId;

    const GRAPH: &str = "https://graph.microsoft.com";

    fn line(name: &str, subject: &str) -> String {
        format!(
            r#"{{"name":"{name}","issuer":"https://token.actions.githubusercontent.com","subject":"{subject}","audiences":["api://AzureADTokenExchange"]}}"#
        )
    }

    fn app() -> Target {
        Target::App {
            app_id: "11111111-2222-4333-8444-555555555555".to_owned(),
        }
    }

    #[test]
    fn reads_the_generators_json_lines() {
        let text = format!(
            "{}\n\n# comment\n{}\n",
            line("a", "repo:o/r:ref:refs/heads/main"),
            r#"{"name":"f","issuer":"https://token.actions.githubusercontent.com","claimsMatchingExpression":{"value":"claims['sub'] matches 'repo:o/r:*'","languageVersion":1},"audiences":["api://AzureADTokenExchange"]}"#
        );
        let declared = parse_declared(&text).expect("test value");
        assert_eq!(declared.len(), 2);
        assert_eq!(
            declared[1].expression.as_deref(),
            Some("claims['sub'] matches 'repo:o/r:*'")
        );
        assert!(matches!(
            parse_declared("{\"name\":\"x\"}"),
            Err(DeclaredError::Line { line: 1, .. })
        ));
        let twice = format!("{}\n{}", line("a", "s"), line("a", "t"));
        assert_eq!(
            parse_declared(&twice),
            Err(DeclaredError::DuplicateName("a".to_owned()))
        );
    }

    #[test]
    fn a_line_with_both_or_neither_matcher_is_refused_by_its_number() {
        let both = r#"{"name":"b","issuer":"https://token.actions.githubusercontent.com","subject":"repo:o/r:ref:refs/heads/main","claimsMatchingExpression":{"value":"claims['sub'] matches 'repo:o/r:*'","languageVersion":1},"audiences":["api://AzureADTokenExchange"]}"#;
        let neither = r#"{"name":"n","issuer":"https://token.actions.githubusercontent.com","audiences":["api://AzureADTokenExchange"]}"#;
        let first = line("a", "repo:o/r:ref:refs/heads/main");
        for (text, at) in [
            (format!("{first}\n{both}"), 2),
            (format!("# declared\n\n{neither}"), 3),
            (neither.to_owned(), 1),
        ] {
            let error = parse_declared(&text).expect_err("one matcher per line");
            assert_eq!(
                error.to_string(),
                format!(
                    "--declared line {at}: give exactly one of subject and claimsMatchingExpression; the file holds the JSON lines `azure-oidc-token federated-credential --format json` prints"
                )
            );
        }
    }

    #[test]
    fn not_deployed_differs_and_undeclared_with_their_commands() {
        let declared = parse_declared(&format!(
            "{}\n{}",
            line("same", "repo:o/r:ref:refs/heads/main"),
            line("missing", "repo:o/r:environment:prod")
        ))
        .expect("test value");
        let mut changed = declared[0].clone();
        changed.subject = Some("repo:o/r:ref:refs/heads/dev".to_owned());
        let extra = Deployed {
            name: "extra".to_owned(),
            ..changed.clone()
        };
        let plan = compare(&declared, &[changed, extra], &app(), GRAPH);
        assert_eq!(plan.per_credential[0][0].code, Code::DiffersFromDeclared);
        assert!(
            plan.per_credential[0][0]
                .message
                .contains("subject \"repo:o/r:ref:refs/heads/main\" declared")
        );
        assert_eq!(plan.per_credential[1][0].code, Code::Undeclared);
        assert_eq!(plan.top.len(), 1);
        assert_eq!(plan.top[0].code, Code::NotDeployed);
        assert!(plan.top[0].message.contains("\"missing\""));
        assert_eq!(plan.commands.len(), 3);
        assert!(plan.commands[0].starts_with("az ad app federated-credential update --id 11111111-2222-4333-8444-555555555555 --federated-credential-id 'same' --parameters '{"));
        assert_eq!(
            plan.commands[1],
            "az ad app federated-credential delete --id 11111111-2222-4333-8444-555555555555 --federated-credential-id 'extra'"
        );
        assert!(plan.commands[2].starts_with("az ad app federated-credential create --id 11111111-2222-4333-8444-555555555555 --parameters '{\"name\":\"missing\""));
        // In step: nothing to do.
        let same = compare(&declared[..1], &declared[..1], &app(), GRAPH);
        assert_eq!(same.per_credential, [Vec::<Finding>::new()]);
        assert!(same.top.is_empty() && same.commands.is_empty());
    }

    #[test]
    fn identity_commands_and_the_flexible_warning() {
        let identity = Target::Identity(IdentityId {
            subscription: "00000000-0000-4000-8000-0000000000bb".to_owned(),
            resource_group: "rg-id".to_owned(),
            name: "id-deploy".to_owned(),
        });
        let flexible = Deployed {
            name: "wild".to_owned(),
            issuer: "https://token.actions.githubusercontent.com".to_owned(),
            subject: None,
            expression: Some("claims['sub'] matches 'repo:o/r:*'".to_owned()),
            audiences: vec!["api://AzureADTokenExchange".to_owned()],
        };
        let plan = compare(std::slice::from_ref(&flexible), &[], &identity, GRAPH);
        assert_eq!(plan.commands[0], IDENTITY_FLEXIBLE_WARNING);
        assert!(plan.commands[1].starts_with("az identity federated-credential create --name 'wild' --identity-name 'id-deploy' --resource-group 'rg-id' --subscription 00000000-0000-4000-8000-0000000000bb --issuer 'https://token.actions.githubusercontent.com' --claims-matching-expression-value"));
        let plan = compare(&[], std::slice::from_ref(&flexible), &identity, GRAPH);
        assert_eq!(
            plan.commands,
            [
                "az identity federated-credential delete --name 'wild' --identity-name 'id-deploy' --resource-group 'rg-id' --subscription 00000000-0000-4000-8000-0000000000bb --yes"
            ]
        );
        // On an app, a flexible credential goes through the cloud's Graph beta.
        let plan = compare(&[flexible], &[], &app(), "https://graph.microsoft.us");
        assert!(plan.commands[0].starts_with("az rest --method POST --url 'https://graph.microsoft.us/beta/applications(appId='\\''11111111-2222-4333-8444-555555555555'\\'')/federatedIdentityCredentials'"));
    }
}
