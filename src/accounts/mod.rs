//! The client-area home of the active account, and Switch Account.

use askama::Template;
use axum::{
    extract::{Query, State},
    response::{IntoResponse, Redirect, Response},
    routing::get,
    Router,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    auth::{
        csrf::CsrfForm,
        session::{self, CurrentUser},
    },
    domain::permissions::Grant,
    error::AppError,
    layout::Layout,
    state::AppState,
    web,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(home)).route("/accounts/switch", get(switch_page).post(switch))
}

#[derive(Template)]
#[template(path = "accounts/home.html")]
struct HomePage {
    layout: Layout,
    account_name: Option<String>,
    is_owner: bool,
    permissions: Vec<&'static str>,
}

async fn home(user: CurrentUser) -> Result<Response, AppError> {
    if user.is_staff {
        return Ok(Redirect::to("/admin").into_response());
    }
    let (account_name, is_owner, permissions) = match &user.account {
        Some(a) => {
            (Some(a.name.clone()), a.is_owner, if a.is_owner { vec!["All Permissions"] } else { a.grant.labels() })
        }
        None => (None, false, Vec::new()),
    };
    web::render(&HomePage { layout: Layout::of(&user), account_name, is_owner, permissions })
}

#[derive(sqlx::FromRow)]
pub struct AccountRow {
    pub id: Uuid,
    pub name: String,
    pub is_owner: bool,
    pub all_permissions: bool,
    pub permissions: Vec<String>,
    pub owner_name: String,
}

impl AccountRow {
    pub fn access(&self) -> String {
        if self.is_owner {
            "Owner".into()
        } else {
            Grant::from_row(self.all_permissions, &self.permissions).describe()
        }
    }
}

/// The user's accounts: those they own first, then the others in the
/// order they were joined; optionally filtered by a search in account and
/// owner names; a page at a time after `after`.
async fn accessible(
    db: &sqlx::PgPool,
    user_id: Uuid,
    search: &str,
    after: Option<Uuid>,
    now: time::OffsetDateTime,
) -> Result<Vec<AccountRow>, sqlx::Error> {
    let cursor = if after.is_none() {
        ""
    } else {
        "AND (NOT m.is_owner, m.created_at, m.account_id) >
             (SELECT NOT c.is_owner, c.created_at, c.account_id FROM memberships c WHERE c.user_id = $1 AND c.account_id = $4)"
    };
    // The login's memberships whose access has not ended, in list order, a
    // page after the cursor: the same for the list and for a search. The
    // login test and the owner-first key are the caller's, as one search
    // writes them so the planner reads them differently (see below). Only
    // our own fixed fragments are joined in; every value is bound.
    let live_in_order = |login: &str, filter: &str, owner_first: &str| {
        format!(
            "WHERE {login} AND (m.access_until IS NULL OR m.access_until > $3) {filter} {cursor}
             ORDER BY {owner_first}, m.created_at, m.account_id
             LIMIT $2"
        )
    };
    const LOGIN: &str = "m.user_id = $1";
    const OWNER_FIRST: &str = "NOT m.is_owner";
    // Each membership carries its account's and its owner's names
    // (migration 20): the page reads one table, whichever way it is found.
    const ROW: &str = "SELECT m.account_id AS id, m.account_name AS name, m.is_owner, m.all_permissions, m.permissions,
                              m.owner_name
                       FROM memberships m";
    if search.is_empty() {
        // The list: read straight off the list-order index, so a reseller
        // with thousands of accounts pays for one page.
        return sqlx::query_as(&format!("{ROW} {}", live_in_order(LOGIN, "", OWNER_FIRST)))
            .bind(user_id)
            .bind(web::PAGE_SIZE + 1)
            .bind(now)
            .bind(after)
            .fetch_all(db)
            .await;
    }
    // A membership matches when the search is anywhere in its names.
    if has_later_word(search) {
        // Its words after the first must each begin a word of the names,
        // which the words index finds (migration 19) without reading the
        // trigrams of a word most names share; the exact test, `strpos`,
        // runs on those rows only. The index is asked for the login's
        // word; `user_id = $1` also holds, but written as a test the
        // list-order index cannot serve, so that one prepared statement's
        // generic plan takes the words index for every login and search
        // (it would otherwise assume one or two memberships and walk a
        // reseller's 5,000). The same order as the list (`is_owner DESC`
        // is `NOT is_owner`, without computing it per row for the sort).
        return sqlx::query_as(&format!(
            "{ROW} {}",
            live_in_order(
                "(m.user_id = $1) IS TRUE",
                "AND m.search_words @@ membership_words_query($1, $5) AND strpos(m.search, lower($5)) > 0",
                "m.is_owner DESC"
            )
        ))
        .bind(user_id)
        .bind(web::PAGE_SIZE + 1)
        .bind(now)
        .bind(after)
        .bind(search)
        .fetch_all(db)
        .await;
    }
    // One word: off the trigram index over each membership's names. The
    // statement must be planned for the search at hand: a prepared
    // statement's generic plan assumes a login has one or two memberships
    // and walks them all testing names, so it is sent unprepared (planning
    // it costs about 0.2 ms).
    sqlx::query_as(&format!("{ROW} {}", live_in_order(LOGIN, "AND m.search LIKE lower($5)", OWNER_FIRST)))
        .bind(user_id)
        .bind(web::PAGE_SIZE + 1)
        .bind(now)
        .bind(after)
        .bind(web::contains_pattern(search))
        .persistent(false)
        .fetch_all(db)
        .await
}

