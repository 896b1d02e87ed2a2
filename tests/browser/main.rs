//! The help articles' flows in headless Chromium against the real server,
//! a real Postgres and a real loopback SMTP server.

#[allow(dead_code)]
#[path = "../api/helpers/mod.rs"]
mod helpers;

mod driver;
mod pages;
mod scenarios;
