//! Wise webhooks: `X-Signature-SHA256` is base64 of an RSA PKCS#1 v1.5 SHA-256
//! signature over the raw body, made with Wise's private key; we check it with
//! Wise's public key (a bare SPKI "BEGIN PUBLIC KEY" PEM, not a certificate, so
//! aws-lc-rs verifies it directly). There is no timestamp in the scheme.
//!
//! The published sandbox and live keys ship in `assets/wise/`; `[wise]
//! webhook_public_key` may name either (`"sandbox"`, `"live"`), hold PEM text,
//! or be a path to a PEM file.

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use rustls_pki_types::SubjectPublicKeyInfoDer;
use rustls_pki_types::pem::PemObject;

use super::{Verified, VerifyError, decode_b64};

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Signature-SHA256";
/// Header carrying the delivery's UUID.
pub const DELIVERY_ID_HEADER: &str = "X-Delivery-Id";

/// Wise's published sandbox webhook key.
pub const SANDBOX_PUBLIC_KEY_PEM: &str = include_str!("../../assets/wise/sandbox_pub.pem");
/// Wise's published live (production) webhook key.
pub const LIVE_PUBLIC_KEY_PEM: &str = include_str!("../../assets/wise/live_pub.pem");

/// A parsed RSA public key (SPKI DER).
#[derive(Clone, PartialEq, Eq)]
pub struct WiseKey {
    spki_der: Vec<u8>,
}

impl std::fmt::Debug for WiseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WiseKey({} bytes SPKI)", self.spki_der.len())
    }
}

impl WiseKey {
    /// Parses a "BEGIN PUBLIC KEY" (SPKI) PEM and checks it is a usable RSA key.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let der = SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| format!("not a PEM \"BEGIN PUBLIC KEY\" block ({e})"))?;
        let key = Self {
            spki_der: der.as_ref().to_vec(),
        };
        // aws-lc-rs parses SPKI or PKCS#1 lazily; parse once now so a bad key is a
        // configuration error at startup rather than a 401 on every delivery.
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &key.spki_der)
            .parse()
            .map_err(|_| "not an RSA public key of 2048 to 8192 bits".to_string())?;
        Ok(key)
    }

    pub fn sandbox() -> Self {
        Self::from_pem(SANDBOX_PUBLIC_KEY_PEM)
            .unwrap_or_else(|e| unreachable!("the shipped sandbox key parses: {e}"))
    }

    pub fn live() -> Self {
        Self::from_pem(LIVE_PUBLIC_KEY_PEM)
            .unwrap_or_else(|e| unreachable!("the shipped live key parses: {e}"))
    }

    /// Resolves `[wise] webhook_public_key`: `"sandbox"`, `"live"`, PEM text, or a
    /// path to a PEM file. Empty picks by `api_base`: the live key for
    /// `api.wise.com` / `api.transferwise.com`, else the sandbox key.
    pub fn from_setting(setting: &str, api_base: &str) -> Result<Self, String> {
        let setting = setting.trim();
        match setting {
            "" => {
                let live = ["://api.wise.com", "://api.transferwise.com"]
                    .iter()
                    .any(|h| api_base.contains(h));
                Ok(if live { Self::live() } else { Self::sandbox() })
            }
            "sandbox" => Ok(Self::sandbox()),
            "live" => Ok(Self::live()),
            pem if pem.contains("-----BEGIN") => Self::from_pem(pem),
            path => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read PEM file {path}: {e}"))?;
                Self::from_pem(&text).map_err(|e| format!("{path}: {e}"))
            }
        }
    }
}

/// Checks `X-Signature-SHA256` (given as `signature`) over the raw `body`.
pub fn verify(
    body: &[u8],
    signature: Option<&str>,
    key: &WiseKey,
) -> Result<Verified, VerifyError> {
    let signature = signature.ok_or(VerifyError::MissingHeader(SIGNATURE_HEADER))?;
    let signature = decode_b64(SIGNATURE_HEADER, signature)?;
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &key.spki_der)
        .verify(body, &signature)
        .map(|()| Verified)
        .map_err(|_| VerifyError::Mismatch)
}
