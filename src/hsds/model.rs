//! HSDS 3.0 wire types.
//!
//! One struct per HSDS object, with the fields, names and nesting of the official 3.0 schemas
//! (`schema/*.json` and the compiled service schema). Plain data: validation lives in
//! [`crate::hsds::validate`].
//!
//! Conventions:
//! - HSDS forbids `null`: an absent optional field is `None` / an empty `Vec` and is left out of the
//!   JSON. Fields the schema requires are plain `String`s that still default to `""` when missing,
//!   so validation (not serde) reports them by name.
//! - Dates, times, URIs and emails stay `String`s, so records round-trip byte for byte.
//! - Every HSDS `number` is an `f64`; a whole number is written without a fraction (`18`, not
//!   `18.0`), as HSDS data normally spells it.
//! - Haven extensions (not HSDS): `Location::confidential`, `Service::distance`,
//!   `ServiceAtLocation::distance`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A service: what an organization offers to people (HSDS 3.0 `service`), fully nested as in the HSDS compiled service schema.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Service {
    /// Unique identifier (UUID).
    #[serde(default)]
    #[schema(required = true)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub organization_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub program_id: Option<String>,
    #[serde(default)]
    #[schema(required = true)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub alternate_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub email: Option<String>,
    /// One of `active`, `inactive`, `defunct`, `temporarily closed`.
    #[serde(default)]
    #[schema(required = true)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub interpretation_services: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub application_process: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub fees_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub wait_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub fees: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub accreditations: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub eligibility_description: Option<String>,
    /// Minimum age in years to be eligible.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "number::serialize"
    )]
    #[schema(nullable = false)]
    pub minimum_age: Option<f64>,
    /// Maximum age in years to be eligible.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "number::serialize"
    )]
    #[schema(nullable = false)]
    pub maximum_age: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub assured_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub assurer_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub licenses: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub alert: Option<String>,
    /// When the service or anything nested in it last changed (RFC 3339 date-time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub last_modified: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Phone>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<Schedule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_areas: Vec<ServiceArea>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_at_locations: Vec<ServiceAtLocation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<Language>,
    /// The organization delivering this service (shown on reads; ignored on writes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, read_only)]
    pub organization: Option<Box<Organization>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub funding: Vec<Funding>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cost_options: Vec<CostOption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub program: Option<Program>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_documents: Vec<RequiredDocument>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Contact>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
    /// Haven extension (not HSDS): distance in metres from the search point; only present when a
    /// point was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub distance: Option<f64>,
}

/// An organization that delivers services (HSDS 3.0 `organization`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Organization {
    #[serde(default)]
    #[schema(required = true)]
    pub id: String,
    #[serde(default)]
    #[schema(required = true)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub alternate_name: Option<String>,
    #[serde(default)]
    #[schema(required = true)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub tax_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub tax_id: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "number::serialize"
    )]
    #[schema(nullable = false)]
    pub year_incorporated: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub legal_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub logo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub parent_organization_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub funding: Vec<Funding>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Contact>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Phone>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<Location>,
    /// The organisation's services (in responses of the `organizations` endpoints).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub services: Vec<Service>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub programs: Vec<Program>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organization_identifiers: Vec<OrganizationIdentifier>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
}

/// A collection of related services run by one organization (HSDS 3.0 `program`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Program {
    #[serde(default)]
    #[schema(required = true)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub organization_id: Option<String>,
    #[serde(default)]
    #[schema(required = true)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub alternate_name: Option<String>,
    #[serde(default)]
    #[schema(required = true)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
}

/// A service delivered at one location (HSDS 3.0 `service_at_location`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServiceAtLocation {
    #[serde(default)]
    #[schema(required = true)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub service_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub location_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Contact>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Phone>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<Schedule>,
    /// The location where the service is delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub location: Option<Location>,
    /// The service, fully nested (in responses of the `service_at_locations` endpoints;
    /// ignored on writes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, no_recursion, read_only)]
    pub service: Option<Box<Service>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
    /// Haven extension (not HSDS): distance in metres from the search point; only present when a
    /// point was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub distance: Option<f64>,
}

