//! Reference predicates for what the action accepts and refuses, written from the words of `docs/design.md`,
//! independently of `src/`, so tests and fuzz targets can check the implementation against them.
//! Pure std, no dependencies: the fuzz crate includes this file with `#[path]`.

/// GUID: 8-4-4-4-12 hexadecimal digits, either case.
pub fn guid(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Domain: labels of `[A-Za-z0-9-]` joined by single dots, at most 128 characters.
pub fn domain(value: &str) -> bool {
    let mut previous_dot = true; // no leading dot
    for c in value.chars() {
        match c {
            '.' if previous_dot => return false,
            '.' => previous_dot = true,
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' => previous_dot = false,
            _ => return false,
        }
    }
    !previous_dot && value.len() <= 128
}

/// `export-env` name: `[A-Za-z_][A-Za-z0-9_]*`, none the runner, shell or a loader interprets:
/// `ACTIONS_*`, `GITHUB_*`, `RUNNER_*`, `LD_*`, `DYLD_*`, `PATH`, `BASH_ENV`, `ENV`, `NODE_OPTIONS`,
/// `JAVA_TOOL_OPTIONS`, `PYTHONPATH`, `PYTHONSTARTUP`, `PERL5OPT`, `RUBYOPT` (case-insensitively,
/// as the runner compares `NODE_OPTIONS`).
pub fn env_name(value: &str) -> bool {
    let mut chars = value.chars();
    let shape = chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric());
    let upper = value.to_ascii_uppercase();
    let refused = [
        "NODE_OPTIONS",
        "PATH",
        "BASH_ENV",
        "ENV",
        "JAVA_TOOL_OPTIONS",
        "PYTHONPATH",
        "PYTHONSTARTUP",
        "PERL5OPT",
        "RUBYOPT",
    ];
    let refused_prefixes = ["ACTIONS_", "GITHUB_", "RUNNER_", "LD_", "DYLD_"];
    shape
        && !refused.contains(&upper.as_str())
        && !refused_prefixes.iter().any(|p| upper.starts_with(p))
}

/// A scope value may hold no whitespace and no control character (one resource scope).
pub fn scope_chars(value: &str) -> bool {
    !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// What the file-command writer must refuse: a name the runner would split differently from what
/// was meant (empty, `=`, `<<`, a trailing `<` that joins the `<<` after it, a line break), or a
/// value holding `\r` (kept by the runner on Linux, but refused to stay portable).
pub fn file_command_refused(name: &str, value: &str) -> bool {
    name.is_empty()
        || name.contains('=')
        || name.contains("<<")
        || name.ends_with('<')
        || name.contains(['\n', '\r'])
        || value.contains('\r')
}
