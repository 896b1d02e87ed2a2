//! Versioned links to the files in `static/`. Pages link
//! `/static/app.css?v=<version>`, the version being a hash of the folder's
//! files, so a browser fetches the new stylesheet and script the moment a
//! server with new ones answers, and may keep a version for a year.

use std::{path::Path, sync::OnceLock};

use axum::{
    extract::Request,
    http::{header, HeaderValue},
    middleware::Next,
    response::Response,
};
use sha2::{Digest, Sha256};

static VERSION: OnceLock<String> = OnceLock::new();

/// Hashes the static folder once, when the routes are built. One process
/// serves one folder (tests start many apps on the same one).
pub fn settle(static_dir: &Path) {
    VERSION.get_or_init(|| match version_of(static_dir) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, dir = %static_dir.display(), "static files unreadable; their links carry no version");
            String::new()
        }
    });
}

/// The version pages put in their links.
pub fn version() -> &'static str {
    VERSION.get().map_or("", String::as_str)
}

/// The first 12 hex digits of SHA-256 over each file's name and contents,
/// in name order.
fn version_of(dir: &Path) -> std::io::Result<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name())
        .collect();
    names.sort();
    let mut hash = Sha256::new();
    for name in names {
        hash.update(name.as_encoded_bytes());
        hash.update([0]);
        hash.update(std::fs::read(dir.join(&name))?);
        hash.update([0]);
    }
    Ok(hash.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect())
}

/// How long a browser may keep a static file: a year for this version's
/// link; not without asking again for another version's (during a rolling
/// upgrade an old server may answer a new page's link, and that answer must
/// not stick); an hour for an unversioned link (the stylesheet's own).
pub async fn cache_control(req: Request, next: Next) -> Response {
    let this_version = req.uri().query().and_then(|q| q.strip_prefix("v=")).map(|v| !v.is_empty() && v == version());
    let mut res = next.run(req).await;
    let keep = match this_version {
        _ if !res.status().is_success() => "no-cache",
        Some(true) => "public, max-age=31536000, immutable",
        Some(false) => "no-cache",
        None => "public, max-age=3600",
    };
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(keep));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_changes_with_any_files_contents_or_name() {
        let dir = std::env::temp_dir().join(format!("panel-assets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("app.css"), "body { color: black }").unwrap();
        std::fs::write(dir.join("passkeys.js"), "// one").unwrap();
        let first = version_of(&dir).unwrap();
        assert_eq!(first.len(), 12);
        assert_eq!(version_of(&dir).unwrap(), first, "the same files give the same version");
        std::fs::write(dir.join("passkeys.js"), "// two").unwrap();
        let second = version_of(&dir).unwrap();
        assert_ne!(second, first, "a file's contents changed");
        std::fs::rename(dir.join("passkeys.js"), dir.join("other.js")).unwrap();
        assert_ne!(version_of(&dir).unwrap(), second, "a file's name changed");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
