//! The thirteen permissions (DESIGN.md section 3), with the labels and the
//! one-line explanations customers read in the help articles.

use std::collections::BTreeSet;

pub struct Permission {
    pub key: &'static str,
    pub label: &'static str,
    pub explanation: &'static str,
}

pub const PERMISSIONS: [Permission; 13] = [
    Permission {
        key: "profile",
        label: "Modify Master Account Profile",
        explanation: "Access and modify the client profile information",
    },
    Permission { key: "contacts", label: "View & Manage Contacts", explanation: "Access and manage contacts" },
    Permission {
        key: "products",
        label: "View Products & Services",
        explanation: "View access to products, services and addons",
    },
    Permission {
        key: "manageproducts",
        label: "View & Modify Product Passwords",
        explanation: "Allow password resets and other actions",
    },
    Permission {
        key: "productsso",
        label: "Perform Single Sign-On",
        explanation: "Allow single sign-on into services",
    },
    Permission { key: "domains", label: "View Domains", explanation: "View access to domain registrations" },
    Permission {
        key: "managedomains",
        label: "Manage Domain Settings",
        explanation: "Allow domain management eg. nameservers/whois/transfers",
    },
    Permission { key: "invoices", label: "View & Pay Invoices", explanation: "View and payment access to invoices" },
    Permission {
        key: "quotes",
        label: "View & Accept Quotes",
        explanation: "View and acceptance permissions for quotes",
    },
    Permission {
        key: "tickets",
        label: "View & Open Support Tickets",
        explanation: "Access to open, respond and manage support tickets",
    },
    Permission {
        key: "affiliates",
        label: "View & Manage Affiliate Account",
        explanation: "Access to view and request withdrawals",
    },
    Permission { key: "emails", label: "View Emails", explanation: "Access to view account email history" },
    Permission {
        key: "orders",
        label: "Place New Orders/Upgrades/Cancellations",
        explanation: "Allow placing of new orders",
    },
];

/// Presets on the invite form, from the help articles' own examples.
pub const PRESETS: [(&str, &[&str]); 2] = [
    ("Accountant", &["invoices", "quotes", "emails"]),
    ("Web developer", &["products", "manageproducts", "productsso", "domains", "managedomains", "tickets"]),
];

pub fn label(key: &str) -> Option<&'static str> {
    PERMISSIONS.iter().find(|p| p.key == key).map(|p| p.label)
}

/// What a member may do: everything, or a non-empty set of known keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grant {
    All,
    Chosen(BTreeSet<&'static str>),
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("Choose \"All Permissions\" or \"Choose Permissions\".")]
    NoMode,
    #[error("Under \"Choose Permissions\", tick at least one permission.")]
    NoneChosen,
    #[error("\"{0}\" is not a permission.")]
    Unknown(String),
}

impl Grant {
    /// Parses the form's choice: `mode` is `all` or `choose`; `keys` are the
    /// ticked boxes (ignored with `all`). Unknown keys are refused outright
    /// rather than dropped, so a tampered form changes nothing.
    pub fn parse(mode: &str, keys: &[String]) -> Result<Grant, GrantError> {
        match mode {
            "all" => Ok(Grant::All),
            "choose" => {
                let mut set = BTreeSet::new();
                for k in keys {
                    let p = PERMISSIONS.iter().find(|p| p.key == k).ok_or_else(|| GrantError::Unknown(k.clone()))?;
                    set.insert(p.key);
                }
                if set.is_empty() {
                    Err(GrantError::NoneChosen)
                } else {
                    Ok(Grant::Chosen(set))
                }
            }
            _ => Err(GrantError::NoMode),
        }
    }

    /// From the database's two columns.
    pub fn from_row(all: bool, keys: &[String]) -> Grant {
        if all {
            return Grant::All;
        }
        Grant::Chosen(PERMISSIONS.iter().filter(|p| keys.iter().any(|k| k == p.key)).map(|p| p.key).collect())
    }

    pub fn is_all(&self) -> bool {
        matches!(self, Grant::All)
    }

    pub fn allows(&self, key: &str) -> bool {
        match self {
            Grant::All => true,
            Grant::Chosen(set) => set.contains(key),
        }
    }

    /// The chosen keys for the `permissions` column (empty for All).
    pub fn keys(&self) -> Vec<String> {
        match self {
            Grant::All => Vec::new(),
            Grant::Chosen(set) => set.iter().map(|k| k.to_string()).collect(),
        }
    }

    /// "All Permissions", or the chosen labels in the articles' order.
    pub fn labels(&self) -> Vec<&'static str> {
        match self {
            Grant::All => vec!["All Permissions"],
            Grant::Chosen(set) => PERMISSIONS.iter().filter(|p| set.contains(p.key)).map(|p| p.label).collect(),
        }
    }

    pub fn describe(&self) -> String {
        self.labels().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose_with_nothing_ticked_is_an_error() {
        assert_eq!(Grant::parse("choose", &[]), Err(GrantError::NoneChosen));
    }

    #[test]
    fn unknown_and_duplicated_keys() {
        assert_eq!(Grant::parse("choose", &["admin".into()]), Err(GrantError::Unknown("admin".into())));
        let g = Grant::parse("choose", &["invoices".into(), "invoices".into()]).unwrap();
        assert_eq!(g.keys(), vec!["invoices".to_string()]);
    }

    #[test]
    fn all_allows_everything_and_presets_are_real_keys() {
        assert!(Grant::All.allows("orders"));
        for (_, keys) in PRESETS {
            assert!(keys.iter().all(|k| label(k).is_some()));
        }
    }
}