/// A place where services are delivered: physical, postal or virtual (HSDS 3.0 `location`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Location {
    #[serde(default)]
    #[schema(required = true)]
    pub id: String,
    /// One of `physical`, `postal`, `virtual`.
    #[serde(default)]
    #[schema(required = true)]
    pub location_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub organization_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub alternate_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub transportation: Option<String>,
    /// WGS84 latitude in decimal degrees.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "number::serialize"
    )]
    #[schema(nullable = false)]
    pub latitude: Option<f64>,
    /// WGS84 longitude in decimal degrees.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "number::serialize"
    )]
    #[schema(nullable = false)]
    pub longitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub external_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub external_identifier_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<Language>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<Address>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Contact>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accessibility: Vec<Accessibility>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Phone>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<Schedule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
    /// Haven extension (not HSDS): a confidential location (a shelter, an overdose prevention
    /// site); public reads omit its addresses and coarsen its coordinates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub confidential: Option<bool>,
}

/// A street or postal address of a location (HSDS 3.0 `address`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Address {
    #[serde(default)]
    #[schema(required = true)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub location_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub attention: Option<String>,
    #[serde(default)]
    #[schema(required = true)]
    pub address_1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub address_2: Option<String>,
    #[serde(default)]
    #[schema(required = true)]
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub region: Option<String>,
    #[serde(default)]
    #[schema(required = true)]
    pub state_province: String,
    #[serde(default)]
    #[schema(required = true)]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(default)]
    #[schema(required = true)]
    pub country: String,
    /// One of `physical`, `postal`, `virtual`.
    #[serde(default)]
    #[schema(required = true)]
    pub address_type: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
}

/// A telephone number (HSDS 3.0 `phone`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Phone {
    #[serde(default)]
    #[schema(required = true)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub location_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub service_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub organization_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub contact_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub service_at_location_id: Option<String>,
    #[serde(default)]
    #[schema(required = true)]
    pub number: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "number::serialize"
    )]
    #[schema(nullable = false)]
    pub extension: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub r#type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<Language>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
}

/// When a service or location is open, in iCal (RFC 5545) terms (HSDS 3.0 `schedule`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Schedule {
    #[serde(default)]
    #[schema(required = true)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub service_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub location_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub service_at_location_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub valid_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub valid_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub dtstart: Option<String>,
    /// UTC offset in hours that the dates are expressed in.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "number::serialize"
    )]
    #[schema(nullable = false)]
    pub timezone: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub until: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "number::serialize"
    )]
    #[schema(nullable = false)]
    pub count: Option<f64>,
    /// iCal week start day: `MO`..`SU`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub wkst: Option<String>,
    /// iCal frequency: `WEEKLY` or `MONTHLY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub freq: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "number::serialize"
    )]
    #[schema(nullable = false)]
    pub interval: Option<f64>,
    /// iCal comma-separated day codes, e.g. `MO,TU` or `1MO,-1FR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub byday: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub byweekno: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub bymonthday: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub byyearday: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<String>,
    /// Opening time, `HH:MM` or `HH:MM:SS`, optionally with `Z` or a UTC offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub opens_at: Option<String>,
    /// Closing time, `HH:MM` or `HH:MM:SS`, optionally with `Z` or a UTC offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub closes_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub schedule_link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub attending_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub notes: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
}

/// One price or payment condition of a service (HSDS 3.0 `cost_option`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CostOption {
    #[serde(default)]
    #[schema(required = true)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub service_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub valid_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub valid_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub option: Option<String>,
    /// ISO 4217 currency code, e.g. `USD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub currency: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "number::serialize"
    )]
    #[schema(nullable = false)]
    pub amount: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub amount_description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
}

/// A language a service, location or phone line is offered in (HSDS 3.0 `language`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Language {
    #[serde(default)]
    #[schema(required = true)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub service_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub location_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub phone_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    /// ISO 639-1 or ISO 639-3 language code, optionally with a BCP 47 subtag (`pt-BR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
}

