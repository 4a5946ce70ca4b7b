//! The OpenAPI document: generated from the handlers as they are registered, so the served
//! spec and the routes cannot drift. `haven openapi` prints it; `openapi/openapi.json` is that
//! output, committed, and a test fails when the two differ.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{FieldError, Problem};
use crate::referrals::api::Direction;
use crate::search::filters::{
    AccessibilityCode, CostCode, DeliveryCode, FormatCode, LowBarrierCode, PopulationCode,
    StatusCode,
};
use crate::webhooks::api::DeliveryStatus;
use crate::webhooks::outbox::{WebhookEvent, WebhookEventData};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Haven API",
        description = "A directory of harm-reduction and mental-health services (needle exchange, \
naloxone, drug checking, detox, medication for opioid use, counselling, support groups, crisis \
lines, housing first) speaking Open Referral HSDS 3.0, with Haven's filters for what makes a \
service reachable: cost, opening hours, low-barrier access, language and accessibility.\n\n\
Public reads need no key. Errors are RFC 9457 `application/problem+json` naming each bad field.\n\n\
HSDS is by Open Referral, CC BY-SA 4.0: \"Human Services Data Specification: an Open Referral \
resource (https://openreferral.org/)\".",
        version = "0.1.0"
    ),
    servers((url = "/", description = "This server")),
    tags(
        (name = "catalogue", description = "The public HSDS 3.0 directory"),
        (name = "catalogue writes", description = "Partners publishing their own services"),
        (name = "accounts", description = "Partner accounts: tokens, organisations, users, API clients"),
        (name = "referrals", description = "Referrals between organisations: from `requested` to an outcome judged against the client's own goal. Only the sending and receiving organisations see a referral. Client details need the client's consent, are encrypted at rest and purged after the referral ends."),
        (name = "webhooks", description = "Subscriptions to referral events. Each delivery is a POST of a `WebhookEvent` (ids, type, status and time; never client details), signed `Haven-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<body>\")>`. Verify it over the raw body with the subscription's secret, compare in constant time, and reject old timestamps. Delivery is at least once, in order per referral: de-duplicate on the event `id` (also in `Haven-Event-Id`)."),
        (name = "meta", description = "About the API, health and readiness"),
    ),
    modifiers(&BearerAuth),
    components(schemas(
        Problem,
        FieldError,
        CostCode,
        AccessibilityCode,
        DeliveryCode,
        LowBarrierCode,
        PopulationCode,
        StatusCode,
        FormatCode,
        WebhookEvent,
        WebhookEventData,
        Direction,
        DeliveryStatus
    ))
)]
pub struct ApiDoc;

/// The `bearer` security scheme: a JWT from `POST /auth/token`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".to_string());
        scheme.description = Some(
            "An access token from `POST /auth/token`. Claims: `sub, org, role, scope, exp, iat, jti`."
                .to_string(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The base document, before the routes add their paths.
pub fn base() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    // Public reads need no credentials; saying so explicitly keeps API linters content.
    doc.security = Some(vec![SecurityRequirement::default()]);
    doc
}

/// The complete document, as served at `/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    crate::server::routes_and_spec().1
}

/// The document as committed: pretty JSON with a final newline.
pub fn pretty() -> String {
    let mut text = document()
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    text.push('\n');
    text
}

