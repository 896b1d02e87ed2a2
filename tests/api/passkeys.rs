//! Passkeys against a software authenticator (webauthn-authenticator-rs's
//! SoftPasskey, which makes real signed registrations and assertions), sent
//! the way `static/passkeys.js` sends them.

use webauthn_authenticator_rs::{softpasskey::SoftPasskey, WebauthnAuthenticator};
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

use crate::helpers::{browser::Page, spawn_app, Browser, TestApp, PASSWORD};

/// The origin browsers use for passkeys on a local panel (see
/// `security::webauthn::relying_party`).
fn origin(app: &TestApp) -> Url {
    Url::parse(&app.address.replace("127.0.0.1", "localhost")).unwrap()
}

async fn add_passkey(app: &TestApp, b: &Browser, device: &mut SoftPasskey, name: &str) -> Page {
    let start = b.post_form("/security/passkeys/start", &[("name", name)]).await;
    assert_eq!(start.status, 200, "{}", start.body);
    let options: CreationChallengeResponse = serde_json::from_str(&start.body).unwrap();
    let answer = device.do_registration(origin(app), options).expect("the device signs up");
    b.post_form("/security/passkeys/finish", &[("credential", &serde_json::to_string(&answer).unwrap())]).await
}

/// Starts a passkey ceremony at `start` and answers it with `device`.
async fn use_passkey(
    app: &TestApp,
    b: &Browser,
    device: &mut SoftPasskey,
    start: &str,
    finish: &str,
    fields: &[(&str, &str)],
) -> Page {
    let res = b.post_form(start, fields).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let options: RequestChallengeResponse = serde_json::from_str(&res.body).unwrap();
    let answer = device.do_authentication(origin(app), options).expect("the device signs");
    b.post_form(finish, &[("credential", &serde_json::to_string(&answer).unwrap())]).await
}

#[tokio::test]
async fn a_passkey_is_added_named_and_then_signs_in_from_the_sign_in_page() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let mut laptop = SoftPasskey::new(true);
    add_passkey(&app, &ann, &mut laptop, "Work laptop").await.assert_redirect_to("/security");
    let page = ann.get("/security").await;
    assert!(page.texts("#passkeys td[data-label=Name]").contains(&"Work laptop".to_string()));
    assert!(page.texts("#two-factor-state").concat().contains("On"), "a passkey turns two-factor sign-in on");
    app.mail.wait_for("ann@example.com", "A passkey was added").await;
    // The sign-in page: the address, then the passkey. Both factors in one.
    let b = app.browser();
    use_passkey(
        &app,
        &b,
        &mut laptop,
        "/login/passkey/start",
        "/login/passkey/finish",
        &[("email", "ann@example.com")],
    )
    .await
    .assert_redirect_to("/");
    assert_eq!(b.get("/").await.texts("details.menu summary"), ["Hello, Ann"]);
    // An address without a passkey gets a plain answer and no challenge.
    let res = app.browser().post_form("/login/passkey/start", &[("email", "nobody@example.com")]).await;
    assert_eq!(res.status, 404);
    assert!(res.text().contains("No passkey is registered for this address here."));
}

#[tokio::test]
async fn a_passkey_is_a_second_step_and_its_answers_count_once() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let mut key = SoftPasskey::new(true);
    add_passkey(&app, &ann, &mut key, "Phone").await.assert_redirect_to("/security");
    let b = app.browser();
    b.post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)])
        .await
        .assert_redirect_to("/login/two-factor");
    let step = b.get("/login/two-factor").await;
    assert!(step.attr("form[data-passkey=get]", "action").is_some(), "the step offers the passkey");
    // An answer from another device (a passkey of another login) is refused.
    let mut stranger = SoftPasskey::new(true);
    let bob = app.register("Bob", "bob@example.com").await;
    add_passkey(&app, &bob, &mut stranger, "Bob's").await.assert_redirect_to("/security");
    let res = b.post_form("/login/two-factor/passkey/start", &[]).await;
    let options: RequestChallengeResponse = serde_json::from_str(&res.body).unwrap();
    assert!(
        stranger.do_authentication(origin(&app), options).is_err(),
        "Bob's device has no credential Ann's login allows"
    );
    // Ann's own passkey passes the step.
    let res = b.post_form("/login/two-factor/passkey/start", &[]).await;
    let options: RequestChallengeResponse = serde_json::from_str(&res.body).unwrap();
    let answer = serde_json::to_string(&key.do_authentication(origin(&app), options).unwrap()).unwrap();
    b.post_form("/login/two-factor/passkey/finish", &[("credential", &answer)]).await.assert_redirect_to("/");
    assert_eq!(b.get("/").await.status, 200);
    // The same answer again: the ceremony is spent.
    let again = app.browser();
    again.post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(again.post_form("/login/two-factor/passkey/finish", &[("credential", &answer)]).await.status, 410);
    assert_eq!(again.get("/").await.status, 303, "not signed in");
    // Nonsense instead of an answer.
    again.post_form("/login/two-factor/passkey/start", &[]).await;
    assert_eq!(again.post_form("/login/two-factor/passkey/finish", &[("credential", "{not json")]).await.status, 400);
}

