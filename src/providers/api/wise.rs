//! Wise REST client (bearer API token): quotes, recipient lookup, transfer
//! creation with `customerTransactionId` (Wise's idempotency key: a repeat
//! never creates a second transfer), funding from the balance (a 200 can
//! still say `REJECTED`, so the body's status is checked), transfer status.
//!
//! Wise sends amounts as JSON numbers; they are converted through their
//! decimal text (`Money::from_major_str`), never through float arithmetic.

use std::fmt;

use reqwest::Method;
use serde_json::{Value, json};

use super::{Answer, ApiError, Body, HttpPolicy, Request, base, permanent, seg, send};
use crate::config::Secret;
use crate::domain::money::{Currency, Money};

#[derive(Debug, Clone)]
pub struct WiseApiConfig {
    /// `https://api.wise.com`, the sandbox, or a simulator.
    pub api_base: String,
    pub api_token: Secret,
    pub profile_id: String,
}

impl WiseApiConfig {
    /// From `[wise]`: an empty `api_base` means the sandbox.
    pub fn from_config(c: &crate::config::WiseConfig) -> Self {
        let api_base = match c.api_base.trim() {
            "" => "https://api.sandbox.transferwise.tech".to_string(),
            other => base(other),
        };
        Self {
            api_base,
            api_token: c.api_token.clone(),
            profile_id: c.profile_id.trim().to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// The quote UUID.
    pub id: String,
    pub raw: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: i64,
    /// E.g. `incoming_payment_waiting`, `processing`, `outgoing_payment_sent`.
    pub status: String,
    pub customer_transaction_id: Option<String>,
    pub raw: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Funding {
    /// `COMPLETED` (anything else is returned as an error).
    pub status: String,
    pub raw: Value,
}

pub struct WiseClient {
    http: reqwest::Client,
    policy: HttpPolicy,
    config: WiseApiConfig,
}

impl fmt::Debug for WiseClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WiseClient")
            .field("api_base", &self.config.api_base)
            .field("profile_id", &self.config.profile_id)
            .finish_non_exhaustive()
    }
}

/// A JSON number for an amount, written from its exact decimal text.
pub fn amount_number(m: Money) -> Value {
    m.to_major_string()
        .parse::<serde_json::Number>()
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// Reads a Wise amount (a JSON number or string) exactly.
pub fn parse_amount(v: &Value, currency: Currency) -> Option<Money> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    Money::from_major_str(&text, currency).ok()
}

impl WiseClient {
    pub fn new(config: WiseApiConfig, policy: HttpPolicy) -> Result<Self, ApiError> {
        Ok(Self {
            http: super::http_client(&policy)?,
            policy,
            config,
        })
    }

    pub fn profile_id(&self) -> &str {
        &self.config.profile_id
    }

    async fn call(
        &self,
        what: &str,
        method: Method,
        path: &str,
        body: Body,
    ) -> Result<Answer, ApiError> {
        if self.config.api_token.is_empty() {
            return Err(ApiError::permanent("[wise] api_token is not configured"));
        }
        let request = Request {
            method,
            url: format!("{}{path}", self.config.api_base),
            headers: vec![(
                "Authorization".into(),
                format!("Bearer {}", self.config.api_token.expose()),
            )],
            body,
        };
        send(&self.http, &self.policy, what, &request).await
    }

    fn profile(&self) -> Result<String, ApiError> {
        if self.config.profile_id.is_empty() {
            return Err(ApiError::permanent("[wise] profile_id is not configured"));
        }
        Ok(seg(&self.config.profile_id))
    }

    /// `POST /v3/profiles/{profileId}/quotes` for a fixed target amount paid
    /// from the balance.
    pub async fn create_quote(
        &self,
        source_currency: Currency,
        target: Money,
        target_account: Option<i64>,
    ) -> Result<Quote, ApiError> {
        let what = "Wise quote";
        let body = json!({
            "sourceCurrency": source_currency.code(),
            "targetCurrency": target.currency.code(),
            "targetAmount": amount_number(target),
            "targetAccount": target_account,
            "payOut": "BANK_TRANSFER",
            "preferredPayIn": "BALANCE",
        });
        let path = format!("/v3/profiles/{}/quotes", self.profile()?);
        let answer = self
            .call(what, Method::POST, &path, Body::Json(body))
            .await?;
        let body = ok_body(what, answer)?;
        let id = body
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::permanent(format!("{what}: the answer has no id")))?
            .to_string();
        Ok(Quote { id, raw: body })
    }

