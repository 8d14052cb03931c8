//! Finding a Chromium (or Chrome) executable.
//!
//! Headless runs prefer the headless shell (Chromium's old headless mode as its own binary, the
//! one Playwright and CloudWatch Synthetics run): it starts in about half the time of the full
//! browser and uses less memory and CPU. A window needs the full browser.

use std::path::{Path, PathBuf};

use super::BrowserError;

/// Environment variables that name the browser, checked in this order.
const ENV_VARS: [&str; 2] = ["AVIARY_CHROME", "CHROME"];

/// What the browser is launched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// No window: the headless shell is preferred where installed.
    Headless,
    /// A window a person uses (`aviary record`): the full browser only.
    Window,
}

/// The headless shell's binary, looked for before `PATH` (Debian's `/usr/bin` name is a wrapper
/// script that does not `exec`, so a signal to it would not reach the browser).
const SHELL_PATHS: [&str; 1] = ["/usr/lib/chromium/chromium-headless-shell"];

/// Debian's name for the headless shell on `PATH`: a script that runs the binary without `exec`.
const DEBIAN_SHELL_WRAPPER: &str = "/usr/bin/chromium-headless-shell";

/// The headless shell's names on `PATH` (Chrome for Testing, other distributions), in this order.
const SHELL_PATH_NAMES: [&str; 2] = ["chrome-headless-shell", "chromium-headless-shell"];

/// Executable names of the full browser looked up on `PATH`, in this order.
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

const INSTALL_HINT: &str = "install it (Debian/Ubuntu: apt-get install -y chromium chromium-headless-shell) or set AVIARY_CHROME=/path/to/chrome";

/// Finds the Chromium executable to launch.
///
/// `explicit` (the project's `browser.executable` when it is not `auto`) wins; it may be a path
/// or a bare name looked up on `PATH`. Otherwise `AVIARY_CHROME`, then `CHROME`; then, for
/// [`Purpose::Headless`], the headless shell (`/usr/lib/chromium/chromium-headless-shell`, then
/// `chrome-headless-shell` and `chromium-headless-shell` on `PATH`); then `PATH` (`chromium`,
/// `chromium-browser`, `google-chrome`, `google-chrome-stable`), then common install locations.
pub fn find_chromium(explicit: Option<&Path>, purpose: Purpose) -> Result<PathBuf, BrowserError> {
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
    auto_candidates(purpose)
        .find_map(Candidate::found)
        .ok_or_else(|| BrowserError::NotFound(format!("Chromium not found: {INSTALL_HINT}")))
}

/// A place `auto` looks for the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Candidate {
    /// An absolute path.
    At(&'static str),
    /// A name looked up on `PATH`.
    OnPath(&'static str),
}

impl Candidate {
    fn found(self) -> Option<PathBuf> {
        match self {
            Candidate::At(path) => Some(PathBuf::from(path)).filter(|p| is_executable(p)),
            Candidate::OnPath(name) => on_path(name),
        }
    }
}

/// Where `auto` looks, in order: for headless runs the headless shell first, then the full
/// browser on `PATH`, then its common install paths.
fn auto_candidates(purpose: Purpose) -> impl Iterator<Item = Candidate> {
    let shell = SHELL_PATHS
        .map(Candidate::At)
        .into_iter()
        .chain(SHELL_PATH_NAMES.map(Candidate::OnPath))
        .filter(move |_| purpose == Purpose::Headless);
    shell.chain(PATH_NAMES.map(Candidate::OnPath)).chain(COMMON_PATHS.map(Candidate::At))
}

/// A path (used as is) or a bare name (looked up on `PATH`), if it names an executable file.
/// Debian's `/usr/bin/chromium-headless-shell` becomes the binary it wraps without `exec`.
fn resolve(path: &Path) -> Option<PathBuf> {
    let found = resolve_name(path)?;
    if found != Path::new(DEBIAN_SHELL_WRAPPER) {
        return Some(found);
    }
    SHELL_PATHS.map(Candidate::At).into_iter().find_map(Candidate::found).or(Some(found))
}

fn resolve_name(path: &Path) -> Option<PathBuf> {
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
    fn headless_runs_look_for_the_headless_shell_before_the_full_browser() {
        let order: Vec<Candidate> = auto_candidates(Purpose::Headless).collect();
        assert_eq!(order[0], Candidate::At("/usr/lib/chromium/chromium-headless-shell"));
        let position = |c: Candidate| order.iter().position(|x| *x == c).unwrap();
        assert!(
            position(Candidate::OnPath("chrome-headless-shell")) < position(Candidate::OnPath("chromium"))
        );
        assert!(position(Candidate::OnPath("chromium")) < position(Candidate::At("/usr/bin/chromium")));
    }

    #[test]
    fn a_window_never_gets_the_headless_shell() {
        let order: Vec<Candidate> = auto_candidates(Purpose::Window).collect();
        assert_eq!(order[0], Candidate::OnPath("chromium"));
        let shells = |c: &Candidate| matches!(c, Candidate::At(p) | Candidate::OnPath(p) if p.contains("headless-shell"));
        assert!(!order.iter().any(shells), "{order:?}");
    }

    #[test]
    fn debians_wrapper_script_is_replaced_by_the_binary_it_runs() {
        let binary = Path::new(SHELL_PATHS[0]);
        if !is_executable(binary) || !is_executable(Path::new(DEBIAN_SHELL_WRAPPER)) {
            return eprintln!("chromium-headless-shell is not installed; nothing to check");
        }
        let found = find_chromium(Some(Path::new(DEBIAN_SHELL_WRAPPER)), Purpose::Headless).unwrap();
        assert_eq!(found, binary);
        let found = find_chromium(Some(Path::new("chromium-headless-shell")), Purpose::Headless).unwrap();
        assert_eq!(found, binary);
    }

    #[test]
    fn explicit_missing_path_says_how_to_fix() {
        let err = find_chromium(Some(Path::new("/nonexistent/chrome")), Purpose::Headless).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/nonexistent/chrome"), "{text}");
        assert!(text.contains("apt-get install -y chromium"), "{text}");
        assert!(text.contains("AVIARY_CHROME"), "{text}");
    }

    #[test]
    fn explicit_non_executable_file_is_rejected() {
        let file = std::env::temp_dir().join(format!("aviary-not-chrome-{}", std::process::id()));
        std::fs::write(&file, b"plain file").unwrap();
        let result = find_chromium(Some(&file), Purpose::Headless);
        std::fs::remove_file(&file).unwrap();
        assert!(matches!(result, Err(BrowserError::NotFound(_))));
    }
}
