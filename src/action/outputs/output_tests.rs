//! Unit tests of what later steps receive: the step outputs and exported variables as written to
//! real `GITHUB_OUTPUT`/`GITHUB_ENV` files and read back by the runner's rule (`NAME<<DELIMITER`,
//! value lines, `DELIMITER`), and the audit summary.

use std::collections::HashMap;

use super::*;
use crate::exchange::claims::Audience;

const CLIENT: &str = "11111111-2222-4333-8444-555555555555";
const TENANT: &str = "00000000-0000-4000-8000-0000000000aa";
const SUBSCRIPTION: &str = "33333333-4444-4555-8666-777777777777";

fn config(dir: &Path, pairs: &[(&str, &str)]) -> ActionConfig {
    let output = dir.join("output").display().to_string();
    let env = dir.join("env").display().to_string();
    let mut map: HashMap<String, String> = [
        ("INPUT_CLIENT-ID", CLIENT),
        ("INPUT_TENANT-ID", TENANT),
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "https://example.test/idtoken?api-version=2.0",
        ),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token"),
        ("GITHUB_OUTPUT", output.as_str()),
        ("GITHUB_ENV", env.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in pairs {
        map.insert((*k).to_owned(), (*v).to_owned());
    }
    ActionConfig::from_lookup(&|name| map.get(name).cloned()).expect("valid inputs")
}

fn token(value: &str, expires_on: i64) -> AccessToken {
    AccessToken {
        token: Secret::new(value.to_owned()),
        expires_on,
    }
}

fn named(name: &str, scope: &str) -> NamedScope {
    NamedScope {
        name: name.to_owned(),
        scope: scope.to_owned(),
    }
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

/// A file of file commands read back as the runner reads it.
fn read_back(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).expect("read");
    let mut lines = text.split('\n');
    let mut pairs = Vec::new();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let (name, delimiter) = line.split_once("<<").expect("NAME<<DELIMITER");
        let mut value = Vec::new();
        for line in lines.by_ref() {
            if line == delimiter {
                break;
            }
            value.push(line);
        }
        pairs.push((name.to_owned(), value.join("\n")));
    }
    pairs
}

#[test]
fn outputs_are_listed_in_order_with_the_optional_ones_when_known() {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = token("header.payload.signature", 1_764_880_000);
    let plain = config(dir.path(), &[]);
    let issued = Issued {
        token: &main,
        principal_id: None,
        extra: &[],
    };
    assert_eq!(
        output_pairs(&plain, &issued),
        owned(&[
            ("access-token", "header.payload.signature"),
            ("token-type", "Bearer"),
            ("expires-on", "1764880000"),
            ("expires-at", "2025-12-04T20:26:40Z"),
            ("tenant-id", TENANT),
            ("client-id", CLIENT),
        ])
    );
    let full = config(dir.path(), &[("INPUT_SUBSCRIPTION-ID", SUBSCRIPTION)]);
    let extra = [
        (
            named("vault", "https://vault.azure.net/.default"),
            token("v.v.v", 7),
        ),
        (
            named("graph", "https://graph.microsoft.com/.default"),
            token("g.g.g", 8),
        ),
    ];
    let issued = Issued {
        token: &main,
        principal_id: Some("99999999-8888-4777-8666-555555555555"),
        extra: &extra,
    };
    let pairs = output_pairs(&full, &issued);
    assert_eq!(
        pairs[6..],
        owned(&[
            ("subscription-id", SUBSCRIPTION),
            ("principal-id", "99999999-8888-4777-8666-555555555555"),
            ("vault-access-token", "v.v.v"),
            ("vault-expires-on", "7"),
            ("graph-access-token", "g.g.g"),
            ("graph-expires-on", "8"),
        ])
    );
}

#[test]
fn sdk_variables_follow_the_cloud_and_the_subscription() {
    let dir = tempfile::tempdir().expect("tempdir");
    let public = config(dir.path(), &[("INPUT_SUBSCRIPTION-ID", SUBSCRIPTION)]);
    assert_eq!(
        sdk_env_pairs(&public),
        [
            ("AZURE_CLIENT_ID", CLIENT.to_owned()),
            ("AZURE_TENANT_ID", TENANT.to_owned()),
            ("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION.to_owned()),
            (
                "AZURE_AUTHORITY_HOST",
                "https://login.microsoftonline.com".to_owned()
            ),
            ("ARM_USE_OIDC", "true".to_owned()),
            ("ARM_CLIENT_ID", CLIENT.to_owned()),
            ("ARM_TENANT_ID", TENANT.to_owned()),
            ("ARM_SUBSCRIPTION_ID", SUBSCRIPTION.to_owned()),
            ("ARM_ENVIRONMENT", "public".to_owned()),
        ]
    );
    for (cloud, authority, environment) in [
        (
            "AzureUSGovernment",
            "https://login.microsoftonline.us",
            "usgovernment",
        ),
        ("AzureChinaCloud", "https://login.chinacloudapi.cn", "china"),
    ] {
        let sovereign = config(dir.path(), &[("INPUT_ENVIRONMENT", cloud)]);
        let pairs = sdk_env_pairs(&sovereign);
        let names: Vec<&str> = pairs.iter().map(|(n, _)| *n).collect();
        assert!(
            !names.iter().any(|n| n.ends_with("SUBSCRIPTION_ID")),
            "{names:?}"
        );
        assert_eq!(pairs.len(), 7);
        assert!(
            pairs.contains(&("AZURE_AUTHORITY_HOST", authority.to_owned())),
            "{pairs:?}"
        );
        assert_eq!(
            pairs.last(),
            Some(&("ARM_ENVIRONMENT", environment.to_owned()))
        );
    }
}

#[test]
fn outputs_and_exports_reach_their_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = token("a.b.c", 1_764_880_000);
    let issued = Issued {
        token: &main,
        principal_id: None,
        extra: &[],
    };
    // Neither export: GITHUB_ENV is not even created.
    let plain = config(dir.path(), &[]);
    write_outputs(&plain, &plain.files, &issued).expect("written");
    assert_eq!(
        read_back(&plain.files.output),
        output_pairs(&plain, &issued)
    );
    let env = plain.files.env.clone().expect("GITHUB_ENV");
    assert!(!env.exists());

    // Both exports: the token under its name, then the SDK settings; outputs appended after the
    // first run's.
    let both = config(
        dir.path(),
        &[
            ("INPUT_EXPORT-ENV", "AZURE_ACCESS_TOKEN"),
            ("INPUT_EXPORT-SDK-ENV", "true"),
        ],
    );
    write_outputs(&both, &both.files, &issued).expect("written");
    let mut expected = sdk_env_pairs(&both)
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v))
        .collect::<Vec<_>>();
    expected.insert(0, ("AZURE_ACCESS_TOKEN".to_owned(), "a.b.c".to_owned()));
    assert_eq!(read_back(&env), expected);
    assert_eq!(read_back(&both.files.output).len(), 12);

    // Only the token.
    std::fs::remove_file(&env).expect("remove");
    let token_only = config(dir.path(), &[("INPUT_EXPORT-ENV", "TOKEN")]);
    write_outputs(&token_only, &token_only.files, &issued).expect("written");
    assert_eq!(read_back(&env), owned(&[("TOKEN", "a.b.c")]));
}

