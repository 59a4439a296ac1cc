//! The runner interface: workflow commands on stdout and the `GITHUB_OUTPUT`/`GITHUB_ENV` file commands.
//!
//! Formatting is pure (`impl Write` sinks, strings); the only file I/O is [`append_all`], which writes
//! one run's lines in a single `write_all` so a failed run adds nothing.
//! The runner's rules: <https://docs.github.com/en/actions/reference/workflow-commands-for-github-actions>
//! and its parser, <https://github.com/actions/runner/blob/main/src/Runner.Common/ActionCommand.cs>;
//! the tests hold a model of both parsers (`tests/support/runner_rules.rs`).

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

use zeroize::Zeroizing;

use crate::secret::Secret;

/// Escapes workflow-command data: `%`, `\r`, `\n`.
pub fn escape_data(value: &str) -> String {
    value
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow-command property value: data escaping plus `:` and `,`.
pub fn escape_property(value: &str) -> String {
    escape_data(value).replace(':', "%3A").replace(',', "%2C")
}

/// Writes `::add-mask::<secret>` and flushes, so the runner masks it before any later line.
pub fn add_mask(out: &mut impl Write, secret: &Secret) -> io::Result<()> {
    // The escaped copy is the secret too: zeroed when dropped, like the original.
    let escaped = Zeroizing::new(escape_data(secret.expose_secret()));
    writeln!(out, "::add-mask::{}", escaped.as_str())?;
    out.flush()
}

/// Writes the one `::error` annotation of a failed run.
pub fn error(out: &mut impl Write, title: &str, message: &str) -> io::Result<()> {
    writeln!(
        out,
        "::error title={}::{}",
        escape_property(title),
        escape_data(message)
    )
}

/// Writes a `::debug::` line.
pub fn debug(out: &mut impl Write, message: &str) -> io::Result<()> {
    writeln!(out, "::debug::{}", escape_data(message))
}

/// Writes a `::warning` annotation.
pub fn warning(out: &mut impl Write, message: &str) -> io::Result<()> {
    writeln!(out, "::warning::{}", escape_data(message))
}

/// Makes `line` a plain log line that neither of the runner's command parsers reads as a command.
///
/// The runner first tries `::name::` at the start of the (left-trimmed) line, then falls back to the
/// legacy `##[name]` form, which it finds **anywhere** in the line. A line that carries server text
/// (a retry reason, a body excerpt) could otherwise run `##[stop-commands]x`, after which the runner
/// prints every later `::add-mask::` as plain text, token included. So: line breaks are folded, every
/// `##[` becomes `## [`, and a leading `::` becomes `: :`.
pub fn neutralize(line: &str) -> String {
    let folded = line.replace(['\r', '\n'], " ").replace("##[", "## [");
    let indent = folded.len() - folded.trim_start().len();
    if folded[indent..].starts_with("::") {
        format!("{}: :{}", &folded[..indent], &folded[indent + 2..])
    } else {
        folded
    }
}

/// Writes `line` as a plain log line (see [`neutralize`]).
pub fn plain(out: &mut impl Write, line: &str) -> io::Result<()> {
    writeln!(out, "{}", neutralize(line))
}

/// Writes `lines` so that the runner executes none of them as workflow commands.
///
/// Used for any text that came from a server or a token; the token is random per call.
pub fn write_inert(out: &mut impl Write, lines: &[String]) -> io::Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let token = format!("inert{}", uuid::Uuid::new_v4().simple());
    writeln!(out, "::stop-commands::{token}")?;
    for line in lines {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "::{token}::")
}

/// Why a name/value pair cannot be written as a file command.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileCommandError {
    /// Names are chosen by this action or validated inputs; this is a bug or a bad `export-env`.
    #[error(
        "name {0:?} cannot be written: it is empty, contains `=`, `<<` or a line break, or ends with `<`"
    )]
    BadName(String),
    /// The runner on Linux keeps `\r` in values and would corrupt the value; refuse instead.
    #[error("the value for {0:?} contains a carriage return, which the runner cannot read back")]
    BadValue(String),
}

