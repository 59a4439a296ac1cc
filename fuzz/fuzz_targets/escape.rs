//! The workflow-command escaper against the runner's unescaping (`tests/support/runner_rules.rs`):
//! round trips, one line, and the `::error`/`::add-mask::` lines read back exactly.
#![no_main]

#[allow(dead_code)]
#[path = "../../tests/support/runner_rules.rs"]
mod runner_rules;

use azure_oidc_token::action::workflow::{self, escape_data, escape_property};
use azure_oidc_token::secret::Secret;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|value: &str| {
    let data = escape_data(value);
    assert!(!data.contains(['\r', '\n']));
    assert_eq!(runner_rules::unescape_data(&data), value);

    let property = escape_property(value);
    assert!(!property.contains(['\r', '\n', ':', ',']));
    assert_eq!(runner_rules::unescape_property(&property), value);

    let mut out = Vec::new();
    workflow::error(&mut out, "azure-oidc-token", value).expect("write to a Vec");
    let line = String::from_utf8(out).expect("UTF-8 in, UTF-8 out");
    assert_eq!(line.matches('\n').count(), 1);
    let command = runner_rules::parse_command(line.trim_end_matches('\n')).expect("a command");
    assert_eq!(command.name, "error");
    assert_eq!(command.properties, vec![("title".to_owned(), "azure-oidc-token".to_owned())]);
    assert_eq!(command.data, value);

    let mut out = Vec::new();
    workflow::add_mask(&mut out, &Secret::new(value.to_owned())).expect("write to a Vec");
    let line = String::from_utf8(out).expect("UTF-8 in, UTF-8 out");
    assert_eq!(line.matches('\n').count(), 1);
    let command = runner_rules::parse_command(line.trim_end_matches('\n')).expect("a command");
    assert_eq!(command.name, "add-mask");
    assert_eq!(command.data, value);
});