/// Completes the generated document with what the handlers' annotations cannot say:
/// - answers no handler writes: a 503 (database unreachable, or the request over
///   `HAVEN_REQUEST_TIMEOUT`) everywhere; a 400 where a path id can be malformed; a 408 (from
///   the HTTP layer, when a body stalls) and a 413 where there is a body; a 429 where a rate
///   limit applies. Each is a problem document; 429 and 503 say when to retry;
/// - the `haven-services` codes, from the vocabulary, as the schema of `taxonomy_code` and of
///   a referral's `reason_code`.
pub fn complete(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::{
        ContentBuilder, ObjectBuilder, Ref, RefOr, ResponseBuilder, Schema, Type,
    };

    let problem = |description: &str, retry_after: bool| {
        let mut response = ResponseBuilder::new().description(description).content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        );
        if retry_after {
            response = response.header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(1)),
                    )
                    .description(Some("Seconds to wait before trying again"))
                    .build(),
            );
        }
        response.build()
    };
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, response) in [
        (
            "Unavailable",
            problem(
                "The database is unreachable, or the request took longer than the server allows",
                true,
            ),
        ),
        (
            "TooLarge",
            problem("The body is larger than the server accepts", false),
        ),
        (
            "RequestTimeout",
            ResponseBuilder::new()
                .description(
                    "The request (its head or body) did not arrive in time; the connection closes",
                )
                .build(),
        ),
        (
            "TooManyRequests",
            problem(
                "Too many requests from this address; wait `Retry-After` seconds",
                true,
            ),
        ),
    ] {
        components
            .responses
            .insert(name.to_string(), RefOr::T(response));
    }
    let reference = |name: &str| RefOr::Ref(Ref::new(format!("#/components/responses/{name}")));
    let service_types = taxonomy_code_schema(true);
    if let Some(RefOr::T(Schema::Object(new_referral))) = components.schemas.get_mut("NewReferral")
    {
        if let Some(reason) = new_referral.properties.get_mut("reason_code") {
            *reason = taxonomy_code_schema(false);
        }
    }
    components.responses.insert(
        "BadPath".to_string(),
        RefOr::T(problem(
            "A path parameter is malformed (an id that is not a UUID)",
            false,
        )),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        let limited_get = crate::limits::SEARCH_ROUTES.contains(&path.as_str());
        let limited_post = crate::limits::SECRET_ROUTES.contains(&path.as_str());
        for (operation, limited) in [
            (item.get.as_mut(), limited_get),
            (item.post.as_mut(), limited_post),
            (item.put.as_mut(), false),
            (item.patch.as_mut(), false),
            (item.delete.as_mut(), false),
        ] {
            let Some(operation) = operation else { continue };
            for p in operation.parameters.iter_mut().flatten() {
                if p.name == "taxonomy_code" {
                    p.schema = Some(service_types.clone());
                }
            }
            let has_path_parameter = operation
                .parameters
                .iter()
                .flatten()
                .any(|p| p.parameter_in == ParameterIn::Path);
            let responses = &mut operation.responses.responses;
            if has_path_parameter {
                responses
                    .entry("400".to_string())
                    .or_insert_with(|| reference("BadPath"));
            }
            // A handler's own description of one of these, if it has one, stays.
            if operation.request_body.is_some() {
                responses
                    .entry("408".to_string())
                    .or_insert_with(|| reference("RequestTimeout"));
                responses
                    .entry("413".to_string())
                    .or_insert_with(|| reference("TooLarge"));
            }
            if limited {
                responses
                    .entry("429".to_string())
                    .or_insert_with(|| reference("TooManyRequests"));
            }
            responses
                .entry("503".to_string())
                .or_insert_with(|| reference("Unavailable"));
        }
    }
}

/// `haven-services` codes (a comma list of them when `list`), spelled out from the vocabulary
/// so that a client (or a test generator) knows every value the server takes: the schema of
/// the `taxonomy_code` filter and of a referral's `reason_code`.
fn taxonomy_code_schema(list: bool) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::{ObjectBuilder, Type};
    let codes: Vec<&str> = crate::vocab::VOCABULARIES
        .get(crate::vocab::Facet::ServiceTypes)
        .codes()
        .collect();
    let one = format!("({})", codes.join("|"));
    let (pattern, example) = if list {
        (format!("^{one}(,{one})*$"), "HR01,MD")
    } else {
        (format!("^{one}$"), "HR02")
    };
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .examples([serde_json::json!(example)])
        .into()
}

#[cfg(test)]
mod tests {
    /// Every `$ref` names a component that is in the document (a type used only as a
    /// parameter's `value_type` is not collected by itself).
    #[test]
    fn every_reference_resolves() {
        let doc: serde_json::Value = serde_json::from_str(&super::pretty()).unwrap();
        let text = doc.to_string();
        let refs: Vec<&str> = text
            .split("\"$ref\":\"#/components/")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap())
            .collect();
        assert!(refs.len() > 50, "{} references", refs.len());
        for path in refs {
            let (kind, name) = path.split_once('/').unwrap();
            assert!(
                doc["components"][kind][name].is_object(),
                "#/components/{path} is referenced but not defined"
            );
        }
    }
}