/// Formats `name<<DELIM\nvalue\nDELIM\n` with a fresh random delimiter found in neither name nor value.
pub fn format_file_command(name: &str, value: &str) -> Result<String, FileCommandError> {
    // A name ending in `<` would run into the `<<` that follows it: the runner would split `a<<<D`
    // as name `a`, delimiter `<D`, and fail the step on the missing delimiter.
    if name.is_empty()
        || name.contains('=')
        || name.contains("<<")
        || name.ends_with('<')
        || name.contains(['\n', '\r'])
    {
        return Err(FileCommandError::BadName(name.to_owned()));
    }
    if value.contains('\r') {
        return Err(FileCommandError::BadValue(name.to_owned()));
    }
    let delimiter = loop {
        let candidate = format!("ghadelimiter_{}", uuid::Uuid::new_v4());
        if !name.contains(&candidate) && !value.contains(&candidate) {
            break candidate;
        }
    };
    let mut entry = String::with_capacity(name.len() + value.len() + 2 * delimiter.len() + 6);
    // Writing to a String cannot fail.
    let _ = write!(entry, "{name}<<{delimiter}\n{value}\n{delimiter}\n");
    Ok(entry)
}

/// Formats every pair, or none.
pub fn format_file_commands<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Secret, FileCommandError> {
    let mut all = String::new();
    for (name, value) in pairs {
        all.push_str(&format_file_command(name, value)?);
    }
    // The text carries the token, so it is handled as a secret until it is on disk.
    Ok(Secret::new(all))
}

/// Appends `text` to the file at `path` in one `write_all` (created if missing, never truncated).
pub fn append_all(path: &Path, text: &Secret) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    file.write_all(text.expose_secret().as_bytes())?;
    file.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_the_toolkit() {
        assert_eq!(escape_data("50%\r\nnext"), "50%25%0D%0Anext");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
    }

    #[test]
    fn error_line_is_one_line() {
        let mut out = Vec::new();
        error(&mut out, "azure-oidc-token", "bad\n::add-mask::x").expect("write");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "::error title=azure-oidc-token::bad%0A::add-mask::x\n"
        );
    }

    #[test]
    fn plain_lines_carry_no_command_for_either_parser() {
        assert_eq!(
            neutralize("retry: ##[stop-commands]x"),
            "retry: ## [stop-commands]x"
        );
        assert_eq!(neutralize("###[x]"), "### [x]");
        assert_eq!(neutralize("  ::add-mask::x"), "  : :add-mask::x");
        assert_eq!(neutralize("a\r\n::warning::b"), "a  ::warning::b");
        assert_eq!(neutralize("plain text"), "plain text");
    }

    #[test]
    fn mask_line_escapes_multiline_values() {
        let mut out = Vec::new();
        add_mask(&mut out, &Secret::new("a\nb".to_owned())).expect("write");
        assert_eq!(out, b"::add-mask::a%0Ab\n");
    }

    #[test]
    fn inert_block_is_fenced_by_a_random_token() {
        let mut out = Vec::new();
        write_inert(&mut out, &["::set-env name=X::y".to_owned()]).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        let token = lines[0].strip_prefix("::stop-commands::").expect("fence");
        assert!(token.len() > 6);
        assert_eq!(lines[2], format!("::{token}::"));
    }

    #[test]
    fn file_command_uses_fresh_delimiters() {
        let a = format_file_command("access-token", "x=y<<z").expect("ok");
        let b = format_file_command("access-token", "x=y<<z").expect("ok");
        assert_ne!(a, b);
        let first = a.lines().next().expect("line");
        let delimiter = first.strip_prefix("access-token<<").expect("heredoc");
        assert!(delimiter.starts_with("ghadelimiter_"));
        assert_eq!(
            a,
            format!("access-token<<{delimiter}\nx=y<<z\n{delimiter}\n")
        );
    }

    #[test]
    fn refuses_names_and_values_the_runner_cannot_read_back() {
        assert!(format_file_command("", "v").is_err());
        assert!(format_file_command("a=b", "v").is_err());
        assert!(format_file_command("a<<b", "v").is_err());
        assert!(format_file_command("a\nb", "v").is_err());
        // Found by tests/integration/properties.rs: `a<` + `<<D` reads back as name `a`, delimiter `<D`.
        assert!(format_file_command("a<", "v").is_err());
        assert!(format_file_command("<", "").is_err());
        assert!(format_file_command("<a", "v").is_ok());
        assert!(format_file_command("a", "v\r\n").is_err());
    }
}
