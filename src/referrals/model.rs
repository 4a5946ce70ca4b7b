//! What referral requests carry and responses show, and the checks on requests. Pure.
//!
//! Request types refuse unknown fields: a body cannot set `status`, `version`, an organisation
//! or a claim code, however it spells them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::lifecycle::Status;
use crate::error::FieldError;
use crate::hsds::validate::{is_email, is_language_code, is_uuid, parse_date_time};
use crate::vocab::{Facet, VOCABULARIES};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Routine,
    Urgent,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Routine => "routine",
            Priority::Urgent => "urgent",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactMethod {
    Phone,
    Email,
    Sms,
}

/// Whether the client's own goal was met: harm reduction counts steps in the right direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GoalMet {
    Yes,
    Partly,
    No,
}

impl GoalMet {
    pub fn as_str(self) -> &'static str {
        match self {
            GoalMet::Yes => "yes",
            GoalMet::Partly => "partly",
            GoalMet::No => "no",
        }
    }

    pub fn parse(s: &str) -> Option<GoalMet> {
        [GoalMet::Yes, GoalMet::Partly, GoalMet::No]
            .into_iter()
            .find(|g| g.as_str() == s)
    }
}

/// How to reach the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
// Named apart from HSDS's `Contact` (a person at an organisation), which the OpenAPI document
// would otherwise describe with this one.
#[schema(as = ClientContact)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub method: ContactMethod,
    /// A phone number (phone, sms) or an email address.
    pub value: String,
}

/// The client's details: shared with the receiving organisation only with consent, encrypted
/// at rest, purged after the referral ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// What the client wants to be called; need not be a legal name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub alias: Option<String>,
    pub contact: Contact,
    /// Whether a message may be left (voicemail, a text someone else might read).
    pub safe_to_leave_message: bool,
    /// ISO 639-1 where the language has one, ISO 639-3 otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub preferred_language: Option<String>,
}

/// The client's consent to share their details with the receiving organisation, for the
/// listed purposes, until `expires_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Consent {
    pub given: bool,
    /// The purposes agreed to, such as `contact` or `care_coordination`.
    pub scope: Vec<String>,
    #[schema(format = DateTime)]
    pub expires_at: String,
}

/// `POST /referrals`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReferral {
    #[schema(format = Uuid)]
    pub service_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid, nullable = false)]
    pub service_at_location_id: Option<String>,
    /// A `haven-services` code (a service type or a category), such as `HR02`.
    pub reason_code: String,
    pub priority: Priority,
    /// The client's own goal, in their words. Encrypted at rest like client details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub client_goal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub consent: Option<Consent>,
    /// Only with consent. Without it the referral is anonymous and answers a `claim_code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub client: Option<Client>,
}

/// How a completed referral went, judged against the client's own goal (not abstinence).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub client_goal_met: GoalMet,
}

/// `POST /referrals/{id}/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    pub status: Status,
    /// Required for `rejected`, `cancelled` and `failed`. Seen by both organisations; never
    /// sent in webhooks. Do not put client details here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<String>,
    /// The `version` of the referral the change was decided on; a stale one is a 409.
    #[schema(minimum = 1)]
    pub version: i64,
    /// Only with `completed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub outcome: Option<Outcome>,
}

/// `POST /referrals/claim`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub claim_code: String,
}

/// A referral, as the sending and receiving organisations see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Referral {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub service_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid, nullable = false)]
    pub service_at_location_id: Option<String>,
    #[schema(format = Uuid)]
    pub sender_organization_id: String,
    #[schema(format = Uuid)]
    pub receiver_organization_id: String,
    pub reason_code: String,
    pub priority: Priority,
    pub status: Status,
    /// Changes with every status change; send it back with the next one.
    pub version: i64,
    /// The reason given for the latest status, when one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub status_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub outcome: Option<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub client_goal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub consent: Option<Consent>,
    /// Present while consent lasts and until purged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub client: Option<Client>,
    /// No client details were given: the client carries a claim code instead.
    pub anonymous: bool,
    /// Only in the answer to the `POST` that made an anonymous referral (and its retries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub claim_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime, nullable = false)]
    pub claimed_at: Option<String>,
    /// When client details were purged (the referral ended long enough ago, or consent expired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime, nullable = false)]
    pub client_details_purged_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// One entry of a referral's append-only history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// Unique; webhook deliveries of this event carry it, so receivers can de-duplicate.
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub referral_id: String,
    /// `referral.created`, `referral.status_changed`, `referral.claimed` or
    /// `referral.client_details_purged`.
    #[serde(rename = "type")]
    pub kind: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub previous_status: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<String>,
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid, nullable = false)]
    pub actor_organization_id: Option<String>,
    #[schema(format = DateTime)]
    pub at: String,
}

/// The longest free text a referral takes (goal, reason, alias), in characters.
const MAX_TEXT: usize = 1_000;

fn text(errors: &mut Vec<FieldError>, field: &str, value: &Option<String>, max: usize) {
    if let Some(v) = value {
        if v.trim().is_empty() {
            errors.push(FieldError::new(
                field,
                "must not be blank (or leave it out)",
            ));
        } else if v.chars().count() > max {
            errors.push(FieldError::new(
                field,
                format!("must be at most {max} characters"),
            ));
        }
    }
}

fn is_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    (6..=20).contains(&digits)
        && s.chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
}