/// Whether a word of the search begins after its start: two or more
/// letters or digits (a-z, 0-9) after any other character. Such a word must
/// begin a word of the names too, which the words index answers (see
/// `accessible`; one character would gather too much, migration 19).
/// Should Postgres, lower-casing, find no such word after all, the query it
/// builds asks for the login's memberships alone and the exact test decides.
fn has_later_word(search: &str) -> bool {
    let chars: Vec<char> = search.chars().collect();
    let word = |c: &char| c.is_ascii_alphanumeric();
    chars.windows(3).any(|w| !word(&w[0]) && word(&w[1]) && word(&w[2]))
}

#[derive(Template)]
#[template(path = "accounts/switch.html")]
struct SwitchPage {
    layout: Layout,
    accounts: Vec<AccountRow>,
    active: Option<Uuid>,
    q: String,
    next: Option<Uuid>,
    paged: bool,
}

#[derive(Deserialize)]
struct SwitchQuery {
    #[serde(default)]
    q: String,
    after: Option<String>,
}

async fn switch_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<SwitchQuery>,
) -> Result<Response, AppError> {
    let after = match query.after.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            Uuid::parse_str(s)
                .map_err(|_| AppError::BadRequest("That page link is not valid. Go back to the first page.".into()))?,
        ),
    };
    // No name holds a control character (the line break between the two
    // names in the search column among them), so a search never needs one.
    let q: String = query.q.chars().filter(|c| !c.is_control()).collect::<String>().trim().chars().take(100).collect();
    let mut accounts = accessible(&state.db, user.id, &q, after, state.config.clock.now()).await?;
    let next = web::next_page(&mut accounts, |a| a.id);
    web::render(&SwitchPage {
        layout: Layout::of(&user),
        active: user.account.as_ref().map(|a| a.id),
        accounts,
        q,
        next,
        paged: after.is_some(),
    })
}

#[derive(Deserialize)]
struct SwitchForm {
    account_id: Uuid,
}

async fn switch(
    State(state): State<AppState>,
    user: CurrentUser,
    CsrfForm(form): CsrfForm<SwitchForm>,
) -> Result<Response, AppError> {
    // An account that requires two-factor sign-in opens only to members who have it.
    let target = sqlx::query!(
        r#"WITH target AS (
               SELECT a.id, a.name, a.require_two_factor AND NOT m.is_owner AND NOT has_two_factor($1) AS refused,
                      m.access_until <= $4 AS ended
               FROM memberships m JOIN accounts a ON a.id = m.account_id
               WHERE m.user_id = $1 AND m.account_id = $2
           ), upd AS (
               UPDATE sessions SET active_account_id = target.id, flash = 'You are now working in ' || target.name || '.'
               FROM target WHERE sessions.id = $3 AND NOT target.refused AND target.ended IS NOT TRUE
           )
           SELECT name AS "name!", refused AS "refused!", ended FROM target"#,
        user.id,
        form.account_id,
        user.session_id,
        state.config.clock.now()
    )
    .fetch_optional(&state.db)
    .await?;
    match target {
        Some(t) if t.ended == Some(true) => Err(AppError::Forbidden(format!(
            "Your access to {} has ended. Ask its owner if you need it again.",
            t.name
        ))),
        Some(t) if t.refused => {
            let flash = format!(
                "{} requires two-factor sign-in for everyone with access. Set it up here, then switch to it.",
                t.name
            );
            session::set_flash(&state.db, user.session_id, &flash).await?;
            Ok(Redirect::to("/security").into_response())
        }
        Some(_) => Ok(Redirect::to("/").into_response()),
        None => Err(AppError::Forbidden("You do not have access to that account. Ask its owner to invite you.".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::has_later_word;

    #[test]
    fn a_later_word_is_two_letters_or_digits_after_anything_else() {
        assert!(has_later_word("client 12"));
        assert!(has_later_word("café-bar"));
        assert!(has_later_word("-acme"));
        assert!(has_later_word("éab"), "a letter outside a-z ends a word");
        assert!(!has_later_word("client 1"), "one character does not narrow");
        assert!(!has_later_word("acme"));
        assert!(!has_later_word("xyz_"));
        assert!(!has_later_word("%"));
        assert!(!has_later_word("café"), "nothing begins after the last letter");
    }
}
