//! The `GITHUB_OUTPUT`/`GITHUB_ENV` writer against the runner's parser
//! (`tests/support/runner_rules.rs`): what is read back equals what was written, or the writer
//! refuses, exactly in the cases `tests/support/grammar.rs` lists.
#![no_main]

#[allow(dead_code)]
#[path = "../../tests/support/grammar.rs"]
mod grammar;
#[allow(dead_code)]
#[path = "../../tests/support/runner_rules.rs"]
mod runner_rules;

use azure_oidc_token::action::workflow::{format_file_command, format_file_commands};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|pairs: Vec<(String, String)>| {
    for (name, value) in &pairs {
        match format_file_command(name, value) {
            Ok(text) => {
                assert!(!grammar::file_command_refused(name, value), "{name:?} = {value:?}");
                assert_eq!(
                    runner_rules::parse_file_commands(&text),
                    Ok(vec![(name.clone(), value.clone())])
                );
            }
            Err(_) => assert!(grammar::file_command_refused(name, value), "{name:?} = {value:?}"),
        }
    }
    let refs = pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    match format_file_commands(refs) {
        Ok(text) => {
            let earlier = "earlier=1\n";
            let file = format!("{earlier}{}", text.expose_secret());
            let mut expected = vec![("earlier".to_owned(), "1".to_owned())];
            expected.extend(pairs.iter().cloned());
            assert_eq!(runner_rules::parse_file_commands(&file), Ok(expected));
        }
        Err(_) => assert!(pairs.iter().any(|(n, v)| grammar::file_command_refused(n, v))),
    }
});
