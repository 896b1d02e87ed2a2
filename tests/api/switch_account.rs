//! Switch Account: own account first, then the shared ones; only real
//! memberships can be chosen.

use crate::helpers::{spawn_app, TestApp, PASSWORD};

#[tokio::test]
async fn switch_account_lists_the_own_account_first_and_switches_the_active_account() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let zed = app.register("Zed", "zed@example.com").await;
    let bob = app.member_of(&ann, "Ann's account", "Bob", "bob@example.com", &["invoices", "tickets"]).await;
    let link = app.invite_and_get_link(&zed, "Zed's account", "bob@example.com", &[]).await;
    bob.post_form(&format!("{link}/accept"), &[]).await.assert_redirect_to("/");

    let page = bob.get("/accounts/switch").await;
    let names = page.texts("#accounts td[data-label=Account]");
    assert_eq!(names, vec!["Bob's account", "Ann's account", "Zed's account"]);
    let owners = page.texts("#accounts td[data-label=Owner]");
    assert_eq!(owners, vec!["You", "Ann", "Zed"]);
    let access = page.texts("#accounts td[data-label='Your access']");
    assert_eq!(access[1], "View & Pay Invoices, View & Open Support Tickets");

    let ann_account = app.own_account_id("ann@example.com").await.to_string();
    bob.post_form("/accounts/switch", &[("account_id", &ann_account)]).await.assert_redirect_to("/");
    let home = bob.get("/").await;
    assert_eq!(home.texts(".active-account"), vec!["Ann's account"]);
    assert!(home.texts(".flash").contains(&"You are now working in Ann's account.".to_string()));
}

#[tokio::test]
async fn a_user_with_no_other_accounts_sees_only_their_own() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    assert_eq!(ann.get("/accounts/switch").await.texts("#accounts td[data-label=Account]"), vec!["Ann's account"]);
}

#[tokio::test]
async fn switching_to_an_account_one_is_not_a_member_of_is_refused() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    app.register("Zed", "zed@example.com").await;
    let zed_account = app.own_account_id("zed@example.com").await.to_string();
    let res = ann.post_form("/accounts/switch", &[("account_id", &zed_account)]).await;
    assert_eq!(res.status, 403);
    assert!(res.body.contains("You do not have access to that account"));
    assert_eq!(ann.post_form("/accounts/switch", &[("account_id", "not-a-uuid")]).await.status, 400);
    assert_eq!(ann.get("/").await.texts(".active-account"), vec!["Ann's account"]);
}

#[tokio::test]
async fn switch_account_is_searchable_and_paged_for_resellers() {
    let app = spawn_app().await;
    let reseller = app.register("Rita Reseller", "rita@example.com").await;
    let rita = app.user_id("rita@example.com").await;
    let clients: Vec<(String, String)> =
        (1..=70).map(|g| (format!("Client {g} Hosting_100%"), format!("Client {g}"))).collect();
    shared_with(&app, rita, &clients).await;
    let first = reseller.get("/accounts/switch").await;
    let names = first.texts("#accounts td[data-label=Account]");
    assert_eq!(names.len(), 50);
    assert_eq!(names[0], "Rita Reseller's account", "own account first");
    let more = first.attr("nav.pager a", "href").expect("a next page");
    let second = reseller.get(&more).await;
    let rest = second.texts("#accounts td[data-label=Account]");
    assert_eq!(rest.len(), 21);
    assert!(rest.iter().all(|n| !names.contains(n)));

    let mut found = reseller.get("/accounts/switch?q=client+7").await.texts("#accounts td[data-label=Account]");
    found.sort();
    assert_eq!(found, vec!["Client 7 Hosting_100%", "Client 70 Hosting_100%"]);
    // A search is paged like the list.
    let hosting = reseller.get("/accounts/switch?q=HOSTING").await;
    let first_matches = hosting.texts("#accounts td[data-label=Account]");
    assert_eq!(first_matches.len(), 50);
    let more = hosting.attr("nav.pager a", "href").expect("a next page of matches");
    let rest = reseller.get(&more).await.texts("#accounts td[data-label=Account]");
    assert_eq!(rest.len(), 20);
    assert!(rest.iter().all(|n| n.ends_with("Hosting_100%") && !first_matches.contains(n)));
    // A search of several words (it takes the words index) pages in the
    // same order.
    let several = reseller.get("/accounts/switch?q=hosting_100").await;
    assert_eq!(several.texts("#accounts td[data-label=Account]"), first_matches);
    let more = several.attr("nav.pager a", "href").expect("a next page of matches");
    assert_eq!(reseller.get(&more).await.texts("#accounts td[data-label=Account]"), rest);
    // By the owner's name too, and never an account the login cannot reach
    // however well it matches.
    sqlx::query("UPDATE users SET name = 'Zed Owner' WHERE name = 'Client 5'").execute(&app.db).await.unwrap();
    app.register("Zed Outsider", "zed@example.com").await;
    assert_eq!(
        reseller.get("/accounts/switch?q=zed").await.texts("#accounts td[data-label=Account]"),
        vec!["Client 5 Hosting_100%"]
    );
    // Wildcards in the search are taken literally.
    assert!(reseller.get("/accounts/switch?q=%25").await.texts("#accounts td[data-label=Account]").len() == 50);
    assert_eq!(
        reseller.get("/accounts/switch?q=xyz_").await.texts("#accounts td"),
        vec!["No account matches \"xyz_\"."]
    );
    assert_eq!(reseller.get("/accounts/switch?after=bogus").await.status, 400);
}

