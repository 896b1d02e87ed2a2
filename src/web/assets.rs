//! Versioned links to the files in `static/`. Pages link
//! `/static/app.css?v=<version>`, the version being a hash of the folder's
//! files, so a browser fetches the new stylesheet and script the moment a
//! server with new ones answers, and may keep a version for a year.

use std::{path::Path, sync::OnceLock};

use axum::{
    extract::Request,
    http::{header, HeaderValue, StatusCode},
    middleware::Next,
    response::Response,
};
use sha2::{Digest, Sha256};

static VERSION: OnceLock<String> = OnceLock::new();

/// Hashes the static folder once, when the routes are built. One process
/// serves one folder (tests start many apps on the same one). Should the
/// folder be unreadable, links carry an empty version, never kept long.
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

/// The first 12 hex digits of SHA-256 over each file's path and contents,
/// in path order, subfolders included.
fn version_of(dir: &Path) -> std::io::Result<String> {
    let mut files = Vec::new();
    gather(dir, Path::new(""), &mut files)?;
    files.sort();
    let mut hash = Sha256::new();
    for relative in files {
        hash.update(relative.as_os_str().as_encoded_bytes());
        hash.update([0]);
        hash.update(std::fs::read(dir.join(&relative))?);
        hash.update([0]);
    }
    Ok(hash.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect())
}

/// The files under `root/relative`, as paths relative to `root` (links
/// followed, as the file server follows them).
fn gather(root: &Path, relative: &Path, files: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root.join(relative))? {
        let path = relative.join(entry?.file_name());
        let meta = std::fs::metadata(root.join(&path))?;
        if meta.is_dir() {
            gather(root, &path, files)?;
        } else if meta.is_file() {
            files.push(path);
        }
    }
    Ok(())
}

/// How long a browser may keep a static file: a year for this version's
/// link; not without asking again for another version's (during a rolling
/// upgrade an old server may answer a new page's link, and that answer must
/// not stick); an hour for an unversioned link (the stylesheet's own).
pub async fn cache_control(req: Request, next: Next) -> Response {
    let asked = req.uri().query().and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("v=")));
    let this_version = asked.map(|v| !v.is_empty() && v == version());
    let mut res = next.run(req).await;
    let answered = res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED;
    let keep = match this_version {
        // A 304's headers replace the kept copy's: it must say the same.
        _ if !answered => "no-cache",
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
        let third = version_of(&dir).unwrap();
        assert_ne!(third, second, "a file's name changed");
        std::fs::create_dir_all(dir.join("icons")).unwrap();
        std::fs::write(dir.join("icons/bin.svg"), "<svg/>").unwrap();
        assert_ne!(version_of(&dir).unwrap(), third, "a file in a subfolder counts");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
