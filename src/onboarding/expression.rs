//! Flexible federated identity credential expressions (Entra, preview): a strict parser and
//! evaluator for the language Entra documents, so a pattern can be checked against a token's claims
//! before it is trusted.
//!
//! The grammar, as <https://learn.microsoft.com/entra/workload-id/workload-identities-flexible-federated-identity-credentials>
//! describes it (language version 1):
//!
//! ```text
//! expression := condition (" and " condition)*
//! condition  := "claims['" claim "']" " " operator " " "'" comparand "'"
//! operator   := "eq" | "matches"          matches: `*` any run of characters, `?` one character
//! claim      := "sub" | "job_workflow_ref"  (GitHub; GitLab and Terraform Cloud allow only `sub`)
//! ```
//!
//! Anything else (other claims or operators, `or`, brackets, double quotes, extra spaces, a quote
//! inside a comparand) is refused with the position and what was expected: a credential Entra would
//! reject, or read differently, is worse than none.

use std::fmt;

use serde_json::{Map, Value};

/// The claims GitHub tokens may be matched on.
pub const CLAIMS: [&str; 2] = ["sub", "job_workflow_ref"];

/// `languageVersion` of every expression this module writes or reads.
pub const LANGUAGE_VERSION: u32 = 1;

/// How a claim is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    /// Equal, case-sensitively.
    Eq,
    /// Wildcard match: `*` any run of characters (also none), `?` exactly one.
    Matches,
}

impl Operator {
    fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Matches => "matches",
        }
    }
}

/// One `claims['NAME'] OP 'VALUE'`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// `sub` or `job_workflow_ref`.
    pub claim: String,
    /// The comparison.
    pub operator: Operator,
    /// What the claim is compared with.
    pub comparand: String,
}

impl Condition {
    /// A condition; `eq` unless `comparand` holds a wildcard.
    pub fn new(claim: &str, comparand: &str) -> Self {
        let operator = if has_wildcard(comparand) {
            Operator::Matches
        } else {
            Operator::Eq
        };
        Self {
            claim: claim.to_owned(),
            operator,
            comparand: comparand.to_owned(),
        }
    }

    /// Whether `value` satisfies this condition.
    pub fn holds(&self, value: &str) -> bool {
        match self.operator {
            Operator::Eq => value == self.comparand,
            Operator::Matches => wildcard_match(&self.comparand, value),
        }
    }
}

/// Conditions joined by `and`: all must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expression {
    /// At least one.
    pub conditions: Vec<Condition>,
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.conditions.iter().enumerate() {
            if i > 0 {
                f.write_str(" and ")?;
            }
            write!(
                f,
                "claims['{}'] {} '{}'",
                c.claim,
                c.operator.as_str(),
                c.comparand
            )?;
        }
        Ok(())
    }
}

/// Why an expression is not one Entra accepts.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExpressionError {
    /// Write each condition as `claims['sub'] matches 'PATTERN'` (or `eq`), joined by ` and `.
    #[error("at character {position}: expected {expected}, found {found}")]
    Syntax {
        /// 1-based character position.
        position: usize,
        /// What the grammar allows there.
        expected: &'static str,
        /// What is there instead.
        found: String,
    },
    /// Only `sub` and `job_workflow_ref` can be matched in GitHub tokens.
    #[error(
        "claim {0:?} cannot be matched: Entra allows only claims['sub'] and claims['job_workflow_ref'] for GitHub tokens"
    )]
    Claim(String),
    /// Only `eq` and `matches` compare claims (and `and` joins conditions; there is no `or`).
    #[error("operator {0:?} is not in Entra's language: use eq or matches, joined by and")]
    Operator(String),
    /// A comparand cannot hold a single quote (Entra reads it as an escape character) or be empty.
    #[error(
        "the comparand at character {0} is empty or holds a single quote, which Entra's language reserves"
    )]
    Comparand(usize),
}

/// Whether `text` holds a wildcard of the `matches` operator.
pub fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?'])
}

