//! Search: parameters, derived index rows, opening hours, distances and the query itself.

pub mod answers;
pub mod filters;
pub mod hours;
pub mod index;
pub mod keyword;
pub mod nearby;
pub mod place;
pub mod postings;
pub mod query;
pub mod week;
