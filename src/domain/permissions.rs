//! The thirteen permissions (DESIGN.md section 3), with the labels and the
//! one-line explanations customers read in the help articles.
//!
//! A permission is a `Permission`, never a bare string: a misspelled
//! `Permission::ManageProdcts` does not compile. The keys are the stable
//! strings stored in the database and shared with the best-known panel.

use std::{fmt, str::FromStr};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    Profile,
    Contacts,
    Products,
    ManageProducts,
    ProductSso,
    Domains,
    ManageDomains,
    Invoices,
    Quotes,
    Tickets,
    Affiliates,
    Emails,
    Orders,
}

impl Permission {
    /// Every permission, in the articles' order (the order forms show).
    pub const ALL: [Permission; 13] = [
        Permission::Profile,
        Permission::Contacts,
        Permission::Products,
        Permission::ManageProducts,
        Permission::ProductSso,
        Permission::Domains,
        Permission::ManageDomains,
        Permission::Invoices,
        Permission::Quotes,
        Permission::Tickets,
        Permission::Affiliates,
        Permission::Emails,
        Permission::Orders,
    ];

    /// The stable key stored in the database.
    pub fn key(self) -> &'static str {
        match self {
            Permission::Profile => "profile",
            Permission::Contacts => "contacts",
            Permission::Products => "products",
            Permission::ManageProducts => "manageproducts",
            Permission::ProductSso => "productsso",
            Permission::Domains => "domains",
            Permission::ManageDomains => "managedomains",
            Permission::Invoices => "invoices",
            Permission::Quotes => "quotes",
            Permission::Tickets => "tickets",
            Permission::Affiliates => "affiliates",
            Permission::Emails => "emails",
            Permission::Orders => "orders",
        }
    }

    /// The label, word for word as in the help articles.
    pub fn label(self) -> &'static str {
        match self {
            Permission::Profile => "Modify Master Account Profile",
            Permission::Contacts => "View & Manage Contacts",
            Permission::Products => "View Products & Services",
            Permission::ManageProducts => "View & Modify Product Passwords",
            Permission::ProductSso => "Perform Single Sign-On",
            Permission::Domains => "View Domains",
            Permission::ManageDomains => "Manage Domain Settings",
            Permission::Invoices => "View & Pay Invoices",
            Permission::Quotes => "View & Accept Quotes",
            Permission::Tickets => "View & Open Support Tickets",
            Permission::Affiliates => "View & Manage Affiliate Account",
            Permission::Emails => "View Emails",
            Permission::Orders => "Place New Orders/Upgrades/Cancellations",
        }
    }

    pub fn explanation(self) -> &'static str {
        match self {
            Permission::Profile => "Access and modify the client profile information",
            Permission::Contacts => "Access and manage contacts",
            Permission::Products => "View access to products, services and addons",
            Permission::ManageProducts => "Allow password resets and other actions",
            Permission::ProductSso => "Allow single sign-on into services",
            Permission::Domains => "View access to domain registrations",
            Permission::ManageDomains => "Allow domain management eg. nameservers/whois/transfers",
            Permission::Invoices => "View and payment access to invoices",
            Permission::Quotes => "View and acceptance permissions for quotes",
            Permission::Tickets => "Access to open, respond and manage support tickets",
            Permission::Affiliates => "Access to view and request withdrawals",
            Permission::Emails => "Access to view account email history",
            Permission::Orders => "Allow placing of new orders",
        }
    }
}

