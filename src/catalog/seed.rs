//! Haven's vocabularies in the database, and the built-in demo directory.

use crate::catalog::import::{self, Report};
use crate::catalog::store;
use crate::db::DbConnection;
use crate::vocab::VOCABULARIES;

/// Writes every Haven taxonomy and term, so they have the same ids in every deployment.
/// Idempotent; run at every start and by `haven migrate`.
pub fn vocabularies(conn: &mut DbConnection) -> anyhow::Result<()> {
    crate::db::write(conn, |conn| {
        for v in &VOCABULARIES.all {
            store::put_taxonomy(conn, &v.taxonomy_object())?;
            for t in &v.terms {
                store::put_term(conn, &v.term_object(t))?;
            }
        }
        Ok(())
    })
}

/// The demo directory built into the binary: 30 real SAMHSA treatment-locator records (public
/// domain, 2019) and 45 fictional harm-reduction services around Charlottesville, Virginia.
/// See data/README.md.
const DEMO: [(&str, &str); 2] = [
    (
        "data/samhsa-va.hsds.json",
        include_str!("../../data/samhsa-va.hsds.json"),
    ),
    (
        "data/demo-harm-reduction.hsds.json",
        include_str!("../../data/demo-harm-reduction.hsds.json"),
    ),
];

/// The demo organisations with a login, documented in the README: Lanternlight refers, Ridgeline
/// receives, Starling is the third party who sees none of it. Created only with the demo
/// directory, so a real deployment never has them.
pub const DEMO_ORGANIZATION: &str = "ade6766b-a697-5d35-9739-4a9948831d3d";
pub const DEMO_EMAIL: &str = "demo@lanternlight.example";
pub const DEMO_PASSWORD: &str = "demo-password-not-secret";
const DEMO_LOGINS: [(&str, &str); 3] = [
    (DEMO_EMAIL, DEMO_ORGANIZATION),
    (
        "demo@ridgeline.example",
        "c2b6d79f-d682-50e3-b2e4-ed19195bc7bc",
    ),
    (
        "demo@starling.example",
        "4f5547c3-b0e3-5455-8919-acec4c351b54",
    ),
];

/// Loads the demo directory and the demo organisations' logins.
pub fn demo(conn: &mut DbConnection) -> anyhow::Result<Report> {
    let mut total = Report::default();
    for (name, text) in DEMO {
        let report = import::import(conn, text.as_bytes(), |_| {})?;
        if !report.rejected.is_empty() {
            anyhow::bail!(
                "the built-in {name} has invalid records: {:?}",
                report.rejected
            );
        }
        total.add(&report);
    }
    for (email, organization) in DEMO_LOGINS {
        crate::accounts::users::create_from_cli(
            conn,
            email,
            DEMO_PASSWORD,
            "org_admin",
            Some(organization),
        )?;
    }
    Ok(total)
}
