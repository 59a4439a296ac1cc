//! The audit's output: one table a person reads in a terminal or a job summary (Markdown, each
//! line starting with `|`, `#` or a word the audit wrote, so no server text can start a workflow
//! command), or one JSON document for machines.

use std::io::{self, Write};

use serde::Serialize;

use crate::action::workflow::neutralize;
use crate::audit::Report;
use crate::audit::findings::{Finding, Severity};

#[derive(Serialize)]
struct JsonFinding<'a> {
    code: &'static str,
    severity: Severity,
    message: &'a str,
}

#[derive(Serialize)]
struct JsonCredential<'a> {
    name: &'a str,
    issuer: &'a str,
    subject: Option<&'a str>,
    expression: Option<&'a str>,
    audiences: &'a [String],
    findings: Vec<JsonFinding<'a>>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    credentials: Vec<JsonCredential<'a>>,
    findings: Vec<JsonFinding<'a>>,
}

fn json_findings(findings: &[Finding]) -> Vec<JsonFinding<'_>> {
    findings
        .iter()
        .map(|f| JsonFinding {
            code: f.code.as_str(),
            severity: f.code.severity(),
            message: &f.message,
        })
        .collect()
}

/// `{"credentials": [...], "findings": [...]}` on one line.
pub fn json(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let document = JsonReport {
        credentials: report
            .credentials
            .iter()
            .map(|a| JsonCredential {
                name: &a.credential.name,
                issuer: &a.credential.issuer,
                subject: a.credential.subject.as_deref(),
                expression: a.credential.expression.as_deref(),
                audiences: &a.credential.audiences,
                findings: json_findings(&a.findings),
            })
            .collect(),
        findings: json_findings(&report.findings),
    };
    serde_json::to_writer(&mut *out, &document).map_err(io::Error::other)?;
    writeln!(out)
}

/// A table cell: one line, `|` escaped, at most 200 characters of server text.
fn cell(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .replace('|', "\\|")
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// The Markdown table, the totals and, with a declaration, the reconciling commands.
pub fn text(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let mut lines = vec![
        format!(
            "## Federated credential audit: {} ({} credential{})",
            report.target,
            report.credentials.len(),
            if report.credentials.len() == 1 {
                ""
            } else {
                "s"
            }
        ),
        String::new(),
        "| credential | subject or expression | severity | code | what to do |".to_owned(),
        "| --- | --- | --- | --- | --- |".to_owned(),
    ];
    for assessed in &report.credentials {
        let c = &assessed.credential;
        let matcher = c
            .subject
            .as_deref()
            .or(c.expression.as_deref())
            .unwrap_or("");
        if assessed.findings.is_empty() {
            lines.push(format!(
                "| {} | {} | ok | | |",
                cell(&c.name),
                cell(matcher)
            ));
        }
        for finding in &assessed.findings {
            lines.push(format!(
                "| {} | {} | {} | {} | {} |",
                cell(&c.name),
                cell(matcher),
                severity_word(finding.code.severity()),
                finding.code.as_str(),
                cell(&finding.message)
            ));
        }
    }
    for finding in &report.findings {
        lines.push(format!(
            "| | | {} | {} | {} |",
            severity_word(finding.code.severity()),
            finding.code.as_str(),
            cell(&finding.message)
        ));
    }
    let (errors, warnings) = report.totals();
    lines.push(String::new());
    lines.push(format!(
        "{errors} error{}, {warnings} warning{}.",
        if errors == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" }
    ));
    if !report.commands.is_empty() {
        lines.push(String::new());
        lines.push(
            "To reconcile Entra with the declaration (the audit runs none of these; one at a time, Entra refuses concurrent writes):"
                .to_owned(),
        );
        lines.push(String::new());
        lines.push("```sh".to_owned());
        lines.extend(report.commands.iter().cloned());
        lines.push("```".to_owned());
    }
    for line in lines {
        writeln!(out, "{}", neutralize(&line))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Assessed;
    use crate::audit::findings::{Code, Deployed};

    fn report(findings: Vec<Finding>, commands: Vec<String>) -> Report {
        Report {
            target: "app registration x".to_owned(),
            credentials: vec![Assessed {
                credential: Deployed {
                    name: "c".to_owned(),
                    issuer: "https://token.actions.githubusercontent.com".to_owned(),
                    subject: Some("repo:o/r|x\n::set-env name=A::b ##[stop-commands]t".to_owned()),
                    expression: None,
                    audiences: vec!["api://AzureADTokenExchange".to_owned()],
                },
                findings,
            }],
            findings: vec![Finding::new(Code::Capacity, "18 of the 20")],
            commands,
            notes: Vec::new(),
        }
    }

    fn text_of(report: &Report) -> String {
        let mut out = Vec::new();
        text(report, &mut out).expect("write");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn the_table_keeps_server_text_in_its_cell_and_inert() {
        let out = text_of(&report(
            vec![Finding::new(Code::Duplicate, "same as \"d\"")],
            Vec::new(),
        ));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[4],
            "| c | repo:o/r\\|x ::set-env name=A::b ## [stop-commands]t | warning | duplicate | same as \"d\" |"
        );
        assert_eq!(lines[5], "| | | warning | capacity | 18 of the 20 |");
        assert!(out.contains("\n0 errors, 2 warnings.\n"));
        assert!(!out.contains("```"), "no plan without a declaration");
        for line in &lines {
            assert!(!line.trim_start().starts_with("::"), "{line}");
        }
    }

    #[test]
    fn a_healthy_credential_is_ok_and_the_plan_closes_the_text() {
        let out = text_of(&report(Vec::new(), vec!["az ad app x".to_owned()]));
        assert!(out.contains("| c | "), "{out}");
        assert!(out.contains(" | ok | | |\n"), "{out}");
        assert!(out.ends_with("```sh\naz ad app x\n```\n"), "{out}");
    }

    #[test]
    fn json_has_the_documented_shape() {
        let mut out = Vec::new();
        json(
            &report(vec![Finding::new(Code::CaseMismatch, "m")], Vec::new()),
            &mut out,
        )
        .expect("write");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(text.lines().count(), 1);
        assert!(
            text.starts_with("{\"credentials\":[{\"name\":\"c\",\"issuer\":"),
            "{text}"
        );
        let value: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            value["credentials"][0]["expression"],
            serde_json::Value::Null
        );
        assert_eq!(
            value["credentials"][0]["findings"][0],
            serde_json::json!({"code": "case-mismatch", "severity": "error", "message": "m"})
        );
        assert_eq!(value["findings"][0]["code"], "capacity");
    }
}
