//! A run's artifact files, served safely: `GET /api/v1/runs/{id}/artifacts` lists them and
//! `GET /api/v1/runs/{id}/artifacts/{*file}` serves one.
//!
//! A requested path is checked twice. First as text (after percent-decoding, which the router
//! has done): it must be relative, made of plain names, with no `.`/`..` segment, backslash or
//! NUL — else 400. Then on disk: the file is resolved with every symbolic link followed and must
//! still lie inside the run's folder (itself inside the artifacts root), and be a regular file —
//! else 404, so nothing outside the run folder is revealed.

use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::Backend;
use super::api::find_run;
use super::error::{ApiError, blocking};

/// One file of a run folder, as the listing shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArtifactFile {
    /// Relative to the run folder, `/`-separated (e.g. `visual/diff.png`).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// The MIME type the file is served with.
    pub content_type: &'static str,
}

/// The listing's JSON body.
#[derive(Debug, Serialize)]
struct Listing {
    run_id: String,
    /// The run folder, relative to the artifacts root.
    artifacts: String,
    files: Vec<ArtifactFile>,
}

/// `GET /api/v1/runs/{id}/artifacts`.
pub async fn list_handler(
    State(backend): State<Arc<dyn Backend>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<impl Serialize>, ApiError> {
    let report = blocking({
        let backend = backend.clone();
        move || find_run(backend.as_ref(), &id)
    })
    .await?;
    let dir = fetched_run_folder(&backend, &report.artifacts).await?;
    blocking(move || {
        let files =
            list(&dir).map_err(|e| ApiError::internal(format!("could not list {}: {e}", dir.display())))?;
        Ok(Json(Listing { run_id: report.run_id, artifacts: report.artifacts, files }))
    })
    .await
}

/// `GET /api/v1/runs/{id}/artifacts/{*file}`.
pub async fn file_handler(
    State(backend): State<Arc<dyn Backend>>,
    UrlPath((id, file)): UrlPath<(String, String)>,
) -> Result<Response, ApiError> {
    // Refuse a bad path before touching the store or the disk.
    check_relative(&file)?;
    let report = blocking({
        let backend = backend.clone();
        move || find_run(backend.as_ref(), &id)
    })
    .await?;
    let dir = fetched_run_folder(&backend, &report.artifacts).await?;
    let (path, bytes) = blocking(move || {
        let path = resolve(&dir, &file)?;
        let bytes = std::fs::read(&path).map_err(|e| {
            ApiError::internal(format!("could not read the artifact {}: {e}", path.display()))
        })?;
        Ok((path, bytes))
    })
    .await?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&path)));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Artifacts hold what monitored pages sent: never let one run script in our origin.
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    Ok(response)
}

/// Checks a requested path as text: relative, plain names only.
pub fn check_relative(file: &str) -> Result<(), ApiError> {
    let refuse =
        |why: &str| ApiError::bad_request(format!("artifact path `{}` refused: {why}", file.escape_debug()));
    if file.is_empty() {
        return Err(refuse("it is empty"));
    }
    if file.starts_with('/') || Path::new(file).is_absolute() {
        return Err(refuse("it is absolute; give a path relative to the run folder"));
    }
    if file.contains('\\') || file.contains('\0') {
        return Err(refuse("it holds a backslash or NUL"));
    }
    for segment in file.split('/') {
        match segment {
            "" => return Err(refuse("it has an empty segment")),
            "." | ".." => return Err(refuse("`.` and `..` segments are not allowed")),
            _ => {}
        }
    }
    Ok(())
}

/// The run's folder on disk, resolved, after checking that it lies inside the artifacts root.
pub fn run_folder(root: &Path, relative: &str) -> Result<PathBuf, ApiError> {
    let gone =
        || ApiError::not_found(format!("the artifacts of this run ({relative}) are no longer on disk"));
    if !Path::new(relative).components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(ApiError::internal(format!(
            "the run's artifact folder `{relative}` is not a plain relative path"
        )));
    }
    let root = root.canonicalize().map_err(|_| gone())?;
    let dir = root.join(relative).canonicalize().map_err(|_| gone())?;
    if dir.starts_with(&root) && dir.is_dir() { Ok(dir) } else { Err(gone()) }
}

/// [`run_folder`], after fetching the folder from the object store (`artifacts.url`) when this
/// runner does not have it: a run of another runner sharing the store.
pub async fn fetched_run_folder(backend: &Arc<dyn Backend>, relative: &str) -> Result<PathBuf, ApiError> {
    let root = backend.artifacts_root();
    let find = |root: PathBuf, relative: String| blocking(move || run_folder(&root, &relative));
    let here = find(root.clone(), relative.to_string()).await;
    match (here, backend.object_copies()) {
        (Err(gone), Some(copies)) if gone.status == axum::http::StatusCode::NOT_FOUND => {
            match copies.fetch(&root, relative).await {
                Ok(true) => find(root, relative.to_string()).await,
                Ok(false) => Err(gone),
                Err(e) => {
                    tracing::warn!("could not fetch a run folder: {e}");
                    Err(ApiError::internal(format!("the run folder is not on this runner, and {e}")))
                }
            }
        }
        (here, _) => here,
    }
}

/// A file of the (resolved) run folder `dir`, after checking `file` as text and on disk.
pub fn resolve(dir: &Path, file: &str) -> Result<PathBuf, ApiError> {
    check_relative(file)?;
    let missing = || ApiError::not_found(format!("no artifact `{file}` in this run"));
    let mut path = dir.to_path_buf();
    path.extend(file.split('/'));
    let real = path.canonicalize().map_err(|_| missing())?;
    if real.starts_with(dir) && real.is_file() { Ok(real) } else { Err(missing()) }
}

/// Every regular file under the (resolved) run folder `dir`, sorted by path. A symbolic link is
/// listed only when it leads to a file inside the folder; linked folders are not entered.
pub fn list(dir: &Path) -> io::Result<Vec<ArtifactFile>> {
    let mut files = Vec::new();
    for (relative, entry) in crate::store::layout::entries_under(dir)? {
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_file() {
            let size = entry.metadata()?.len();
            files.push(ArtifactFile { content_type: content_type(&path), path: relative, size });
        } else if kind.is_symlink()
            && let Ok(real) = path.canonicalize()
            && real.starts_with(dir)
            && let Ok(meta) = std::fs::metadata(&real)
            && meta.is_file()
        {
            files.push(ArtifactFile { content_type: content_type(&path), path: relative, size: meta.len() });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The `Content-Type` an artifact is served with, by extension. Anything not known (HTML and SVG
/// included, which could run script) is served as bytes to download.
pub fn content_type(path: &Path) -> &'static str {
    let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("json" | "har") => "application/json",
        Some("txt" | "log") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_checked_as_text() {
        for ok in ["report.json", "visual/diff.png", "01-home-succeeded.png", "..png", "a..b"] {
            assert!(check_relative(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a\\..\\b", "x\0", ".", ".."] {
            assert!(check_relative(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type(Path::new("a.PNG")), "image/png");
        assert_eq!(content_type(Path::new("home.har")), "application/json");
        assert_eq!(content_type(Path::new("report.json")), "application/json");
        assert_eq!(content_type(Path::new("log.txt")), "text/plain; charset=utf-8");
        assert_eq!(content_type(Path::new("page.html")), "application/octet-stream");
        assert_eq!(content_type(Path::new("noext")), "application/octet-stream");
    }
}
