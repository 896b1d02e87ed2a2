//! A self-hosted client billing panel: multi-user client accounts.

pub mod accounts;
pub mod addresses;
pub mod admin;
pub mod app;
pub mod audit;
pub mod auth;
pub mod change;
pub mod clock;
pub mod config;
pub mod db;
pub mod dev_mailbox;
pub mod domain;
pub mod error;
pub mod error_pages;
pub mod hashing;
pub mod health;
pub mod identity;
pub mod invitations;
pub mod layout;
pub mod mail;
pub mod sections;
pub mod security;
pub mod seed;
pub mod state;
pub mod users;
pub mod web;
