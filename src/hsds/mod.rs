//! HSDS 3.0 wire types and their validation.

pub mod model;
pub mod validate;
