//! Finding a Chromium (or Chrome) executable.

use std::path::{Path, PathBuf};

use super::BrowserError;

/// Environment variables that name the browser, checked in this order.
const ENV_VARS: [&str; 2] = ["AVIARY_CHROME", "CHROME"];

/// Executable names looked up on `PATH`, in this order.
const PATH_NAMES: [&str; 4] = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

/// Where distributions and vendors install the browser when it is not on `PATH`.
const COMMON_PATHS: [&str; 10] = [
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/lib/chromium/chromium",
    "/snap/bin/chromium",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
    "/opt/google/chrome/chrome",
    "/usr/local/bin/chromium",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
];

const INSTALL_HINT: &str =
    "install it (Debian/Ubuntu: apt-get install -y chromium) or set AVIARY_CHROME=/path/to/chrome";

/// Finds the Chromium executable to launch.
///
/// `explicit` (the project's `browser.executable` when it is not `auto`) wins; it may be a path
/// or a bare name looked up on `PATH`. Otherwise `AVIARY_CHROME`, then `CHROME`, then `PATH`
/// (`chromium`, `chromium-browser`, `google-chrome`, `google-chrome-stable`), then common
/// install locations.
pub fn find_chromium(explicit: Option<&Path>) -> Result<PathBuf, BrowserError> {
    if let Some(path) = explicit {
        return resolve(path).ok_or_else(|| {
            BrowserError::NotFound(format!(
                "Chromium not found at {} (browser.executable): no executable file there; {INSTALL_HINT}",
                path.display()
            ))
        });
    }
    for var in ENV_VARS {
        if let Some(value) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            let path = PathBuf::from(value);
            return resolve(&path).ok_or_else(|| {
                BrowserError::NotFound(format!(
                    "Chromium not found at {} (from {var}): no executable file there; {INSTALL_HINT}",
                    path.display()
                ))
            });
        }
    }
    PATH_NAMES
        .iter()
        .find_map(|name| on_path(name))
        .or_else(|| COMMON_PATHS.iter().map(PathBuf::from).find(|p| is_executable(p)))
        .ok_or_else(|| BrowserError::NotFound(format!("Chromium not found: {INSTALL_HINT}")))
}

/// A path (used as is) or a bare name (looked up on `PATH`), if it names an executable file.
fn resolve(path: &Path) -> Option<PathBuf> {
    if path.components().count() == 1
        && !path.is_absolute()
        && let Some(found) = path.to_str().and_then(on_path)
    {
        return Some(found);
    }
    is_executable(path).then(|| path.to_path_buf())
}

fn on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else { return false };
    if !meta.is_file() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_missing_path_says_how_to_fix() {
        let err = find_chromium(Some(Path::new("/nonexistent/chrome"))).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/nonexistent/chrome"), "{text}");
        assert!(text.contains("apt-get install -y chromium"), "{text}");
        assert!(text.contains("AVIARY_CHROME"), "{text}");
    }

    #[test]
    fn explicit_non_executable_file_is_rejected() {
        let file = std::env::temp_dir().join(format!("aviary-not-chrome-{}", std::process::id()));
        std::fs::write(&file, b"plain file").unwrap();
        let result = find_chromium(Some(&file));
        std::fs::remove_file(&file).unwrap();
        assert!(matches!(result, Err(BrowserError::NotFound(_))));
    }
}