#[tokio::test]
async fn switch_account_search_follows_an_owner_renamed_and_a_change_of_owner() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    app.register("Carol Jones", "carol@example.com").await;
    let bob = app.member_of(&ann, "Ann's account", "Bob", "bob@example.com", &["invoices"]).await;
    let found = |page: crate::helpers::browser::Page| page.texts("#accounts td[data-label=Account]");

    ann.post_form("/profile/name", &[("name", "Ann Smith")]).await.assert_redirect_to("/profile");
    assert_eq!(found(bob.get("/accounts/switch?q=SMITH").await), vec!["Ann's account"], "by the new name, any case");
    let owners = |page: crate::helpers::browser::Page| page.texts("#accounts td[data-label=Owner]");
    assert_eq!(owners(bob.get("/accounts/switch").await), vec!["You", "Ann Smith"], "the list shows the new name");
    // A change of case alone leaves the search column as it was, and still
    // shows on the page.
    ann.post_form("/profile/name", &[("name", "Ann SMITH")]).await.assert_redirect_to("/profile");
    assert_eq!(owners(bob.get("/accounts/switch").await), vec!["You", "Ann SMITH"]);
    assert_eq!(owners(bob.get("/accounts/switch?q=ann+sm").await), vec!["Ann SMITH"], "and in a search");
    // A control character cannot join the two names in one match.
    assert!(found(bob.get("/accounts/switch?q=account%0Aann").await).is_empty());

    let staff = app.staff("help@example.com").await;
    let account = app.own_account_id("ann@example.com").await;
    let ann_id = app.user_id("ann@example.com").await.to_string();
    staff
        .post_form(
            &format!("/admin/accounts/{account}/transfer"),
            &[
                ("expected_owner", ann_id.as_str()),
                ("new_owner_email", "carol@example.com"),
                ("reason", "Ann sold the business to Carol"),
                ("password", crate::helpers::STAFF_PASSWORD),
            ],
        )
        .await
        .assert_redirect_to(&format!("/admin/accounts/{account}"));
    assert_eq!(found(bob.get("/accounts/switch?q=jones").await), vec!["Ann's account"], "the new owner's name");
    assert_eq!(owners(bob.get("/accounts/switch").await), vec!["You", "Carol Jones"]);
    assert_eq!(
        bob.get("/accounts/switch?q=smith").await.texts("#accounts td"),
        vec!["No account matches \"smith\"."],
        "not the previous owner's"
    );
}

