//! Dispute evidence: which of the runbook's seven items a dispute's reason
//! needs, each item's status, the states the evidence moves a dispute
//! through, the text of the evidence pack and PayPal's provide-evidence
//! `input`. Pure: the store gathers the facts (`store::disputes::gather`).

use serde::Serialize;
use serde_json::{Value, json};

use super::disputes::{DisputeState, EVIDENCE_ITEMS};

/// An evidence item's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    Collected,
    Missing,
    NotApplicable,
}

impl ItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Collected => "collected",
            Self::Missing => "missing",
            Self::NotApplicable => "not_applicable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Collected, Self::Missing, Self::NotApplicable]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// The label of an item key ("shipping_tracking" → "Shipping tracking number").
pub fn label(item: &str) -> &'static str {
    EVIDENCE_ITEMS
        .iter()
        .find(|(k, _)| *k == item)
        .map_or("Unknown item", |(_, l)| l)
}

/// An item key from what an operator typed: its key, or its number 1-7.
pub fn parse_item(s: &str) -> Option<&'static str> {
    let s = s.trim();
    if let Ok(n) = s.parse::<usize>() {
        return EVIDENCE_ITEMS.get(n.checked_sub(1)?).map(|(k, _)| *k);
    }
    let s = s.to_ascii_lowercase().replace('-', "_");
    EVIDENCE_ITEMS
        .iter()
        .find(|(k, _)| *k == s)
        .map(|(k, _)| *k)
}

/// The items a dispute of this reason cannot be answered without. The
/// others are gathered when the data has them and otherwise not applicable.
pub fn required(reason: &str) -> &'static [&'static str] {
    match reason {
        "MERCHANDISE_OR_SERVICE_NOT_RECEIVED" => &[
            "order_confirmation",
            "shipping_tracking",
            "delivery_confirmation",
            "refund_policy",
            "terms_of_service",
        ],
        "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED" => &[
            "order_confirmation",
            "product_description",
            "customer_communication",
            "refund_policy",
            "terms_of_service",
        ],
        "UNAUTHORISED" => &[
            "order_confirmation",
            "shipping_tracking",
            "delivery_confirmation",
            "terms_of_service",
        ],
        "DUPLICATE_TRANSACTION" | "CREDIT_NOT_PROCESSED" | "INCORRECT_AMOUNT" => &[
            "order_confirmation",
            "customer_communication",
            "refund_policy",
            "terms_of_service",
        ],
        _ => &["order_confirmation", "refund_policy", "terms_of_service"],
    }
}

pub fn is_required(reason: &str, item: &str) -> bool {
    required(reason).contains(&item)
}

/// The required items still missing, by label.
pub fn missing_required(reason: &str, items: &[(&str, ItemStatus)]) -> Vec<&'static str> {
    required(reason)
        .iter()
        .filter(|k| {
            items
                .iter()
                .find(|(i, _)| i == *k)
                .is_none_or(|(_, s)| *s == ItemStatus::Missing)
        })
        .map(|k| label(k))
        .collect()
}

/// The states the evidence moves a dispute through from `state`, in order,
/// each a legal forward step: EVIDENCE_REQUIRED → EVIDENCE_BUILDING once an
/// item is collected, → EVIDENCE_READY once no required item is missing.
/// Empty when the evidence changes nothing (an OPEN dispute waits for PayPal
/// to ask; a submitted or decided one is past evidence).
pub fn advance(
    state: DisputeState,
    reason: &str,
    items: &[(&str, ItemStatus)],
) -> Vec<DisputeState> {
    let mut steps = Vec::new();
    let mut at = state;
    if at == DisputeState::EvidenceRequired
        && items.iter().any(|(_, s)| *s == ItemStatus::Collected)
    {
        at = DisputeState::EvidenceBuilding;
        steps.push(at);
    }
    if at == DisputeState::EvidenceBuilding && missing_required(reason, items).is_empty() {
        steps.push(DisputeState::EvidenceReady);
    }
    steps
}

/// One item as the pack and PayPal see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub key: String,
    pub status: ItemStatus,
    pub source: Option<String>,
    /// What was gathered, line by line.
    pub lines: Vec<String>,
    pub note: Option<String>,
    pub file_name: Option<String>,
}

/// The case, for the pack's first page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub paypal_dispute_id: String,
    pub order_number: Option<String>,
    pub reason: String,
    pub stage: Option<String>,
    pub amount: String,
    pub opened: String,
    pub deadline: String,
    pub customer: Option<String>,
    pub creator: Option<String>,
    /// Carrier and tracking number, for PayPal's tracking_info.
    pub tracking: Option<(String, String)>,
}

