//! Domain types and rules that know nothing of HTTP or the database.

pub mod audit;
pub mod cursor;
pub mod email;
pub mod end_date;
pub mod invitation;
pub mod money;
pub mod names;
pub mod password;
pub mod permissions;
pub mod token;
pub mod webhook_event;