/// Problems with a new referral: `.0` are malformed fields (400), `.1` are well-formed
/// requests Haven will not act on (422), such as client details without consent.
pub fn check_new(r: &NewReferral, now: DateTime<Utc>) -> (Vec<FieldError>, Vec<FieldError>) {
    let mut bad = vec![];
    let mut refused = vec![];
    if !is_uuid(&r.service_id) {
        bad.push(FieldError::new("service_id", "must be a UUID"));
    }
    if let Some(sal) = &r.service_at_location_id {
        if !is_uuid(sal) {
            bad.push(FieldError::new("service_at_location_id", "must be a UUID"));
        }
    }
    let services = VOCABULARIES.get(Facet::ServiceTypes);
    if services.bit(&r.reason_code).is_none() {
        bad.push(FieldError::new(
            "reason_code",
            format!("must be a {} code, such as HR02", services.taxonomy),
        ));
    }
    text(&mut bad, "client_goal", &r.client_goal, MAX_TEXT);
    if let Some(c) = &r.consent {
        if c.scope.is_empty() {
            bad.push(FieldError::new(
                "consent.scope",
                "must list at least one purpose",
            ));
        }
        for (i, s) in c.scope.iter().enumerate() {
            if s.trim().is_empty() || s.len() > 100 {
                bad.push(FieldError::new(
                    format!("consent.scope[{i}]"),
                    "must be a purpose of 1 to 100 characters",
                ));
            }
        }
        match parse_date_time(&c.expires_at) {
            None => bad.push(FieldError::new(
                "consent.expires_at",
                "must be an RFC 3339 date-time",
            )),
            Some(t) if t.with_timezone(&Utc) <= now => refused.push(FieldError::new(
                "consent.expires_at",
                "has passed: ask the client again",
            )),
            Some(_) => {}
        }
        if !c.given {
            refused.push(FieldError::new(
                "consent.given",
                "must be true: without consent, leave `client` out and use the claim code",
            ));
        }
    }
    if let Some(client) = &r.client {
        if r.consent.is_none() {
            refused.push(FieldError::new(
                "consent",
                "client details are accepted only with the client's consent",
            ));
        }
        text(&mut bad, "client.alias", &client.alias, 100);
        let value = client.contact.value.trim();
        let ok = match client.contact.method {
            ContactMethod::Email => is_email(value),
            ContactMethod::Phone | ContactMethod::Sms => is_phone(value),
        };
        if !ok {
            bad.push(FieldError::new(
                "client.contact.value",
                "must be a phone number (phone, sms) or an email address (email)",
            ));
        }
        if let Some(l) = &client.preferred_language {
            if !is_language_code(l) {
                bad.push(FieldError::new(
                    "client.preferred_language",
                    "must be an ISO 639-1 or 639-3 code",
                ));
            }
        }
    }
    (bad, refused)
}

/// Problems with a status change that are about its fields.
pub fn check_change(c: &StatusChange) -> Vec<FieldError> {
    let mut bad = vec![];
    text(&mut bad, "reason", &c.reason, MAX_TEXT);
    if c.version < 1 {
        bad.push(FieldError::new("version", "must be at least 1"));
    }
    bad
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn new(v: serde_json::Value) -> NewReferral {
        serde_json::from_value(v).unwrap()
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    const SERVICE: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

    #[test]
    fn an_anonymous_referral_needs_no_consent() {
        let r = new(json!({"service_id": SERVICE, "reason_code": "HR02", "priority": "urgent"}));
        assert_eq!(check_new(&r, Utc::now()), (vec![], vec![]));
    }

    #[test]
    fn client_details_need_consent_that_is_given_and_current() {
        let client = json!({"contact": {"method": "sms", "value": "+1 555 0100"}, "safe_to_leave_message": false});
        let r = new(
            json!({"service_id": SERVICE, "reason_code": "HR", "priority": "routine", "client": client}),
        );
        assert_eq!(fields(&check_new(&r, Utc::now()).1), ["consent"]);
        let r = new(
            json!({"service_id": SERVICE, "reason_code": "HR", "priority": "routine", "client": client,
            "consent": {"given": false, "scope": ["contact"], "expires_at": "2020-01-01T00:00:00Z"}}),
        );
        let (bad, refused) = check_new(&r, Utc::now());
        assert!(bad.is_empty());
        assert_eq!(fields(&refused), ["consent.expires_at", "consent.given"]);
        let r = new(
            json!({"service_id": SERVICE, "reason_code": "HR", "priority": "routine", "client": client,
            "consent": {"given": true, "scope": ["contact"], "expires_at": "2999-01-01T00:00:00Z"}}),
        );
        assert_eq!(check_new(&r, Utc::now()), (vec![], vec![]));
    }

    #[test]
    fn malformed_fields_are_named() {
        let r = new(
            json!({"service_id": "x", "reason_code": "XX99", "priority": "routine",
            "client_goal": " ",
            "client": {"contact": {"method": "email", "value": "nope"}, "safe_to_leave_message": true, "preferred_language": "english"},
            "consent": {"given": true, "scope": [], "expires_at": "tomorrow"}}),
        );
        let (bad, _) = check_new(&r, Utc::now());
        assert_eq!(
            fields(&bad),
            [
                "service_id",
                "reason_code",
                "client_goal",
                "consent.scope",
                "consent.expires_at",
                "client.contact.value",
                "client.preferred_language"
            ]
        );
    }

    #[test]
    fn a_body_cannot_set_what_haven_decides() {
        for extra in ["status", "version", "sender_organization_id", "claim_code"] {
            let mut v =
                json!({"service_id": SERVICE, "reason_code": "HR02", "priority": "routine"});
            v[extra] = json!("x");
            let err = serde_json::from_value::<NewReferral>(v).unwrap_err();
            assert!(err.to_string().contains(extra), "{err}");
        }
    }
}