/// The pack's text: the case, then each of the seven items in the runbook's
/// order with its status and source. The PDF is this text, page by page.
pub fn pack_text(case: &Case, items: &[Item]) -> Vec<String> {
    let mut out = vec![
        format!("Dispute evidence pack: {}", case.paypal_dispute_id),
        String::new(),
        format!(
            "Order: {}",
            case.order_number
                .as_deref()
                .unwrap_or("(no order on record)")
        ),
        format!("Reason: {}", case.reason),
        format!("Stage: {}", case.stage.as_deref().unwrap_or("-")),
        format!("Amount disputed: {}", case.amount),
        format!("Opened: {}", case.opened),
        format!("Respond by: {}", case.deadline),
    ];
    if let Some(c) = &case.customer {
        out.push(format!("Customer: {c}"));
    }
    if let Some(c) = &case.creator {
        out.push(format!("Seller (creator): {c}"));
    }
    let collected = items
        .iter()
        .filter(|i| i.status == ItemStatus::Collected)
        .count();
    out.push(format!(
        "Evidence: {collected} of {} items collected",
        EVIDENCE_ITEMS.len()
    ));
    for (n, (key, label)) in EVIDENCE_ITEMS.iter().enumerate() {
        out.push(String::new());
        let item = items.iter().find(|i| i.key == *key);
        let status = item.map_or(ItemStatus::Missing, |i| i.status);
        out.push(format!("{}. {label}: {}", n + 1, status.as_str()));
        if let Some(i) = item {
            if let Some(s) = &i.source {
                out.push(format!("   Source: {s}"));
            }
            out.extend(i.lines.iter().map(|l| format!("   {l}")));
            if let Some(note) = &i.note {
                out.push(format!("   Note: {note}"));
            }
            if let Some(f) = &i.file_name {
                out.push(format!("   Attached file: {f}"));
            }
        }
    }
    out
}

/// PayPal's carrier name for ours: one of its enum values, or OTHER with
/// the name in `carrier_name_other`.
pub fn carrier(name: &str) -> (&'static str, Option<String>) {
    match name.trim().to_ascii_uppercase().as_str() {
        "UPS" => ("UPS", None),
        "USPS" => ("USPS", None),
        "FEDEX" | "FED EX" => ("FEDEX", None),
        "DHL" => ("DHL", None),
        _ => ("OTHER", Some(name.trim().to_string())),
    }
}

/// PayPal allows 2000 characters of notes per evidence.
const NOTES_MAX: usize = 2000;

fn notes(items: &[&Item]) -> String {
    let mut text = String::new();
    for i in items {
        if i.status != ItemStatus::Collected {
            continue;
        }
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(label(&i.key));
        text.push_str(": ");
        text.push_str(&i.lines.join("; "));
        if let Some(n) = &i.note {
            text.push_str(" Note: ");
            text.push_str(n);
        }
    }
    text.chars().take(NOTES_MAX).collect()
}

/// The `input` part of provide-evidence: one evidence per PayPal type that
/// the collected items support, with tracking info on the proof of
/// fulfilment and the pack named as the document.
pub fn paypal_input(case: &Case, items: &[Item], pack_name: &str) -> Value {
    let by = |keys: &[&str]| -> Vec<&Item> {
        items
            .iter()
            .filter(|i| keys.contains(&i.key.as_str()) && i.status == ItemStatus::Collected)
            .collect()
    };
    let doc = json!([{ "name": pack_name }]);
    let mut evidences = Vec::new();
    let fulfilment = by(&["shipping_tracking", "delivery_confirmation"]);
    if !fulfilment.is_empty() {
        let mut e = json!({
            "evidence_type": "PROOF_OF_FULFILLMENT",
            "notes": notes(&fulfilment),
            "documents": doc,
        });
        if let Some((name, number)) = &case.tracking {
            let (carrier_name, other) = carrier(name);
            let mut t = json!({ "carrier_name": carrier_name, "tracking_number": number });
            if let Some(o) = other {
                t["carrier_name_other"] = json!(o);
            }
            e["evidence_info"] = json!({ "tracking_info": [t] });
        }
        evidences.push(e);
    }
    for (ty, keys) in [
        ("PROOF_OF_RECEIPT_COPY", &["order_confirmation"][..]),
        ("ITEM_DESCRIPTION", &["product_description"][..]),
        ("RETURN_POLICY", &["refund_policy", "terms_of_service"][..]),
        ("OTHER", &["customer_communication"][..]),
    ] {
        let these = by(keys);
        if !these.is_empty() {
            evidences
                .push(json!({ "evidence_type": ty, "notes": notes(&these), "documents": doc }));
        }
    }
    json!({ "evidences": evidences })
}

#[cfg(test)]
mod tests {
    use super::*;
    use DisputeState::*;
    use ItemStatus::*;

    fn all(status: ItemStatus) -> Vec<(&'static str, ItemStatus)> {
        EVIDENCE_ITEMS.iter().map(|(k, _)| (*k, status)).collect()
    }