/// `*` matches any run of characters (also none), `?` exactly one; everything else itself,
/// case-sensitively.
pub fn wildcard_match(pattern: &str, value: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let value: Vec<char> = value.chars().collect();
    let (mut p, mut v) = (0, 0);
    // The last `*` seen and the value position it was tried at: backtrack there on a mismatch.
    let mut star: Option<(usize, usize)> = None;
    while v < value.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, v));
                p += 1;
            }
            Some('?') => {
                p += 1;
                v += 1;
            }
            Some(c) if *c == value[v] => {
                p += 1;
                v += 1;
            }
            _ => match star {
                Some((sp, sv)) => {
                    p = sp + 1;
                    v = sv + 1;
                    star = Some((sp, sv + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

struct Cursor {
    chars: Vec<char>,
    at: usize,
}

impl Cursor {
    fn found(&self) -> String {
        match self.chars.get(self.at) {
            None => "the end".to_owned(),
            Some(_) => {
                let rest: String = self.chars[self.at..].iter().take(12).collect();
                format!("{rest:?}")
            }
        }
    }

    fn error(&self, expected: &'static str) -> ExpressionError {
        ExpressionError::Syntax {
            position: self.at + 1,
            expected,
            found: self.found(),
        }
    }

    fn literal(&mut self, literal: &str, expected: &'static str) -> Result<(), ExpressionError> {
        let wanted: Vec<char> = literal.chars().collect();
        if self.chars[self.at..].starts_with(&wanted) {
            self.at += wanted.len();
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    /// Characters up to (not including) `stop`, consuming `stop`.
    fn until(&mut self, stop: char, expected: &'static str) -> Result<String, ExpressionError> {
        let start = self.at;
        while let Some(c) = self.chars.get(self.at) {
            if *c == stop {
                let text = self.chars[start..self.at].iter().collect();
                self.at += 1;
                return Ok(text);
            }
            self.at += 1;
        }
        self.at = start;
        Err(self.error(expected))
    }

    fn word(&mut self) -> String {
        let start = self.at;
        while self
            .chars
            .get(self.at)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect()
    }
}

/// Parses `text`, refusing anything outside Entra's documented grammar.
pub fn parse(text: &str) -> Result<Expression, ExpressionError> {
    let mut cursor = Cursor {
        chars: text.chars().collect(),
        at: 0,
    };
    let mut conditions = Vec::new();
    loop {
        cursor.literal("claims['", "claims['NAME']")?;
        let claim_at = cursor.at;
        let claim = cursor.until('\'', "a claim name closed by ']")?;
        if !CLAIMS.contains(&claim.as_str()) {
            cursor.at = claim_at;
            return Err(ExpressionError::Claim(claim));
        }
        cursor.literal("]", "] after the claim name")?;
        cursor.literal(" ", "one space before the operator")?;
        let operator_at = cursor.at;
        let operator = match cursor.word().as_str() {
            "eq" => Operator::Eq,
            "matches" => Operator::Matches,
            "" => {
                cursor.at = operator_at;
                return Err(cursor.error("eq or matches"));
            }
            other => return Err(ExpressionError::Operator(other.to_owned())),
        };
        cursor.literal(" ", "one space after the operator")?;
        cursor.literal("'", "a comparand in single quotes")?;
        let comparand_at = cursor.at;
        let comparand = cursor.until('\'', "the closing ' of the comparand")?;
        if comparand.is_empty() {
            return Err(ExpressionError::Comparand(comparand_at + 1));
        }
        // A quote right after the closing one would be an escaped quote to Entra: refuse it.
        if cursor.chars.get(cursor.at) == Some(&'\'') {
            return Err(ExpressionError::Comparand(comparand_at + 1));
        }
        conditions.push(Condition {
            claim,
            operator,
            comparand,
        });
        if cursor.at == cursor.chars.len() {
            return Ok(Expression { conditions });
        }
        cursor.literal(" ", "the end, or ' and ' before another condition")?;
        let joiner_at = cursor.at;
        match cursor.word().as_str() {
            "and" => {}
            "" => {
                cursor.at = joiner_at;
                return Err(cursor.error("and"));
            }
            other => return Err(ExpressionError::Operator(other.to_owned())),
        }
        cursor.literal(" ", "one space after and")?;
    }
}

/// One condition checked against a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// The condition.
    pub condition: Condition,
    /// The token's value of the claim, if it has one as a string.
    pub actual: Option<String>,
    /// Whether it holds.
    pub holds: bool,
}

impl Expression {
    /// Each condition checked against `claims` (a token's payload); the expression matches when
    /// every one holds.
    pub fn check(&self, claims: &Map<String, Value>) -> Vec<Checked> {
        self.conditions
            .iter()
            .map(|condition| {
                let actual = claims
                    .get(&condition.claim)
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let holds = actual.as_deref().is_some_and(|v| condition.holds(v));
                Checked {
                    condition: condition.clone(),
                    actual,
                    holds,
                }
            })
            .collect()
    }

    /// The comparand of the first `sub` condition.
    pub fn subject_pattern(&self) -> Option<&str> {
        self.conditions
            .iter()
            .find(|c| c.claim == "sub")
            .map(|c| c.comparand.as_str())
    }
}

#[cfg(test)]
mod tests;
