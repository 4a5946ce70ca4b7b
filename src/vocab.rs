//! Haven's vocabularies: the `haven-services` service types and the filter vocabularies of the
//! API contract, as HSDS taxonomies with ids that are the same in every deployment.
//!
//! Each vocabulary is a facet of search; a set of its codes is a bit mask (bit i = the i-th
//! code), which is how `search_entry` stores and filters them.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::Value;
use uuid::Uuid;

use crate::hsds::model::{Taxonomy, TaxonomyTerm};

/// The search facets that Haven vocabularies feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Facet {
    ServiceTypes,
    Cost,
    Accessibility,
    Delivery,
    LowBarrier,
    Population,
}

#[derive(Debug, Clone)]
pub struct Term {
    pub code: String,
    pub name: String,
    pub description: String,
    /// The category code, for a `haven-services` term below a category.
    pub parent: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Vocabulary {
    pub facet: Facet,
    /// The HSDS taxonomy name, such as `haven-cost`.
    pub taxonomy: &'static str,
    pub description: &'static str,
    /// The query parameter that filters by it.
    pub param: &'static str,
    pub terms: Vec<Term>,
}

impl Vocabulary {
    pub fn taxonomy_id(&self) -> Uuid {
        taxonomy_id(self.taxonomy)
    }

    pub fn term_id(&self, code: &str) -> Uuid {
        term_id(self.taxonomy, code)
    }

    /// The bit of one code.
    pub fn bit(&self, code: &str) -> Option<i64> {
        self.terms
            .iter()
            .position(|t| t.code == code)
            .map(|i| 1i64 << i)
    }

    /// The bits a service linked to `code` carries: its own and, for a term, its category's,
    /// so that filtering by a category finds every service of its terms.
    pub fn bits_with_parent(&self, code: &str) -> i64 {
        let own = self.bit(code).unwrap_or(0);
        let parent = self
            .terms
            .iter()
            .find(|t| t.code == code)
            .and_then(|t| t.parent.as_deref())
            .and_then(|p| self.bit(p))
            .unwrap_or(0);
        own | parent
    }

    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().map(|t| t.code.as_str())
    }

    /// The vocabulary as an HSDS taxonomy.
    pub fn taxonomy_object(&self) -> Taxonomy {
        Taxonomy {
            id: self.taxonomy_id().to_string(),
            name: self.taxonomy.to_string(),
            description: self.description.to_string(),
            version: Some("1.0.0".to_string()),
            ..Default::default()
        }
    }

    /// One of its terms as an HSDS taxonomy term: what the database holds for it.
    pub fn term_object(&self, term: &Term) -> TaxonomyTerm {
        TaxonomyTerm {
            id: self.term_id(&term.code).to_string(),
            code: Some(term.code.clone()),
            name: term.name.clone(),
            description: term.description.clone(),
            parent_id: term.parent.as_deref().map(|p| self.term_id(p).to_string()),
            taxonomy: Some(self.taxonomy.to_string()),
            taxonomy_id: Some(self.taxonomy_id().to_string()),
            language: Some("en".to_string()),
            ..Default::default()
        }
    }
}

/// `uuid5(NAMESPACE_URL, "urn:hsds-taxonomy:" + name)`.
pub fn taxonomy_id(taxonomy: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("urn:hsds-taxonomy:{taxonomy}").as_bytes(),
    )
}

/// `uuid5(taxonomy_id(taxonomy), code)`.
pub fn term_id(taxonomy: &str, code: &str) -> Uuid {
    Uuid::new_v5(&taxonomy_id(taxonomy), code.as_bytes())
}

/// All Haven vocabularies and the lookups search needs.
#[derive(Debug)]
pub struct Vocabularies {
    pub all: Vec<Vocabulary>,
    by_term_id: HashMap<String, (Facet, String)>,
    /// Each term's `term_object` as JSON, by its id as written (lower case).
    objects: HashMap<String, Value>,
}

