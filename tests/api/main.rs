//! Every HTTP test runs in this one binary: one Postgres cluster for the
//! run, a fresh database per test, a real SMTP listener per test.

mod helpers;

mod abuse;
mod access_until;
mod auth;
mod deploy;
mod drills;
mod foundation;
mod grants;
mod hostile;
mod hostile_load;
mod invitation_history;
mod invitations;
mod members_api;
mod operations;
mod outside_drills;
mod outside_systems;
mod passkeys;
mod scoped_access;
mod section_permissions;
mod sections;
mod soak;
mod staff;
mod switch_account;
mod two_factor;
mod user_management;
mod webhooks;
