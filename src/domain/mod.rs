//! Domain types and rules that know nothing of HTTP or the database.

pub mod email;
pub mod permissions;
pub mod token;