impl Vocabularies {
    pub fn get(&self, facet: Facet) -> &Vocabulary {
        self.all
            .iter()
            .find(|v| v.facet == facet)
            .expect("every facet has a vocabulary")
    }

    pub fn by_taxonomy(&self, taxonomy: &str) -> Option<&Vocabulary> {
        self.all.iter().find(|v| v.taxonomy == taxonomy)
    }

    /// The facet and code of a Haven term, by its id.
    pub fn term_by_id(&self, id: &str) -> Option<(Facet, &str)> {
        self.by_term_id
            .get(&id.to_ascii_lowercase())
            .map(|(f, c)| (*f, c.as_str()))
    }

    /// A Haven term's HSDS object as JSON, by its id exactly as Haven writes it.
    pub fn term_json(&self, id: &str) -> Option<&Value> {
        self.objects.get(id)
    }
}

pub static VOCABULARIES: LazyLock<Vocabularies> = LazyLock::new(build);

const SERVICES_CSV: &str = include_str!("../data/taxonomy.csv");

fn service_types() -> Vec<Term> {
    let mut reader = csv::Reader::from_reader(SERVICES_CSV.as_bytes());
    reader
        .records()
        .map(|r| {
            let r = r.expect("data/taxonomy.csv is well-formed");
            Term {
                code: r[0].to_string(),
                parent: Some(r[1].to_string()).filter(|p| !p.is_empty()),
                name: r[2].to_string(),
                description: r[3].to_string(),
            }
        })
        .collect()
}

fn terms(list: &[(&str, &str, &str)]) -> Vec<Term> {
    list.iter()
        .map(|(code, name, description)| Term {
            code: code.to_string(),
            name: name.to_string(),
            description: description.to_string(),
            parent: None,
        })
        .collect()
}