/// Accessibility provisions of a location (HSDS 3.0 `accessibility`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Accessibility {
    #[serde(default)]
    #[schema(required = true)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub location_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub details: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
}

/// The geographic area a service covers (HSDS 3.0 `service_area`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServiceArea {
    #[serde(default)]
    #[schema(required = true)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub service_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub extent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub extent_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
}

/// A document needed to use a service (HSDS 3.0 `required_document`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RequiredDocument {
    #[serde(default)]
    #[schema(required = true)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub service_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub document: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
}

/// A named person or role to contact (HSDS 3.0 `contact`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Contact {
    #[serde(default)]
    #[schema(required = true)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub organization_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub service_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub service_at_location_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub location_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Phone>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
}

/// A source of funding (HSDS 3.0 `funding`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Funding {
    #[serde(default)]
    #[schema(required = true)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub organization_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub service_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
}

/// Links a taxonomy term to an object, e.g. a service type (HSDS 3.0 `attribute`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Attribute {
    #[serde(default)]
    #[schema(required = true)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub link_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub taxonomy_term_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub link_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub link_entity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub value: Option<String>,
    /// The taxonomy term this attribute applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub taxonomy_term: Option<TaxonomyTerm>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
}

/// A term from a taxonomy (HSDS 3.0 `taxonomy_term`). Answers always carry its `id`, `name`
/// and `description`. A request may name one of Haven's terms by `taxonomy` and `code` alone
/// (`{"taxonomy": "haven-services", "code": "HR01"}`) and Haven completes it; a term of any
/// other taxonomy needs all three.
///
/// The three are optional in this schema, unlike HSDS's, because one schema describes both
/// requests and answers, and a client generated from it must be able to send a term by code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaxonomyTerm {
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub code: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub parent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub taxonomy: Option<String>,
    /// The taxonomy this term belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub taxonomy_detail: Option<Taxonomy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub taxonomy_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub term_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
}

/// A taxonomy (vocabulary) that taxonomy terms come from (HSDS 3.0 `taxonomy`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Taxonomy {
    #[serde(default)]
    #[schema(required = true)]
    pub id: String,
    #[serde(default)]
    #[schema(required = true)]
    pub name: String,
    #[serde(default)]
    #[schema(required = true)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
}

/// A change record for a field of some object (HSDS 3.0 `metadata`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Metadata {
    #[serde(default)]
    #[schema(required = true)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub resource_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub resource_type: Option<String>,
    #[serde(default)]
    #[schema(required = true)]
    pub last_action_date: String,
    #[serde(default)]
    #[schema(required = true)]
    pub last_action_type: String,
    #[serde(default)]
    #[schema(required = true)]
    pub field_name: String,
    #[serde(default)]
    #[schema(required = true)]
    pub previous_value: String,
    #[serde(default)]
    #[schema(required = true)]
    pub replacement_value: String,
    #[serde(default)]
    #[schema(required = true)]
    pub updated_by: String,
}

/// A third-party identifier of an organization, e.g. a charity number (HSDS 3.0 `organization_identifier`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OrganizationIdentifier {
    #[serde(default)]
    #[schema(required = true)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub organization_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub identifier_scheme: Option<String>,
    #[serde(default)]
    #[schema(required = true)]
    pub identifier_type: String,
    #[serde(default)]
    #[schema(required = true)]
    pub identifier: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
}

/// The HSDS page envelope of every list endpoint (HSDS `Page` plus `contents`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    /// The total number of items matching the query, over all pages.
    pub total_items: i64,
    /// The number of pages (at least 1, even for an empty result).
    pub total_pages: i64,
    /// The number of this page, starting at 1.
    pub page_number: i64,
    /// The number of items in this page (`contents.len()`).
    pub size: i64,
    /// Whether this is the first page.
    pub first_page: bool,
    /// Whether this is the last page (or beyond it).
    pub last_page: bool,
    /// Whether this page has no items.
    pub empty: bool,
    /// The items of this page.
    pub contents: Vec<T>,
}