impl Permission {
    /// The help article's caution, shown beside the permission on the forms.
    pub fn warning(self) -> Option<&'static str> {
        match self {
            Permission::Profile => Some("[Please consider carefully before granting this permission]"),
            _ => None,
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A key that names no permission.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a permission.")]
pub struct UnknownPermission(pub String);

impl FromStr for Permission {
    type Err = UnknownPermission;

    fn from_str(key: &str) -> Result<Permission, UnknownPermission> {
        Permission::ALL.into_iter().find(|p| p.key() == key).ok_or_else(|| UnknownPermission(key.to_string()))
    }
}

/// Presets on the invite form, from the help articles' own examples.
pub const PRESETS: [(&str, &[Permission]); 2] = [
    ("Accountant", &[Permission::Invoices, Permission::Quotes, Permission::Emails]),
    (
        "Web developer",
        &[
            Permission::Products,
            Permission::ManageProducts,
            Permission::ProductSso,
            Permission::Domains,
            Permission::ManageDomains,
            Permission::Tickets,
        ],
    ),
];

/// A set of permissions: one bit each, so a grant is copied, compared and
/// described without allocating (a User Management page describes a
/// hundred; issue 17). Iterates in the articles' order.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct PermissionSet(u16);

// A fourteenth to sixteenth permission still fits; past that, a wider set.
const _: () = assert!(Permission::ALL.len() <= 16);

impl PermissionSet {
    fn bit(permission: Permission) -> u16 {
        1 << permission as u16
    }

    pub fn insert(&mut self, permission: Permission) {
        self.0 |= Self::bit(permission);
    }

    pub fn contains(&self, permission: Permission) -> bool {
        self.0 & Self::bit(permission) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    pub fn is_subset(&self, other: &PermissionSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn intersection(&self, other: &PermissionSet) -> PermissionSet {
        PermissionSet(self.0 & other.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = Permission> + '_ {
        Permission::ALL.into_iter().filter(|p| self.contains(*p))
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(permissions: I) -> PermissionSet {
        let mut set = PermissionSet::default();
        permissions.into_iter().for_each(|p| set.insert(p));
        set
    }
}

impl fmt::Debug for PermissionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// What a member may do: everything, or a non-empty set of permissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    All,
    Chosen(PermissionSet),
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("Choose \"All Permissions\" or \"Choose Permissions\".")]
    NoMode,
    #[error("Under \"Choose Permissions\", tick at least one permission.")]
    NoneChosen,
    /// Both "All Permissions" and ticked boxes: granting everything would
    /// give more than the boxes say, so neither is guessed.
    #[error(
        "You selected \"All Permissions\" and also ticked permissions. Select \"Choose Permissions\" to grant only \
         the ticked ones, or untick them all to grant All Permissions."
    )]
    AllWithTicks,
    #[error(transparent)]
    Unknown(#[from] UnknownPermission),
}

impl Grant {
    /// Parses the form's choice: `mode` is `all` or `choose`; `keys` are the
    /// ticked boxes. Unknown keys are refused outright rather than dropped,
    /// and ticked boxes beside `all` are refused rather than widened to
    /// everything: the grant is never more than the person chose.
    pub fn parse(mode: &str, keys: &[String]) -> Result<Grant, GrantError> {
        match mode {
            "all" if keys.is_empty() => Ok(Grant::All),
            "all" => Err(GrantError::AllWithTicks),
            "choose" => {
                let set = keys.iter().map(|k| k.parse()).collect::<Result<PermissionSet, _>>()?;
                if set.is_empty() {
                    Err(GrantError::NoneChosen)
                } else {
                    Ok(Grant::Chosen(set))
                }
            }
            _ => Err(GrantError::NoMode),
        }
    }

    /// From the database's two columns. A key no longer known (a permission
    /// dropped in a later release) grants nothing.
    pub fn from_row(all: bool, keys: &[String]) -> Grant {
        if all {
            return Grant::All;
        }
        Grant::Chosen(keys.iter().filter_map(|k| k.parse().ok()).collect())
    }

    pub fn is_all(&self) -> bool {
        matches!(self, Grant::All)
    }

    pub fn allows(&self, permission: Permission) -> bool {
        match self {
            Grant::All => true,
            Grant::Chosen(set) => set.contains(permission),
        }
    }

    /// Whether this grant allows everything `other` allows.
    pub fn includes(&self, other: &Grant) -> bool {
        match (self, other) {
            (Grant::All, _) => true,
            (Grant::Chosen(_), Grant::All) => false,
            (Grant::Chosen(mine), Grant::Chosen(theirs)) => theirs.is_subset(mine),
        }
    }

    /// What both grants allow: a token's grant narrowed to its creator's
    /// grant at the moment of use. Can be an empty choice (nothing allowed).
    pub fn narrowed_to(&self, other: &Grant) -> Grant {
        match (self, other) {
            (Grant::All, g) | (g, Grant::All) => *g,
            (Grant::Chosen(a), Grant::Chosen(b)) => Grant::Chosen(a.intersection(b)),
        }
    }

    /// The chosen keys for the `permissions` column (empty for All).
    pub fn keys(&self) -> Vec<String> {
        match self {
            Grant::All => Vec::new(),
            Grant::Chosen(set) => set.iter().map(|p| p.key().to_string()).collect(),
        }
    }

    /// "All Permissions", or the chosen labels in the articles' order.
    pub fn labels(&self) -> Vec<&'static str> {
        match self {
            Grant::All => vec![ALL_PERMISSIONS],
            Grant::Chosen(set) => set.iter().map(Permission::label).collect(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Grant::All => ALL_PERMISSIONS.to_string(),
            Grant::Chosen(set) => joined_labels(set.iter()),
        }
    }
}

const ALL_PERMISSIONS: &str = "All Permissions";

/// Labels in the order given, joined as the pages show them.
fn joined_labels(permissions: impl Iterator<Item = Permission>) -> String {
    let mut out = String::new();
    for p in permissions {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(p.label());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_choice_of_stored_keys_is_read_and_described_in_the_articles_order() {
        for mask in 0u32..(1 << Permission::ALL.len()) {
            let chosen: Vec<Permission> =
                Permission::ALL.into_iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, p)| p).collect();
            let mut keys: Vec<String> = chosen.iter().map(|p| p.key().to_string()).collect();
            keys.reverse(); // stored order does not matter
            keys.push("dropped-in-a-later-release".to_string());
            let grant = Grant::from_row(false, &keys);
            for p in Permission::ALL {
                assert_eq!(grant.allows(p), chosen.contains(&p), "{keys:?} {p:?}");
            }
            let labels: Vec<&str> = chosen.iter().map(|p| p.label()).collect();
            assert_eq!(grant.describe(), labels.join(", "), "{keys:?}");
            if !chosen.is_empty() {
                assert_eq!(Grant::parse("choose", &grant.keys()), Ok(grant), "{keys:?}");
            }
        }
    }

    #[test]
    fn a_grant_includes_only_grants_it_allows_all_of() {
        let of = |ps: &[Permission]| Grant::Chosen(ps.iter().copied().collect());
        let both = of(&[Permission::Contacts, Permission::Invoices]);
        assert!(Grant::All.includes(&Grant::All) && Grant::All.includes(&both));
        assert!(both.includes(&of(&[Permission::Invoices])) && both.includes(&both));
        assert!(!both.includes(&Grant::All));
        assert!(!of(&[Permission::Invoices]).includes(&both));
    }

    #[test]
    fn a_narrowed_grant_allows_only_what_both_allow() {
        let of = |ps: &[Permission]| Grant::Chosen(ps.iter().copied().collect());
        let both = of(&[Permission::Contacts, Permission::Invoices]);
        assert_eq!(Grant::All.narrowed_to(&Grant::All), Grant::All);
        assert_eq!(Grant::All.narrowed_to(&both), both);
        assert_eq!(both.narrowed_to(&Grant::All), both);
        assert_eq!(both.narrowed_to(&of(&[Permission::Invoices, Permission::Quotes])), of(&[Permission::Invoices]));
        assert_eq!(both.narrowed_to(&of(&[Permission::Quotes])), of(&[]));
    }

    #[test]
    fn every_key_parses_back_to_its_permission() {
        for p in Permission::ALL {
            assert_eq!(p.key().parse::<Permission>(), Ok(p));
            assert_eq!(p.to_string(), p.key());
        }
        assert_eq!("ManageProducts".parse::<Permission>(), Err(UnknownPermission("ManageProducts".into())));
        assert_eq!("".parse::<Permission>(), Err(UnknownPermission(String::new())));
    }

    #[test]
    fn keys_labels_and_order_match_the_design() {
        let keys: Vec<&str> = Permission::ALL.iter().map(|p| p.key()).collect();
        assert_eq!(
            keys,
            [
                "profile",
                "contacts",
                "products",
                "manageproducts",
                "productsso",
                "domains",
                "managedomains",
                "invoices",
                "quotes",
                "tickets",
                "affiliates",
                "emails",
                "orders"
            ]
        );
        assert_eq!(Permission::ManageDomains.label(), "Manage Domain Settings");
        assert_eq!(Permission::Orders.label(), "Place New Orders/Upgrades/Cancellations");
    }

    #[test]
    fn choose_with_nothing_ticked_is_an_error() {
        assert_eq!(Grant::parse("choose", &[]), Err(GrantError::NoneChosen));
        assert_eq!(Grant::parse("", &["invoices".into()]), Err(GrantError::NoMode));
    }

    #[test]
    fn all_with_ticked_boxes_is_refused_not_widened() {
        assert_eq!(Grant::parse("all", &[]), Ok(Grant::All));
        assert_eq!(Grant::parse("all", &["invoices".into()]), Err(GrantError::AllWithTicks));
        assert_eq!(Grant::parse("all", &["nonsense".into()]), Err(GrantError::AllWithTicks));
    }

    #[test]
    fn unknown_and_duplicated_keys() {
        assert_eq!(Grant::parse("choose", &["admin".into()]), Err(UnknownPermission("admin".into()).into()));
        let g = Grant::parse("choose", &["invoices".into(), "invoices".into()]).unwrap();
        assert_eq!(g.keys(), vec!["invoices".to_string()]);
    }

    #[test]
    fn labels_follow_the_articles_order_whatever_the_ticking_order() {
        let g = Grant::parse("choose", &["emails".into(), "profile".into()]).unwrap();
        assert_eq!(g.labels(), ["Modify Master Account Profile", "View Emails"]);
        assert_eq!(Grant::All.describe(), "All Permissions");
    }

    #[test]
    fn rows_with_unknown_keys_grant_only_the_known_ones() {
        let g = Grant::from_row(false, &["invoices".into(), "retired".into()]);
        assert!(g.allows(Permission::Invoices) && !g.allows(Permission::Orders));
        assert!(Grant::from_row(true, &[]).allows(Permission::Orders));
    }
}
