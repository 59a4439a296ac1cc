//! The unverified JWT claims decoder, fed both whole tokens and arbitrary payload bytes in a
//! well-formed frame (so the JSON decoder behind base64url gets arbitrary input too). No panic.
#![no_main]

use azure_oidc_token::exchange::claims::decode_claims;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = decode_claims(text);
    }
    let token = format!("e30.{}.c2ln", URL_SAFE_NO_PAD.encode(data));
    if let Ok(claims) = decode_claims(&token) {
        let _ = claims.aud.joined();
    }
});