impl<T> Page<T> {
    /// Builds the envelope for one page of `contents` out of `total_items` matches, where pages
    /// hold `per_page` items and `page_number` starts at 1. `total_pages` is at least 1, so an
    /// empty result is page 1 of 1 (both first and last).
    pub fn new(contents: Vec<T>, total_items: i64, page_number: i64, per_page: i64) -> Self {
        let total_items = total_items.max(0);
        let total_pages = if per_page > 0 {
            ((total_items + per_page - 1) / per_page).max(1)
        } else {
            1
        };
        Page {
            total_items,
            total_pages,
            page_number,
            size: contents.len() as i64,
            first_page: page_number == 1,
            last_page: page_number >= total_pages,
            empty: contents.is_empty(),
            contents,
        }
    }

    /// The same envelope with each item converted, e.g. from a database row to an HSDS object.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            total_items: self.total_items,
            total_pages: self.total_pages,
            page_number: self.page_number,
            size: self.size,
            first_page: self.first_page,
            last_page: self.last_page,
            empty: self.empty,
            contents: self.contents.into_iter().map(f).collect(),
        }
    }
}

impl Page<String> {
    /// The page as JSON, its items being JSON already: what serialising the parsed items would
    /// give, without parsing them again (a search page is tens of kilobytes).
    pub fn to_json(&self) -> String {
        let length = self
            .contents
            .iter()
            .map(|item| item.len() + 1)
            .sum::<usize>();
        let mut out = String::with_capacity(length + 200);
        out.push_str(&format!(
            "{{\"total_items\":{},\"total_pages\":{},\"page_number\":{},\"size\":{},\
             \"first_page\":{},\"last_page\":{},\"empty\":{},\"contents\":[",
            self.total_items,
            self.total_pages,
            self.page_number,
            self.size,
            self.first_page,
            self.last_page,
            self.empty
        ));
        for (i, item) in self.contents.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(item);
        }
        out.push_str("]}");
        out
    }
}

impl Service {
    /// The organization id, from `organization_id` or else the nested `organization`.
    pub fn organization_id(&self) -> Option<&str> {
        self.organization_id
            .as_deref()
            .or_else(|| self.organization.as_ref().map(|o| o.id.as_str()))
            .filter(|id| !id.is_empty())
    }
}

/// Writes an HSDS `number` the way HSDS data spells it: whole numbers without a fraction.
mod number {
    use serde::Serializer;

    /// 2^53: above this an `f64` no longer holds every integer exactly.
    const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

    pub fn serialize<S: Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match *value {
            Some(v) if v.is_finite() && v.fract() == 0.0 && v.abs() <= MAX_EXACT => {
                s.serialize_i64(v as i64)
            }
            Some(v) => s.serialize_f64(v),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The SAMHSA sample services, from the repo copy or the shared one; `None` if neither exists.
    pub(crate) fn samhsa_json() -> Option<String> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        [
            "data/samhsa-va.hsds.json",
            "../shared/data/samhsa-va.hsds.json",
        ]
        .iter()
        .map(|p| root.join(p))
        .find(|p| p.is_file())
        .map(|p| std::fs::read_to_string(p).expect("read samhsa-va.hsds.json"))
    }

    #[test]
    fn a_page_of_json_items_is_what_serde_writes_for_the_items() {
        let items = [
            serde_json::json!({"id": "a", "name": "Drop-in \"Haven\"", "distance": 12.5}),
            serde_json::json!({"id": "b", "languages": ["en", "es"]}),
        ];
        for (count, total, page) in [(2, 45, 1), (1, 45, 3), (0, 0, 1), (0, 45, 9)] {
            let items = items[..count].to_vec();
            let texts: Vec<String> = items.iter().map(|i| i.to_string()).collect();
            let expected = serde_json::to_string(&Page::new(items, total, page, 20)).unwrap();
            assert_eq!(Page::new(texts, total, page, 20).to_json(), expected);
        }
    }