fn build() -> Vocabularies {
    let all = vec![
        Vocabulary {
            facet: Facet::ServiceTypes,
            taxonomy: "haven-services",
            description:
                "Two-level taxonomy of harm reduction, substance use and related services.",
            param: "taxonomy_code",
            terms: service_types(),
        },
        Vocabulary {
            facet: Facet::Cost,
            taxonomy: "haven-cost",
            description: "How a service can be paid for.",
            param: "cost",
            terms: terms(&[
                ("free", "Free", "No charge to the client."),
                (
                    "sliding_scale",
                    "Sliding scale",
                    "Fees adjusted to the client's income.",
                ),
                ("medicaid", "Medicaid", "Accepts Medicaid."),
                ("medicare", "Medicare", "Accepts Medicare."),
                (
                    "private_insurance",
                    "Private insurance",
                    "Accepts private health insurance.",
                ),
                (
                    "pay_what_you_can",
                    "Pay what you can",
                    "Clients pay what they are able to, or nothing.",
                ),
            ]),
        },
        Vocabulary {
            facet: Facet::Accessibility,
            taxonomy: "haven-accessibility",
            description: "Physical and communication accessibility of a service or location.",
            param: "accessibility",
            terms: terms(&[
                (
                    "wheelchair",
                    "Wheelchair accessible",
                    "Step-free access for wheelchair users.",
                ),
                (
                    "sign_language",
                    "Sign language",
                    "Staff or interpreters who sign.",
                ),
                (
                    "interpreter",
                    "Interpreter",
                    "Spoken-language interpreting available.",
                ),
                (
                    "hearing_loop",
                    "Hearing loop",
                    "An induction loop for hearing aids.",
                ),
                ("braille", "Braille", "Materials in braille."),
                (
                    "accessible_restroom",
                    "Accessible restroom",
                    "A restroom usable by wheelchair users.",
                ),
            ]),
        },
        Vocabulary {
            facet: Facet::Delivery,
            taxonomy: "haven-delivery",
            description: "How a service is delivered.",
            param: "delivery",
            terms: terms(&[
                (
                    "in_person",
                    "In person",
                    "Delivered face to face at a location.",
                ),
                ("virtual", "Virtual", "Delivered by video or online."),
                ("phone", "Phone", "Delivered by telephone."),
                ("outreach", "Outreach", "Workers come to where people are."),
            ]),
        },
        Vocabulary {
            facet: Facet::LowBarrier,
            taxonomy: "haven-low-barrier",
            description: "What a service does not ask of the people who use it.",
            param: "low_barrier",
            terms: terms(&[
                ("walk_in", "Walk-in", "No appointment needed."),
                (
                    "no_id_required",
                    "No ID required",
                    "No identity document asked for.",
                ),
                (
                    "anonymous",
                    "Anonymous",
                    "Can be used without giving a name.",
                ),
                (
                    "no_abstinence_required",
                    "No abstinence required",
                    "Open to people who are using drugs or alcohol.",
                ),
                (
                    "no_insurance_required",
                    "No insurance required",
                    "Open to people without health insurance.",
                ),
                (
                    "no_referral_required",
                    "No referral required",
                    "Open without a referral from another provider.",
                ),
            ]),
        },
        Vocabulary {
            facet: Facet::Population,
            taxonomy: "haven-population",
            description: "Groups a service is designed for.",
            param: "population",
            terms: terms(&[
                (
                    "people_who_use_drugs",
                    "People who use drugs",
                    "Designed for people who use drugs.",
                ),
                ("youth", "Youth", "Designed for young people."),
                ("women", "Women", "Designed for women."),
                (
                    "lgbtq",
                    "LGBTQ+",
                    "Designed for lesbian, gay, bisexual, trans and queer people.",
                ),
                (
                    "sex_workers",
                    "Sex workers",
                    "Designed for people who sell sex.",
                ),
                ("veterans", "Veterans", "Designed for military veterans."),
                (
                    "families",
                    "Families",
                    "Designed for families and children.",
                ),
                (
                    "homeless",
                    "People experiencing homelessness",
                    "Designed for people without a home.",
                ),
            ]),
        },
    ];
    let mut by_term_id = HashMap::new();
    let mut objects = HashMap::new();
    for v in &all {
        assert!(
            v.terms.len() <= 63,
            "{} has too many terms for a mask",
            v.taxonomy
        );
        for t in &v.terms {
            let object = v.term_object(t);
            by_term_id.insert(object.id.clone(), (v.facet, t.code.clone()));
            let json = serde_json::to_value(&object).expect("a term serialises");
            objects.insert(object.id, json);
        }
    }
    Vocabularies {
        all,
        by_term_id,
        objects,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_contract() {
        assert_eq!(
            taxonomy_id("haven-services").to_string(),
            "ebdff8ee-d22a-5ea6-8cce-5748b9f76074"
        );
        // The ids the SAMHSA fixture uses for the same terms.
        assert_eq!(
            term_id("haven-services", "IH01").to_string(),
            "83484647-f25e-5ad4-851b-b2f749e2fc9c"
        );
        assert_eq!(
            term_id("haven-cost", "medicaid").to_string(),
            "e5c94853-fbea-5088-94b3-30e717def492"
        );
    }

    #[test]
    fn service_types_hold_every_category_and_term() {
        let v = VOCABULARIES.get(Facet::ServiceTypes);
        assert_eq!(v.terms.len(), 52);
        assert_eq!(v.terms.iter().filter(|t| t.parent.is_none()).count(), 10);
        let hr01 = v.bits_with_parent("HR01");
        assert_eq!(hr01, v.bit("HR01").unwrap() | v.bit("HR").unwrap());
    }

    #[test]
    fn term_ids_resolve_to_codes() {
        let id = term_id("haven-low-barrier", "walk_in").to_string();
        assert_eq!(
            VOCABULARIES.term_by_id(&id),
            Some((Facet::LowBarrier, "walk_in"))
        );
    }
}
