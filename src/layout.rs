//! What the shared page frame (templates/base.html) needs to know.

use std::sync::Arc;

use crate::{domain::permissions::Permission, identity::CurrentUser};

/// The client-area navigation, each entry shown only to those who hold its
/// permission: (permission, label, link).
/// Every permission has an entry, so each one alone leads somewhere.
pub const NAV: [(Permission, &str, &str); 13] = [
    (Permission::Profile, "Account Profile", "/account/profile"),
    (Permission::Contacts, "Contacts", "/contacts"),
    (Permission::Products, "Services", "/services"),
    (Permission::ManageProducts, "Service Passwords", "/services/passwords"),
    (Permission::ProductSso, "Single Sign-On", "/services/sign-on"),
    (Permission::Domains, "Domains", "/domains"),
    (Permission::ManageDomains, "Domain Settings", "/domains/settings"),
    (Permission::Invoices, "Invoices", "/invoices"),
    (Permission::Quotes, "Quotes", "/quotes"),
    (Permission::Tickets, "Support Tickets", "/tickets"),
    (Permission::Affiliates, "Affiliates", "/affiliates"),
    (Permission::Emails, "Emails", "/emails"),
    (Permission::Orders, "Order", "/orders"),
];

pub struct Layout {
    pub signed_in: bool,
    pub user_name: String,
    pub account_name: Option<String>,
    pub is_owner: bool,
    pub csrf_token: String,
    pub flash: Option<String>,
    pub is_staff: bool,
    /// The staff member viewing the client area as this user.
    pub impersonator: Option<String>,
    pub user_email: String,
    /// The login has not proved its address yet: a banner asks it to.
    pub email_unconfirmed: bool,
    /// The sections this user may open in the active account.
    pub nav: Vec<(&'static str, &'static str)>,
    /// Stand-in outside systems are answering (see `config::OutsideSystems`).
    pub stand_in_notice: Option<Arc<str>>,
}

impl Layout {
    pub fn signed_out() -> Layout {
        Layout {
            signed_in: false,
            user_name: String::new(),
            account_name: None,
            is_owner: false,
            csrf_token: String::new(),
            flash: None,
            is_staff: false,
            impersonator: None,
            user_email: String::new(),
            email_unconfirmed: false,
            nav: Vec::new(),
            stand_in_notice: None,
        }
    }

    pub fn of(user: &CurrentUser) -> Layout {
        Layout {
            signed_in: true,
            user_name: user.name.clone(),
            account_name: user.account.as_ref().map(|a| a.name.clone()),
            is_owner: user.account.as_ref().is_some_and(|a| a.is_owner),
            csrf_token: user.csrf_token.clone(),
            flash: user.flash.clone(),
            is_staff: user.is_staff,
            impersonator: user.impersonator.as_ref().map(|(_, name)| name.clone()),
            user_email: user.email.clone(),
            email_unconfirmed: !user.email_verified,
            nav: match &user.account {
                Some(a) => {
                    NAV.iter().filter(|(key, _, _)| a.allows(*key)).map(|(_, label, href)| (*label, *href)).collect()
                }
                None => Vec::new(),
            },
            stand_in_notice: user.stand_in_notice.clone(),
        }
    }

    pub fn with_flash(mut self, message: impl Into<String>) -> Layout {
        self.flash = Some(message.into());
        self
    }
}
