//! Audit records for tests, written once for both kinds: the library's unit tests reach this
//! file as `act::audit::fixtures` (test builds only), the integration tests include it into
//! `tests/common` by path. So it names only `Record`, which both parents have in scope.
#![allow(unreachable_pub, dead_code)]

use super::Record;

/// An approved scale of checkoutservice to `n` replicas, as the audit log records one; each
/// `n` (0 to 59) its own second, proposal and record.
pub fn audit_record(n: u32) -> Record {
    Record {
        time: format!("2026-11-23T10:00:{n:02}Z"),
        user: "sre".into(),
        context: "demo".into(),
        target: "boutique/checkoutservice".into(),
        action: format!("scale boutique/checkoutservice to {n} replicas"),
        before: serde_json::json!({"replicas": 2}),
        after: serde_json::json!({"replicas": n}),
        proposal_id: Some(format!("p{n}")),
        confidence: Some(81.5),
        source: Some("builtin:reactive".into()),
        llm_exchange_sha256: None,
        outcome: "approved".into(),
        reason: None,
    }
}
