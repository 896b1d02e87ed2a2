//! Who is asking: the signed-in login and the account it works in, as one
//! request resolved them (`auth::session` loads them; pages, guards and the
//! layout read them).

use std::sync::Arc;

use uuid::Uuid;

use crate::domain::permissions::{Grant, Permission};

#[derive(Clone, Debug)]
pub struct ActiveAccount {
    pub id: Uuid,
    pub name: String,
    pub is_owner: bool,
    pub grant: Grant,
    /// The services and domains a scoped member reaches (their ids); None:
    /// all of them. Sections pass it to the `visible_*` SQL functions.
    pub scope: Option<Vec<Uuid>>,
}

impl ActiveAccount {
    /// The scope as a query binds it (NULL: everything in the account).
    pub fn scope(&self) -> Option<&[Uuid]> {
        self.scope.as_deref()
    }

    /// The owner may do everything; a member what was granted.
    pub fn allows(&self, permission: Permission) -> bool {
        self.is_owner || self.grant.allows(permission)
    }
}

#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub session_id: Uuid,
    /// When the session began (for the absolute timeout).
    pub session_started: time::OffsetDateTime,
    pub id: Uuid,
    pub email: String,
    /// The login's address proved it receives mail (a link was used).
    pub email_verified: bool,
    /// The login signs in with a second step.
    pub two_factor: bool,
    pub name: String,
    pub is_staff: bool,
    pub csrf_token: String,
    /// A one-time message to show on this page (then cleared).
    pub flash: Option<String>,
    pub account: Option<ActiveAccount>,
    /// Support staff viewing the client area as this user: (id, name).
    pub impersonator: Option<(Uuid, String)>,
    /// The configuration's warning that stand-in outside systems answer
    /// (shown on every page this person sees).
    pub stand_in_notice: Option<Arc<str>>,
}

/// Put on a request by `error_pages`: whoever the request turned out to be
/// signed in as, so an error page can show that person's own frame without
/// looking them up again.
#[derive(Clone, Default)]
pub struct SeenUser(Arc<std::sync::Mutex<Option<CurrentUser>>>);

impl SeenUser {
    pub fn set(&self, user: &CurrentUser) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(user.clone());
        }
    }

    pub fn get(&self) -> Option<CurrentUser> {
        self.0.lock().ok().and_then(|slot| slot.clone())
    }
}