    #[test]
    fn samhsa_services_round_trip_exactly() {
        let Some(text) = samhsa_json() else {
            eprintln!("samhsa-va.hsds.json not found; skipping");
            return;
        };
        let records: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(records.len(), 30);
        for (i, record) in records.iter().enumerate() {
            let service: Service = serde_json::from_value(record.clone())
                .unwrap_or_else(|e| panic!("record {i} does not deserialize: {e}"));
            // Compare the text, not just the values: key order and number spelling matter too.
            let expected = serde_json::to_string_pretty(record).unwrap();
            let actual = serde_json::to_string_pretty(&service).unwrap();
            assert_eq!(
                actual, expected,
                "record {i} ({}) does not round-trip",
                service.id
            );
            let again: Service = serde_json::from_str(&actual).unwrap();
            assert_eq!(again, service);
        }
        // The whole file, as the file is spelled.
        let services: Vec<Service> = serde_json::from_str(&text).unwrap();
        assert_eq!(
            serde_json::to_string_pretty(&services).unwrap(),
            serde_json::to_string_pretty(&records).unwrap()
        );
    }

    #[test]
    fn empty_optionals_are_left_out_and_numbers_keep_their_spelling() {
        let s = Service {
            id: "5064b085-1f23-5567-8833-64e9bb710ed0".into(),
            name: "x".into(),
            status: "active".into(),
            minimum_age: Some(18.0),
            maximum_age: Some(17.5),
            ..Default::default()
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "id": "5064b085-1f23-5567-8833-64e9bb710ed0",
                "name": "x",
                "status": "active",
                "minimum_age": 18,
                "maximum_age": 17.5
            })
        );
        let phone: Phone =
            serde_json::from_str(r#"{"id":"a","number":"1","type":"voice","extension":110}"#)
                .unwrap();
        assert_eq!(phone.r#type.as_deref(), Some("voice"));
        assert_eq!(phone.extension, Some(110.0));
        assert_eq!(
            serde_json::to_string(&phone).unwrap(),
            r#"{"id":"a","number":"1","extension":110,"type":"voice"}"#
        );
        // A missing required field is not a serde error: validation names it.
        let empty: Service = serde_json::from_str("{}").unwrap();
        assert_eq!(empty.id, "");
    }

    #[test]
    fn page_envelope() {
        let p = Page::new(vec![1, 2], 12, 1, 5);
        assert_eq!(
            (p.total_pages, p.size, p.first_page, p.last_page, p.empty),
            (3, 2, true, false, false)
        );
        let p = Page::new(vec![1, 2], 12, 3, 5);
        assert_eq!((p.total_pages, p.first_page, p.last_page), (3, false, true));
        let p = Page::new(Vec::<i32>::new(), 0, 1, 5);
        assert_eq!(
            (p.total_pages, p.size, p.first_page, p.last_page, p.empty),
            (1, 0, true, true, true)
        );
        let p = Page::new(vec![1; 5], 10, 2, 5);
        assert_eq!((p.total_pages, p.last_page), (2, true));
        let p = Page::new(Vec::<i32>::new(), 10, 7, 5);
        assert!(p.last_page && p.empty && !p.first_page);
        let v = serde_json::to_value(Page::new(vec!["a"], 1, 1, 10)).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "total_items",
                "total_pages",
                "page_number",
                "size",
                "first_page",
                "last_page",
                "empty",
                "contents"
            ]
        );
    }

    #[test]
    fn openapi_schema_has_hsds_names_and_no_nulls() {
        use utoipa::PartialSchema;
        let phone = serde_json::to_value(Phone::schema()).unwrap();
        let props = phone["properties"].as_object().unwrap();
        assert!(props.contains_key("type"), "{phone}");
        assert_eq!(phone["required"], serde_json::json!(["id", "number"]));
        assert_eq!(props["description"]["type"], "string", "{phone}");
        let service = serde_json::to_value(Service::schema()).unwrap();
        assert_eq!(
            service["required"],
            serde_json::json!(["id", "name", "status"])
        );
        let text = service.to_string();
        assert!(!text.contains("null"), "{text}");
        assert!(service["properties"]["organization"]
            .to_string()
            .contains("Organization"));
        let page = serde_json::to_value(Page::<Service>::schema()).unwrap();
        assert!(
            page["properties"]["contents"]
                .to_string()
                .contains("Service"),
            "{page}"
        );
    }
}
