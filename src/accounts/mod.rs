//! Partner accounts: organisations' users, API clients, tokens.

pub mod api_clients;
pub mod store;
pub mod token;
pub mod users;