    #[test]
    fn items_parse_by_number_or_key() {
        assert_eq!(parse_item("2"), Some("shipping_tracking"));
        assert_eq!(parse_item("refund-policy"), Some("refund_policy"));
        assert_eq!(parse_item("0"), None);
        assert_eq!(parse_item("8"), None);
        assert_eq!(parse_item("photos"), None);
        for s in [Collected, Missing, NotApplicable] {
            assert_eq!(ItemStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn evidence_moves_forward_one_legal_step_at_a_time() {
        let reason = "MERCHANDISE_OR_SERVICE_NOT_RECEIVED";
        assert!(advance(EvidenceRequired, reason, &all(Missing)).is_empty());
        assert_eq!(
            advance(EvidenceRequired, reason, &all(Collected)),
            vec![EvidenceBuilding, EvidenceReady]
        );
        let mut some = all(Missing);
        some[0].1 = Collected;
        assert_eq!(
            advance(EvidenceRequired, reason, &some),
            vec![EvidenceBuilding]
        );
        // Not yet asked for, or past evidence: nothing moves.
        for s in [Open, EvidenceReady, Submitted, Won, Lost, Closed] {
            assert!(advance(s, reason, &all(Collected)).is_empty());
        }
        // Each step is legal from the one before.
        let mut at = EvidenceRequired;
        for next in advance(at, reason, &all(Collected)) {
            assert!(at.can_move_to(next));
            at = next;
        }
    }

    #[test]
    fn ready_needs_every_required_item_not_missing() {
        let reason = "MERCHANDISE_OR_SERVICE_NOT_RECEIVED";
        let mut items = all(Collected);
        items[2].1 = Missing; // delivery confirmation
        assert_eq!(
            missing_required(reason, &items),
            vec!["Delivery confirmation"]
        );
        assert!(advance(EvidenceBuilding, reason, &items).is_empty());
        items[2].1 = NotApplicable; // an operator said why
        assert_eq!(
            advance(EvidenceBuilding, reason, &items),
            vec![EvidenceReady]
        );
        // A not-as-described case does not need tracking.
        let mut items = all(Collected);
        items[1].1 = Missing;
        assert!(missing_required("MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED", &items).is_empty());
    }

    fn item(key: &str, lines: &[&str]) -> Item {
        Item {
            key: key.into(),
            status: Collected,
            source: Some(format!("source of {key}")),
            lines: lines.iter().map(|s| s.to_string()).collect(),
            note: None,
            file_name: None,
        }
    }

    fn case() -> Case {
        Case {
            paypal_dispute_id: "PP-D-1".into(),
            order_number: Some("LSN-1042".into()),
            reason: "MERCHANDISE_OR_SERVICE_NOT_RECEIVED".into(),
            stage: Some("CHARGEBACK".into()),
            amount: "$42.00".into(),
            opened: "Mon 30 Nov 10:00 UTC".into(),
            deadline: "Thu 10 Dec 10:00 UTC".into(),
            customer: Some("ana@example.com".into()),
            creator: Some("@kit".into()),
            tracking: Some(("Royal Mail".into(), "RM123".into())),
        }
    }

    #[test]
    fn the_pack_lists_the_order_and_every_item_in_order() {
        let items = vec![
            item("shipping_tracking", &["UPS 1Z999"]),
            item("order_confirmation", &["LSN-1042 paid"]),
        ];
        let text = pack_text(&case(), &items).join("\n");
        assert!(text.contains("Order: LSN-1042"));
        let mut at = 0;
        for (n, (_, label)) in EVIDENCE_ITEMS.iter().enumerate() {
            let heading = format!("{}. {label}:", n + 1);
            let found = text[at..].find(&heading).expect(&heading);
            at += found;
        }
        assert!(text.contains("1. Order confirmation email: collected"));
        assert!(text.contains("3. Delivery confirmation: missing"));
        assert!(text.contains("   Source: source of shipping_tracking"));
    }

    #[test]
    fn paypal_input_has_typed_evidences_and_tracking() {
        let items = vec![
            item("shipping_tracking", &["Royal Mail RM123"]),
            item("order_confirmation", &["LSN-1042 paid"]),
            item("refund_policy", &["version 2026-06-01"]),
        ];
        let input = paypal_input(&case(), &items, "pack.pdf");
        let evidences = input["evidences"].as_array().expect("evidences");
        let types: Vec<&str> = evidences
            .iter()
            .filter_map(|e| e["evidence_type"].as_str())
            .collect();
        assert_eq!(
            types,
            [
                "PROOF_OF_FULFILLMENT",
                "PROOF_OF_RECEIPT_COPY",
                "RETURN_POLICY"
            ]
        );
        let t = &evidences[0]["evidence_info"]["tracking_info"][0];
        assert_eq!(t["carrier_name"], "OTHER");
        assert_eq!(t["carrier_name_other"], "Royal Mail");
        assert_eq!(t["tracking_number"], "RM123");
        assert_eq!(evidences[1]["documents"][0]["name"], "pack.pdf");
        assert_eq!(carrier("fedex"), ("FEDEX", None));
    }

    #[test]
    fn notes_stay_within_paypal_limit() {
        let long = "x".repeat(5000);
        let items = vec![item("order_confirmation", &[&long])];
        let input = paypal_input(&case(), &items, "p.pdf");
        let n = input["evidences"][0]["notes"].as_str().expect("notes");
        assert_eq!(n.chars().count(), NOTES_MAX);
    }
}
