//! Unit tests of the expression parser, printer and evaluator.
use super::*;

#[test]
fn wildcards_match_as_documented() {
    assert!(wildcard_match(
        "repo:o/r:ref:refs/heads/*",
        "repo:o/r:ref:refs/heads/release/1"
    ));
    assert!(wildcard_match(
        "repo:o/r:ref:refs/heads/*",
        "repo:o/r:ref:refs/heads/"
    ));
    assert!(!wildcard_match(
        "repo:o/r:ref:refs/heads/*",
        "repo:o/r:ref:refs/tags/v1"
    ));
    assert!(wildcard_match("a-????", "a-main"));
    assert!(!wildcard_match("a-????", "a-mai"));
    assert!(!wildcard_match("a-????", "a-mains"));
    assert!(wildcard_match("*x*y", "axbxy"));
    assert!(!wildcard_match("*x*y", "axbx"));
    assert!(!wildcard_match("Repo:*", "repo:o/r"), "case-sensitive");
    assert!(wildcard_match("exact", "exact"));
    assert!(!wildcard_match("exact", "exactly"));
}

#[test]
fn parses_and_prints_the_documented_examples() {
    for text in [
        "claims['sub'] matches 'repo:contoso/contoso-repo:ref:refs/heads/*'",
        "claims['sub'] eq 'repo:contoso/contoso-repo:ref:refs/heads/main' and claims['job_workflow_ref'] matches 'foo-org/bar-repo/.github/workflows/*@refs/heads/main'",
    ] {
        let parsed = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(parsed.to_string(), text);
    }
    let two =
        parse("claims['sub'] eq 'a' and claims['job_workflow_ref'] matches 'b*'").expect("valid");
    assert_eq!(two.conditions.len(), 2);
    assert_eq!(two.conditions[1].operator, Operator::Matches);
    assert_eq!(two.subject_pattern(), Some("a"));
}

#[test]
fn refuses_everything_outside_the_grammar() {
    let cases: [(&str, ExpressionError); 12] = [
        (
            "claims['aud'] eq 'x'",
            ExpressionError::Claim("aud".to_owned()),
        ),
        (
            "claims['sub'] startswith 'x'",
            ExpressionError::Operator("startswith".to_owned()),
        ),
        (
            "claims['sub'] eq 'a' or claims['sub'] eq 'b'",
            ExpressionError::Operator("or".to_owned()),
        ),
        ("claims['sub'] eq ''", ExpressionError::Comparand(19)),
        ("claims['sub'] eq 'it''s'", ExpressionError::Comparand(19)),
        (
            "claims[\"sub\"] eq 'x'",
            ExpressionError::Syntax {
                position: 1,
                expected: "claims['NAME']",
                found: "\"claims[\\\"sub\\\"\"".to_owned(),
            },
        ),
        (
            "claims['sub']  eq 'x'",
            ExpressionError::Syntax {
                position: 15,
                expected: "eq or matches",
                found: "\" eq 'x'\"".to_owned(),
            },
        ),
        (
            "claims['sub'] eq x",
            ExpressionError::Syntax {
                position: 18,
                expected: "a comparand in single quotes",
                found: "\"x\"".to_owned(),
            },
        ),
        (
            "claims['sub'] eq 'x",
            ExpressionError::Syntax {
                position: 19,
                expected: "the closing ' of the comparand",
                found: "\"x\"".to_owned(),
            },
        ),
        (
            "claims['sub'] eq 'x' ",
            ExpressionError::Syntax {
                position: 22,
                expected: "and",
                found: "the end".to_owned(),
            },
        ),
        (
            "(claims['sub'] eq 'x')",
            ExpressionError::Syntax {
                position: 1,
                expected: "claims['NAME']",
                found: "\"(claims['sub\"".to_owned(),
            },
        ),
        (
            "",
            ExpressionError::Syntax {
                position: 1,
                expected: "claims['NAME']",
                found: "the end".to_owned(),
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(parse(text), Err(expected), "{text:?}");
    }
}

#[test]
fn checks_conditions_against_claims() {
    let expression = parse(
        "claims['sub'] matches 'repo:o/r:ref:refs/heads/release/*' and claims['job_workflow_ref'] eq 'o/d/.github/workflows/d.yml@refs/heads/main'",
    )
    .expect("valid");
    let mut claims = Map::new();
    claims.insert("sub".into(), "repo:o/r:ref:refs/heads/release/2".into());
    let checked = expression.check(&claims);
    assert!(checked[0].holds);
    assert!(!checked[1].holds, "a missing claim never holds");
    assert_eq!(checked[1].actual, None);
    claims.insert(
        "job_workflow_ref".into(),
        "o/d/.github/workflows/d.yml@refs/heads/main".into(),
    );
    assert!(expression.check(&claims).iter().all(|c| c.holds));
    claims.insert("sub".into(), "repo:o/r:ref:refs/heads/main".into());
    assert!(!expression.check(&claims)[0].holds);
}

#[test]
fn conditions_pick_their_operator() {
    assert_eq!(Condition::new("sub", "a*").operator, Operator::Matches);
    assert_eq!(Condition::new("sub", "a?").operator, Operator::Matches);
    assert_eq!(Condition::new("sub", "a").operator, Operator::Eq);
}
