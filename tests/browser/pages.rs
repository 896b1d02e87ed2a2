//! Issue 12 in the browser: the grant form cannot over-grant, declining,
//! and every page at 375 and 1280 px.

use crate::{
    driver::{check, finish, Person, ONE_AT_A_TIME},
    helpers::{invite, spawn_app},
    scenarios::{sign_in, staff_sign_in},
};

#[tokio::test]
async fn scenario_9_ticking_boxes_under_all_permissions_is_refused_not_widened() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    app.register("Ann Owner", "ann@example.com").await;
    let owner = Person::open(&app.address).await;
    let outcome = async {
        sign_in(&owner, "ann@example.com").await?;
        owner.goto("/users/invite").await?;
        owner.fill("input[placeholder='name@example.com']", "accountant@example.com").await?;
        // The wrong way: tick one box and leave "All Permissions" selected.
        owner.find("input[name=permissions][value=invoices]").await?.click().await?;
        owner.click_text("Send Invite").await?;
        let body = owner.body().await?;
        check(body.contains("You selected \"All Permissions\" and also ticked permissions"), "a clear message")?;
        let typed = owner.find("input[name=email]").await?.prop("value").await?.unwrap_or_default();
        check(typed == "accountant@example.com", "the address stays")?;
        check(app.count("SELECT count(*) FROM invitations").await == 0, "nothing was sent")?;
        // A preset keeps the address too; then the right way sends it.
        owner.navigating(owner.find("input[name=preset][value=Accountant]").await?.click()).await?;
        let typed = owner.find("input[name=email]").await?.prop("value").await?.unwrap_or_default();
        check(typed == "accountant@example.com", format!("the preset kept the address: {typed:?}"))?;
        owner.click_text("Send Invite").await?;
        check(owner.path().await? == "/users", "sent")?;
        let granted: (bool, Vec<String>) =
            sqlx::query_as("SELECT all_permissions, permissions FROM invitations").fetch_one(&app.db).await?;
        check(
            granted == (false, vec!["invoices".into(), "quotes".into(), "emails".into()]),
            format!("exactly the accountant's boxes: {granted:?}"),
        )
    }
    .await;
    finish("9-no-over-grant", vec![("owner", owner)], outcome).await;
}

#[tokio::test]
async fn scenario_10_an_invited_person_declines_and_the_owner_sees_it() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let owner_http = app.register("Ann Owner", "ann@example.com").await;
    let link = app.invite_and_get_link(&owner_http, "Ann Owner's account", "no@example.com", &["tickets"]).await;
    let invitee = Person::open(&app.address).await;
    let owner = Person::open(&app.address).await;
    let outcome = async {
        invitee.goto(&link).await?;
        invitee.click_text("Decline").await?;
        check(invitee.body().await?.contains("You declined the invitation to Ann Owner's account"), "confirmed")?;
        invitee.goto(&link).await?;
        check(invitee.body().await?.contains("This invitation was declined"), "the link says so")?;
        app.mail.wait_for("ann@example.com", "no@example.com declined your invitation").await;
        sign_in(&owner, "ann@example.com").await?;
        owner.goto("/users").await?;
        let rows = owner.texts("#invitations tbody tr").await?;
        check(rows.iter().any(|r| r.contains("no@example.com") && r.contains("Declined")), format!("{rows:?}"))
    }
    .await;
    finish("10-decline", vec![("invitee", invitee), ("owner", owner)], outcome).await;
}