#[test]
fn an_unwritable_file_is_named_and_nothing_is_left_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = token("a.b.c", 1);
    let issued = Issued {
        token: &main,
        principal_id: None,
        extra: &[],
    };
    let config = config(dir.path(), &[("INPUT_EXPORT-ENV", "TOKEN")]);
    let files = Files {
        output: config.files.output.clone(),
        env: Some(PathBuf::from("/dev/full")),
        step_summary: None,
    };
    let error = write_outputs(&config, &files, &issued).expect_err("disk full");
    assert!(
        matches!(&error, OutputError::Write { variable: "GITHUB_ENV", path, .. } if path == "/dev/full"),
        "{error:?}"
    );
    assert_eq!(std::fs::read_to_string(&files.output).expect("read"), "");
    let missing = Files {
        output: dir.path().join("no-such-dir").join("output"),
        env: None,
        step_summary: None,
    };
    let error = write_outputs(&config, &missing, &issued).expect_err("no directory");
    assert!(
        error.to_string().starts_with(&format!(
            "cannot append to GITHUB_OUTPUT ({}): ",
            missing.output.display()
        )),
        "{error}"
    );
    // A value the runner could not read back is refused before anything is written.
    let bad = [(named("x", "https://x/.default"), token("a\rb", 1))];
    let issued = Issued {
        token: &main,
        principal_id: None,
        extra: &bad,
    };
    assert!(matches!(
        write_outputs(&config, &config.files, &issued),
        Err(OutputError::Format(_))
    ));
    assert_eq!(
        std::fs::read_to_string(&config.files.output).expect("read"),
        ""
    );
}

#[test]
fn the_summary_is_a_table_of_who_for_what_until_when() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), &[("INPUT_SUBSCRIPTION-ID", SUBSCRIPTION)]);
    let main = token("secret.access.token", 1_764_880_000);
    let extra = [(
        named("vault", "https://vault.azure.net/.default"),
        token("v.v.v", 1_764_883_600),
    )];
    let issued = Issued {
        token: &main,
        principal_id: Some("99999999-8888-4777-8666-555555555555"),
        extra: &extra,
    };
    let claims = Claims {
        iss: Some("https://token.actions.githubusercontent.com".to_owned()),
        sub: Some("repo:octo-org/octo-repo:environment:a|b\nc".to_owned()),
        aud: Audience::One("api://AzureADTokenExchange".to_owned()),
        ..Claims::default()
    };
    let markdown = summary_markdown(&config, &claims, &issued);
    assert_eq!(
        markdown,
        format!(
            "### Azure access token issued\n\n| | |\n| --- | --- |\n\
| Tenant | `{TENANT}` |\n\
| Client ID | `{CLIENT}` |\n\
| Subscription | `{SUBSCRIPTION}` |\n\
| Principal (oid) | `99999999-8888-4777-8666-555555555555` |\n\
| Also issued | `vault: https://vault.azure.net/.default until 2025-12-04T21:26:40Z` |\n\
| Cloud | `AzureCloud` |\n\
| Scope | `https://management.azure.com/.default` |\n\
| Issuer presented | `https://token.actions.githubusercontent.com` |\n\
| Subject presented | `repo:octo-org/octo-repo:environment:a\\|b c` |\n\
| Audience presented | `api://AzureADTokenExchange` |\n\
| Token expires | `2025-12-04T20:26:40Z` |\n\
\nThe token itself is masked and only available to later steps of this job.\n\n"
        )
    );
    assert!(!markdown.contains("secret.access.token") && !markdown.contains("v.v.v"));

    let path = dir.path().join("summary");
    std::fs::write(&path, "earlier\n").expect("seed");
    write_summary(&path, &markdown).expect("appended");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        format!("earlier\n{markdown}")
    );
    assert!(write_summary(&dir.path().join("no-such-dir").join("s"), &markdown).is_err());
}