#[tokio::test]
async fn removing_a_passkey_needs_the_password_and_it_signs_in_no_more() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let mut key = SoftPasskey::new(true);
    add_passkey(&app, &ann, &mut key, "Old phone").await.assert_redirect_to("/security");
    let id: String = sqlx::query_scalar("SELECT id::text FROM passkeys").fetch_one(&app.db).await.unwrap();
    let res = ann.post_form(&format!("/security/passkeys/{id}/remove"), &[("password", "wrong password!")]).await;
    assert_eq!(res.status, 422);
    assert_eq!(app.count("SELECT count(*) FROM passkeys").await, 1);
    let bob = app.register("Bob", "bob@example.com").await;
    assert_eq!(bob.post_form(&format!("/security/passkeys/{id}/remove"), &[("password", PASSWORD)]).await.status, 404);
    ann.post_form(&format!("/security/passkeys/{id}/remove"), &[("password", PASSWORD)])
        .await
        .assert_redirect_to("/security");
    app.mail.wait_for("ann@example.com", "A passkey was removed").await;
    let res = app.browser().post_form("/login/passkey/start", &[("email", "ann@example.com")]).await;
    assert_eq!(res.status, 404);
    app.browser()
        .post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)])
        .await
        .assert_redirect_to("/");
    // A passkey needs a name.
    let res = ann.post_form("/security/passkeys/start", &[("name", "  ")]).await;
    assert_eq!(res.status, 400);
}

#[tokio::test]
async fn the_last_passkey_of_an_owner_who_requires_two_factor_cannot_be_removed() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let mut key = SoftPasskey::new(true);
    add_passkey(&app, &ann, &mut key, "Phone").await.assert_redirect_to("/security");
    ann.post_form("/users/two-factor-rule", &[("require", "yes")]).await.assert_redirect_to("/users");
    let id: String = sqlx::query_scalar("SELECT id::text FROM passkeys").fetch_one(&app.db).await.unwrap();
    let res = ann.post_form(&format!("/security/passkeys/{id}/remove"), &[("password", PASSWORD)]).await;
    assert_eq!(res.status, 422, "{}", res.text());
    assert!(res.text().contains("so you keep it too"), "{}", res.text());
    assert_eq!(app.count("SELECT count(*) FROM passkeys").await, 1, "nothing was changed");
    // With the authenticator app on as well, the passkey is not the last factor.
    app.turn_on_two_factor(&ann).await;
    ann.post_form(&format!("/security/passkeys/{id}/remove"), &[("password", PASSWORD)])
        .await
        .assert_redirect_to("/security");
}

#[tokio::test]
async fn supports_reset_ends_passkeys_too_so_off_means_off() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let mut key = SoftPasskey::new(true);
    add_passkey(&app, &ann, &mut key, "Phone").await.assert_redirect_to("/security");
    let staff = app.staff("help@provider.example").await;
    let ann_id = app.user_id("ann@example.com").await;
    let res = staff.post_form(&format!("/admin/users/{ann_id}/two-factor/reset"), &[("reason", "lost phone")]).await;
    assert_eq!(res.status, 303, "{}", res.text());
    assert_eq!(app.count("SELECT count(*) FROM passkeys").await, 0);
    app.browser()
        .post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)])
        .await
        .assert_redirect_to("/");
}