    /// `GET /v2/accounts/{id}`: the recipient, to check it exists and is active.
    pub async fn get_recipient(&self, account_id: i64) -> Result<Value, ApiError> {
        let what = "Wise recipient lookup";
        let answer = self
            .call(
                what,
                Method::GET,
                &format!("/v2/accounts/{account_id}"),
                Body::Empty,
            )
            .await?;
        ok_body(what, answer)
    }

    /// `POST /v1/transfers` with `customerTransactionId`: a repeat with the same
    /// id answers the transfer already created.
    pub async fn create_transfer(
        &self,
        target_account: i64,
        quote_uuid: &str,
        customer_transaction_id: &str,
        reference: &str,
    ) -> Result<Transfer, ApiError> {
        let what = "Wise transfer";
        let reference: String = reference
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == ' ' || *c == '-')
            .take(18)
            .collect();
        let body = json!({
            "targetAccount": target_account,
            "quoteUuid": quote_uuid,
            "customerTransactionId": customer_transaction_id,
            "details": { "reference": reference },
        });
        let answer = self
            .call(what, Method::POST, "/v1/transfers", Body::Json(body))
            .await?;
        transfer(what, ok_body(what, answer)?)
    }

    /// `POST /v3/profiles/{profileId}/transfers/{id}/payments {"type":"BALANCE"}`.
    /// A `REJECTED` (or any non-`COMPLETED`) status is a permanent error even on 200.
    pub async fn fund_transfer(&self, transfer_id: i64) -> Result<Funding, ApiError> {
        let what = "Wise funding";
        let path = format!(
            "/v3/profiles/{}/transfers/{transfer_id}/payments",
            self.profile()?
        );
        let answer = self
            .call(
                what,
                Method::POST,
                &path,
                Body::Json(json!({ "type": "BALANCE" })),
            )
            .await?;
        let body = ok_body(what, answer)?;
        let status = body
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if status != "COMPLETED" {
            let code = body
                .get("errorCode")
                .and_then(Value::as_str)
                .unwrap_or("no errorCode");
            return Err(ApiError::Permanent {
                status: Some(200),
                message: format!(
                    "{what}: transfer {transfer_id} {} ({code})",
                    if status.is_empty() {
                        "not funded"
                    } else {
                        status.as_str()
                    }
                ),
            });
        }
        Ok(Funding { status, raw: body })
    }

    /// `GET /v1/transfers/{id}`.
    pub async fn get_transfer(&self, transfer_id: i64) -> Result<Transfer, ApiError> {
        let what = "Wise transfer lookup";
        let answer = self
            .call(
                what,
                Method::GET,
                &format!("/v1/transfers/{}", seg(&transfer_id.to_string())),
                Body::Empty,
            )
            .await?;
        transfer(what, ok_body(what, answer)?)
    }
}

fn ok_body(what: &str, answer: Answer) -> Result<Value, ApiError> {
    if answer.status.is_success() {
        Ok(answer.body)
    } else {
        Err(permanent(what, &answer))
    }
}

fn transfer(what: &str, body: Value) -> Result<Transfer, ApiError> {
    let id = body
        .get("id")
        .and_then(Value::as_i64)
        .ok_or_else(|| ApiError::permanent(format!("{what}: the answer has no numeric id")))?;
    let status = body
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::permanent(format!("{what}: the answer has no status")))?
        .to_string();
    Ok(Transfer {
        id,
        status,
        customer_transaction_id: body
            .get("customerTransactionId")
            .and_then(Value::as_str)
            .map(str::to_string),
        raw: body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_go_through_decimal_text() {
        let usd = Currency::parse("USD");
        let m = usd.map(|c| Money::new(1230, c));
        assert_eq!(m.map(amount_number), Some(json!(12.3)));
        let back = usd.and_then(|c| parse_amount(&json!(12.3), c));
        assert_eq!(back.map(|m| m.minor), Some(1230));
        let big = usd.and_then(|c| parse_amount(&json!(123456789.07), c));
        assert_eq!(big.map(|m| m.minor), Some(12_345_678_907));
    }
}
