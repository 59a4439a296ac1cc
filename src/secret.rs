//! Secret strings: the request token, the GitHub ID token and the Azure access token.
//!
//! A [`Secret`] has no `Display`, its `Debug` prints nothing of the value, its buffer is zeroed on
//! drop, and the only way to read it is the loudly named [`Secret::expose_secret`].

use std::fmt;

use zeroize::Zeroizing;

/// A string that must never reach a log line.
///
/// It has no `Display`, so it cannot be formatted into a message by accident (this doc test
/// proves it at compile time):
///
/// ```compile_fail
/// let secret = azure_oidc_token::secret::Secret::new("token".to_owned());
/// let _ = format!("{secret}");
/// ```
///
/// Its `Debug` shows nothing of the value:
///
/// ```
/// let secret = azure_oidc_token::secret::Secret::new("token".to_owned());
/// assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps `value`; the original allocation moves in, so no unzeroed copy stays behind.
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret itself. Every call site is a place where the value leaves this type: keep them few.
    pub fn expose_secret(&self) -> &str {
        self.0.as_str()
    }

    /// Length in bytes; safe to log.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("eyJhbGciOi.super.secret".to_owned());
        let shown = format!("{secret:?} {:?}", Some(&secret));
        assert!(!shown.contains("super"), "{shown}");
        assert_eq!(secret.expose_secret(), "eyJhbGciOi.super.secret");
        assert_eq!(secret.len(), 23);
    }
}
