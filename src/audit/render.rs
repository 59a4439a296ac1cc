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