#[tokio::test]
async fn a_search_of_several_words_finds_them_anywhere_in_the_names_as_one_word_does() {
    let app = spawn_app().await;
    let reseller = app.register("Rita Reseller", "rita@example.com").await;
    let rita = app.user_id("rita@example.com").await;
    // Names with the characters that split words: a hyphen, an underscore,
    // letters outside a-z, digits run into letters.
    let names = [
        ("Café-Bar 9", "Öl Büro"),
        ("Café-Bar 90", "Jo Smith"),
        ("Client_7 Hosting", "Ann Ng"),
        ("Crowbar 19", "Ölbau 12x"),
        ("Web Hosting", "Ed Web2"),
        ("K2 Summit", "Al Ng"),
    ];
    shared_with(&app, rita, &names.map(|(a, o)| (a.to_string(), o.to_string()))).await;
    let found = |q: &'static str| {
        let reseller = &reseller;
        async move {
            let mut names = reseller
                .get(&format!("/accounts/switch?q={}", percent_encoded(q)))
                .await
                .texts("#accounts td[data-label=Account]");
            names.sort();
            names
        }
    };
    // The first word may end a longer word; the others begin one.
    assert_eq!(found("afé-bar 9").await, vec!["Café-Bar 9", "Café-Bar 90"]);
    assert_eq!(found("ar 9").await, vec!["Café-Bar 9", "Café-Bar 90"]);
    assert_eq!(found("CAFÉ-BAR 9").await, vec!["Café-Bar 9", "Café-Bar 90"]);
    assert_eq!(found("t_7 host").await, vec!["Client_7 Hosting"]);
    assert_eq!(found("bar 1").await, vec!["Crowbar 19"]);
    assert_eq!(found("bar 9").await, vec!["Café-Bar 9", "Café-Bar 90"], "not \"Crowbar 19\"");
    // Across the account's name into the owner's, and letters outside a-z.
    assert_eq!(found("öl bü").await, vec!["Café-Bar 9"]);
    assert_eq!(found("lbau 12").await, vec!["Crowbar 19"]);
    assert_eq!(found("ed web2").await, vec!["Web Hosting"]);
    // A later word in the middle of a word of the names is not a match.
    assert_eq!(found("web osting").await, Vec::<String>::new());
    assert_eq!(found("k2 s").await, vec!["K2 Summit"]);
    // Never an account the login cannot reach, however well it matches.
    app.register("Öl Büro", "buro@example.com").await;
    sqlx::query("UPDATE accounts SET name = 'Café-Bar 95' WHERE id = $1")
        .bind(app.own_account_id("buro@example.com").await)
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(found("bar 9").await, vec!["Café-Bar 9", "Café-Bar 90"]);
    assert_eq!(found("öl bü").await, vec!["Café-Bar 9"]);
}

#[tokio::test]
async fn a_fresh_session_starts_in_the_own_account_switch_account_lists_first() {
    let app = spawn_app().await;
    app.register("Ann", "ann@example.com").await;
    // A second account of Ann's, made at the same moment as her first (as
    // accepting an invitation makes two, and a transfer can leave both
    // owned), whose id sorts last, written after hers.
    sqlx::query(
        "WITH a AS (INSERT INTO accounts (id, name) VALUES ('ffffffff-ffff-4fff-bfff-ffffffffffff', 'Ann Two') RETURNING id)
         INSERT INTO memberships (account_id, user_id, is_owner, all_permissions, created_at)
         SELECT a.id, m.user_id, true, true, m.created_at FROM a, memberships m JOIN users u ON u.id = m.user_id
         WHERE u.email = 'ann@example.com' AND m.is_owner",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let ann = app.browser();
    ann.post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)]).await.assert_redirect_to("/");
    let listed = ann.get("/accounts/switch").await.texts("#accounts td[data-label=Account]");
    assert_eq!(listed, vec!["Ann's account", "Ann Two"]);
    assert_eq!(ann.get("/").await.texts(".active-account"), vec!["Ann's account"]);
}

/// Accounts shared with `login` (View & Open Support Tickets), each with an
/// owner of its own: (account name, owner name), every name different.
/// Confirmed owners (as real customers would be: unconfirmed ones would
/// count against the total registration cap).
async fn shared_with(app: &TestApp, login: uuid::Uuid, accounts: &[(String, String)]) {
    let (account_names, owner_names): (Vec<String>, Vec<String>) = accounts.iter().cloned().unzip();
    sqlx::query(
        "WITH n(account, owner) AS (SELECT * FROM unnest($2::text[], $3::text[])),
              o AS (INSERT INTO users (id, email, name, password_hash, email_verified_at)
                    SELECT gen_random_uuid(), 'o' || md5(owner) || '@example.com', owner, 'x', now() FROM n
                    RETURNING id, name),
              a AS (INSERT INTO accounts (id, name) SELECT gen_random_uuid(), account FROM n RETURNING id, name),
              pairs AS (SELECT a.id AS account_id, o.id AS owner_id FROM n JOIN a ON a.name = n.account JOIN o ON o.name = n.owner),
              owners AS (INSERT INTO memberships (account_id, user_id, is_owner, all_permissions) SELECT account_id, owner_id, true, true FROM pairs)
         INSERT INTO memberships (account_id, user_id, permissions) SELECT account_id, $1, '{tickets}' FROM pairs",
    )
    .bind(login)
    .bind(account_names)
    .bind(owner_names)
    .execute(&app.db)
    .await
    .unwrap();
}

fn percent_encoded(q: &str) -> String {
    q.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}