/// Every page a person can open, at 375 px: no sideways scrolling, and no
/// link or button smaller than 24 by 24 px unless it sits in a line of text
/// (WCAG 2.2, 2.5.8). Screenshots at 375 and 1280 px go to
/// target/browser-screenshots/ for people to look at.
#[tokio::test]
async fn scenario_11_every_page_fits_a_phone_and_has_big_enough_targets() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let owner_http = app.register("Ann Owner", "ann@example.com").await;
    let account = app.seed_sections("ann@example.com").await;
    app.member_of(&owner_http, "Ann Owner's account", "Wendy Developer", "wendy.developer@example.com", &["tickets"])
        .await;
    invite(&owner_http, "someone.with.a.very.long.address@another-subdomain.example.com", &[]).await;
    let bob = app.user_id("wendy.developer@example.com").await;
    let first = |table: &'static str| app.first_id(table, account);
    let (service, domain, invoice, quote, ticket, email) = (
        first("services").await,
        first("domains").await,
        first("invoices").await,
        first("quotes").await,
        first("tickets").await,
        first("mail_outbox").await,
    );
    let owner_pages: Vec<String> = vec![
        "/".into(),
        "/users".into(),
        "/users/invite".into(),
        format!("/users/{bob}/permissions"),
        format!("/users/{bob}/remove"),
        "/users/audit".into(),
        "/accounts/switch".into(),
        "/profile".into(),
        "/security".into(),
        "/account/profile".into(),
        "/contacts".into(),
        "/contacts/new".into(),
        "/services".into(),
        format!("/services/{service}"),
        format!("/services/{service}/password"),
        "/services/passwords".into(),
        "/services/sign-on".into(),
        "/domains".into(),
        format!("/domains/{domain}"),
        format!("/domains/{domain}/manage"),
        "/domains/settings".into(),
        "/invoices".into(),
        format!("/invoices/{invoice}"),
        "/quotes".into(),
        format!("/quotes/{quote}"),
        "/tickets".into(),
        "/tickets/new".into(),
        format!("/tickets/{ticket}"),
        "/affiliates".into(),
        "/emails".into(),
        format!("/emails/{email}"),
        "/orders".into(),
        format!("/orders/upgrade/{service}"),
        format!("/orders/cancel/{service}"),
        "/no-such-page".into(),
    ];
    let staff_pages: Vec<String> = vec![
        "/admin?q=ann".into(),
        format!("/admin/accounts/{account}"),
        format!("/admin/accounts/{account}/members/{bob}/permissions"),
        format!("/admin/accounts/{account}/members/{bob}/remove"),
        format!("/admin/users/{bob}"),
        "/admin/tickets".into(),
        format!("/admin/tickets/{ticket}"),
        "/admin/audit".into(),
        "/admin/mail".into(),
    ];
    let (_, key) = app.staff_with_key("help@example.com").await;
    let owner = Person::open(&app.address).await;
    let staff = Person::open(&app.address).await;
    let signed_out = Person::open(&app.address).await;
    let outcome = async {
        sign_in(&owner, "ann@example.com").await?;
        staff_sign_in(&app, &staff, &key).await?;
        let mut problems = Vec::new();
        let shots = crate::driver::screenshots_dir().join("pages");
        let _ = std::fs::create_dir_all(&shots);
        for (who, person, pages) in [
            ("owner", &owner, owner_pages.clone()),
            ("staff", &staff, staff_pages.clone()),
            ("visitor", &signed_out, vec!["/login".into(), "/register".into(), "/password/forgot".into()]),
        ] {
            for width in [375u32, 1280] {
                person.client.set_window_size(width, 900).await?;
                for path in &pages {
                    person.goto(path).await?;
                    let report = person.client.execute(PAGE_CHECK, vec![]).await?;
                    let scroll = report["scroll"].as_bool().unwrap_or(true);
                    let small: Vec<String> = report["small"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                        .unwrap_or_default();
                    if width == 375 && scroll {
                        problems.push(format!("{who} {path}: scrolls sideways at 375 px"));
                    }
                    if report["menuInside"].as_bool() == Some(false) {
                        problems.push(format!("{who} {path} at {width} px: the Hello menu is cut off"));
                    }
                    if !small.is_empty() {
                        problems.push(format!("{who} {path} at {width} px: small targets {small:?}"));
                    }
                }
            }
        }
        // The screenshots people look at (the issue's four pages).
        for (person, path, name) in [
            (&owner, "/users".to_string(), "user-management"),
            (&owner, "/users/invite".to_string(), "invite-new-user"),
            (&owner, "/invoices/00000000-0000-0000-0000-000000000000".to_string(), "error-page"),
            (&staff, format!("/admin/accounts/{account}/members/{bob}/permissions"), "staff-member-form"),
        ] {
            for width in [375u32, 1280] {
                person.client.set_window_size(width, 900).await?;
                person.goto(&path).await?;
                let png = person.client.screenshot().await?;
                std::fs::write(shots.join(format!("{name}-{width}.png")), png)?;
            }
        }
        check(problems.is_empty(), problems.join("\n"))
    }
    .await;
    finish("11-every-page-375", vec![("visitor", signed_out), ("staff", staff), ("owner", owner)], outcome).await;
}

/// Whether the page scrolls sideways, which visible links, buttons and fields
/// break WCAG 2.2's 2.5.8 (Target Size, Minimum): under 24 x 24 px, unless a
/// 24 px circle around them touches no other target (spacing), they sit in a
/// sentence of plain text (inline), or a label around them is the target;
/// and whether the open "Hello" menu stays inside the window.
const PAGE_CHECK: &str = r#"
const de = document.documentElement;
const targets = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')]
  .map(el => ({ el, r: (el.closest('label') || el).getBoundingClientRect() }))
  .filter(t => t.r.width > 0 && t.r.height > 0 && getComputedStyle(t.el).visibility !== 'hidden');
const isSmall = t => t.r.width < 24 || t.r.height < 24;
const inSentence = el => {
  if (getComputedStyle(el).display !== 'inline') return false;
  const block = el.closest('p, li, td, th, dd, small, label, span.hint') || el.parentElement;
  const clone = block.cloneNode(true);
  clone.querySelectorAll('a, button, input, select, textarea').forEach(n => n.remove());
  return clone.textContent.trim().length > 0;
};
const center = r => [r.left + r.width / 2, r.top + r.height / 2];
const distToRect = ([x, y], r) => Math.hypot(Math.max(r.left - x, 0, x - r.right), Math.max(r.top - y, 0, y - r.bottom));
const crowded = t => {
  const c = center(t.r);
  return targets.some(o => o !== t && o.r !== t.r && !o.el.contains(t.el) && !t.el.contains(o.el) &&
    (distToRect(c, o.r) < 12 || (isSmall(o) && Math.hypot(c[0] - center(o.r)[0], c[1] - center(o.r)[1]) < 24)));
};
const small = targets.filter(isSmall).filter(t => !inSentence(t.el) && crowded(t))
  .map(t => (t.el.textContent || t.el.name || t.el.tagName).trim().slice(0, 40) + ' ' + Math.round(t.r.width) + 'x' + Math.round(t.r.height));
let menuInside = true;
const menu = document.querySelector('details.menu');
if (menu) {
  menu.open = true;
  const r = menu.querySelector('ul').getBoundingClientRect();
  menuInside = r.left >= 0 && r.right <= de.clientWidth;
  menu.open = false;
}
return { scroll: de.scrollWidth > de.clientWidth, small, menuInside };
"#;
