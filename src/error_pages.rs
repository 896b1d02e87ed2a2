//! Error pages that keep the signed-in person's frame: the header, their
//! menu, the active account, the sections bar and Sign out, and a link back
//! to the last page they opened. A dead end of one "Go to your account"
//! link is left to signed-out visitors.

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, Method, StatusCode},
    middleware::Next,
    response::Response,
};

use crate::{auth::session, error::ErrorDetails, identity::SeenUser, layout::Layout, state::AppState, web};

pub async fn with_layout(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let seen = SeenUser::default();
    req.extensions_mut().insert(seen.clone());
    // Only the cookies are needed afterwards (the session, the last page).
    let headers: HeaderMap =
        req.headers().get_all(header::COOKIE).iter().map(|v| (header::COOKIE, v.clone())).collect();
    let page_path = (req.method() == Method::GET)
        .then(|| req.uri().path_and_query().map(|p| p.as_str().to_string()))
        .flatten()
        .filter(|p| remembered(p));
    let mut res = next.run(req).await;
    let status = res.status();
    if let Some(details) = res.extensions().get::<ErrorDetails>().cloned() {
        // The handler may never have asked who this is (a 404, a 405): ask
        // now, on error pages only.
        let user = match seen.get() {
            Some(user) => Some(user),
            None => session::from_headers(&state, &headers).await.ok().flatten(),
        };
        if let Some(user) = user {
            let back =
                web::cookie(&headers, web::LAST_PAGE_COOKIE).filter(|p| remembered(p)).map(|p| web::safe_next(Some(p)));
            let mut page = details.render(status, Layout::of(&user), back.as_deref());
            for (name, value) in res.headers() {
                if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                    page.headers_mut().append(name.clone(), value.clone());
                }
            }
            return page;
        }
        return res;
    }
    let is_page = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if let (StatusCode::OK, true, Some(path), Some(_)) = (status, is_page, page_path, seen.get()) {
        if web::cookie(&headers, web::LAST_PAGE_COOKIE) != Some(path.as_str()) {
            let cookie = web::set_cookie(web::LAST_PAGE_COOKIE, &path, None, state.config.secure_cookies());
            res.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
    res
}

/// Pages worth going back to: signed-in pages whose address holds no secret
/// (invitation and reset links do) and fits a cookie as it is.
fn remembered(path: &str) -> bool {
    path.len() <= 512
        && !["/invitations/", "/password/", "/control-panel/", "/dev/"].iter().any(|p| path.starts_with(p))
        && path.bytes().all(|b| b.is_ascii_alphanumeric() || b"/-_.~?=&%".contains(&b))
}
