//! RS256 JSON Web Tokens: the process-wide signing key, signing, decoding, verification and the JWKS.

use std::io;
use std::sync::{Mutex, OnceLock, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ring::rand::SystemRandom;
use ring::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents,
};
use rsa::pkcs8::EncodePrivateKey as _;
use rsa::rand_core::OsRng;
use rsa::sha2::{Digest as _, Sha256};
use rsa::traits::PublicKeyParts as _;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Map, Value, json};

/// base64url without padding on output; padding tolerated on input.
const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// base64url (no padding) of `bytes`.
pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The RSA-2048 key that signs every token of this process, with its JWK identifiers.
///
/// `rsa` generates the key (ring cannot); ring signs and verifies with it, because `rsa`'s
/// big-number arithmetic takes about 10 ms per signature, which every exchange pays twice: a
/// benchmark of clients against the emulator would mostly measure the emulator.
pub(crate) struct Keys {
    signing: RsaKeyPair,
    rng: SystemRandom,
    /// Big-endian modulus and exponent, for verification and the JWKS.
    n: Vec<u8>,
    e: Vec<u8>,
    /// `kid` of the key (upper-case hex SHA-256 prefix of the modulus and exponent, like GitHub's).
    pub(crate) kid: String,
    /// `x5t`-style base64url thumbprint (the same digest prefix).
    pub(crate) x5t: String,
}

static KEYS: OnceLock<Keys> = OnceLock::new();
static KEYGEN: Mutex<()> = Mutex::new(());

/// The process-wide key, generated on first use (RSA key generation is slow: do it once).
pub(crate) fn keys() -> io::Result<&'static Keys> {
    if let Some(k) = KEYS.get() {
        return Ok(k);
    }
    // Serialise generation so that parallel tests don't all generate a key.
    let _guard = KEYGEN.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(k) = KEYS.get() {
        return Ok(k);
    }
    let private = RsaPrivateKey::new(&mut OsRng, 2048).map_err(io::Error::other)?;
    let pkcs8 = private.to_pkcs8_der().map_err(io::Error::other)?;
    let signing = RsaKeyPair::from_pkcs8(pkcs8.as_bytes())
        .map_err(|e| io::Error::other(format!("ring rejected the generated key: {e}")))?;
    let public = RsaPublicKey::from(&private);
    let (n, e) = (public.n().to_bytes_be(), public.e().to_bytes_be());
    let mut digest = Sha256::new();
    digest.update(&n);
    digest.update(&e);
    let digest = digest.finalize();
    let thumb = digest.get(..20).unwrap_or(&digest[..]);
    let kid = thumb.iter().map(|b| format!("{b:02X}")).collect::<String>();
    let keys = Keys {
        signing,
        rng: SystemRandom::new(),
        x5t: b64(thumb),
        kid,
        n,
        e,
    };
    Ok(KEYS.get_or_init(|| keys))
}

impl Keys {
    /// Signs `claims` as a compact RS256 JWS with the standard header (`typ`, `alg`, `x5t`, `kid`).
    pub(crate) fn sign(&self, claims: &Map<String, Value>) -> String {
        let header = json!({"typ": "JWT", "alg": "RS256", "x5t": self.x5t, "kid": self.kid});
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(Value::Object(claims.clone()).to_string().as_bytes())
        );
        let mut signature = vec![0; self.signing.public().modulus_len()];
        // Fails only if the system RNG (used for blinding) fails; an unsigned token then fails verification.
        let _ = self.signing.sign(
            &RSA_PKCS1_SHA256,
            &self.rng,
            input.as_bytes(),
            &mut signature,
        );
        format!("{input}.{}", b64(&signature))
    }

    /// Checks an RS256 signature made by this key; `Err` carries Entra's reason text.
    pub(crate) fn verify(&self, jws: &Decoded) -> Result<(), &'static str> {
        if jws.header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return Err("The token's signing algorithm is not supported; only RS256 is.");
        }
        if jws.header.get("kid").and_then(Value::as_str) != Some(self.kid.as_str()) {
            return Err("The key was not found.");
        }
        RsaPublicKeyComponents {
            n: &self.n,
            e: &self.e,
        }
        .verify(
            &RSA_PKCS1_2048_8192_SHA256,
            jws.signing_input.as_bytes(),
            &jws.signature,
        )
        .map_err(|_| "The signature is invalid.")
    }

    /// The JWKS document listing this key.
    pub(crate) fn jwks(&self) -> Value {
        json!({"keys": [{
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.x5t,
            "n": b64(&self.n),
            "e": b64(&self.e),
        }]})
    }
}

/// A compact JWS split into its decoded parts (nothing verified yet).
pub(crate) struct Decoded {
    pub(crate) header: Map<String, Value>,
    pub(crate) claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

/// Decodes `header.payload.signature`; `None` when it is not a well-formed JWS with JSON-object parts.
pub(crate) fn decode(token: &str) -> Option<Decoded> {
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || h.is_empty() || p.is_empty() {
        return None;
    }
    let object = |part: &str| -> Option<Map<String, Value>> {
        let bytes = B64_LENIENT.decode(part).ok()?;
        match serde_json::from_slice(&bytes).ok()? {
            Value::Object(m) => Some(m),
            _ => None,
        }
    };
    Some(Decoded {
        header: object(h)?,
        claims: object(p)?,
        signing_input: format!("{h}.{p}"),
        signature: B64_LENIENT.decode(s).ok()?,
    })
}

/// A random base64url string from `n` UUIDs' worth of bytes (`uti`, `aio`, ...).
pub(crate) fn random_id(n: usize) -> String {
    let bytes: Vec<u8> = (0..n)
        .flat_map(|_| uuid::Uuid::new_v4().into_bytes())
        .collect();
    b64(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_decode_verify() -> io::Result<()> {
        let keys = keys()?;
        let mut claims = Map::new();
        claims.insert("sub".into(), json!("x"));
        let token = keys.sign(&claims);
        let decoded = decode(&token).ok_or_else(|| io::Error::other("decode"))?;
        assert_eq!(decoded.claims.get("sub"), Some(&json!("x")));
        assert_eq!(keys.verify(&decoded), Ok(()));

        // Tamper with the payload: the signature no longer matches.
        let mut parts: Vec<&str> = token.split('.').collect();
        let other = b64(br#"{"sub":"y"}"#);
        parts[1] = &other;
        let tampered = decode(&parts.join(".")).ok_or_else(|| io::Error::other("decode"))?;
        assert_eq!(keys.verify(&tampered), Err("The signature is invalid."));

        assert!(decode("a.b").is_none());
        assert!(decode("!!.??.x").is_none());
        assert!(decode("").is_none());
        Ok(())
    }
}
