//! The daemon's Unix socket, `<data_dir>/aviary.sock`: the API for local commands, guarded by
//! the operating system (mode 0600: only the daemon's user connects) instead of the token.
//!
//! The socket is bound in a private folder (mode 0700), given mode 0600 there and then renamed
//! into place, so it is never reachable with looser permissions. A socket left by a daemon that
//! was killed is replaced only when nothing answers on it; [`SocketFile`] removes the socket at
//! a clean stop.

use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;

/// The socket's file name in the data folder.
pub const FILE_NAME: &str = "aviary.sock";

/// The socket's path in a data folder.
pub fn path_in(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// Why the socket could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// A daemon (another one, for the same data folder) answers on the socket.
    #[error("another daemon answers on {}", .0.display())]
    InUse(PathBuf),
    /// Something that is not a socket has the socket's name.
    #[error("{} exists and is not a socket; remove it", .0.display())]
    NotASocket(PathBuf),
    /// The operating system refused a step.
    #[error("could not create the socket {}: {source}", path.display())]
    Create {
        /// The socket's path.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
}

/// The socket file of a running daemon; dropping it removes the file (if it is still this one).
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    inode: (u64, u64),
}

impl SocketFile {
    /// Where the socket is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let ours = std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.inode);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Binds the socket at `path` with mode 0600 (see the module documentation). Must be called
/// within a tokio runtime.
pub fn bind(path: &Path) -> Result<(UnixListener, SocketFile), SocketError> {
    let failed = |source| SocketError::Create { path: path.to_path_buf(), source };
    check_stale(path)?;
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(failed)?;
    let private = parent.join(format!(".aviary-sock-{}", std::process::id()));
    if private.exists() {
        std::fs::remove_dir_all(&private).map_err(failed)?;
    }
    std::fs::DirBuilder::new().mode(0o700).create(&private).map_err(failed)?;
    let bound = bind_privately(&private, path);
    let _ = std::fs::remove_dir_all(&private);
    let listener = bound.map_err(failed)?;
    let meta = std::fs::symlink_metadata(path).map_err(failed)?;
    let listener = UnixListener::from_std(listener).map_err(failed)?;
    Ok((listener, SocketFile { path: path.to_path_buf(), inode: (meta.dev(), meta.ino()) }))
}

/// Binds in the private folder, sets mode 0600 and renames the socket to `path` (replacing a
/// stale one atomically).
fn bind_privately(private: &Path, path: &Path) -> io::Result<std::os::unix::net::UnixListener> {
    let staged = private.join("s");
    let listener = std::os::unix::net::UnixListener::bind(&staged)?;
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&staged, path)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Fine when nothing is at `path` or a socket nobody answers on (left by a killed daemon).
fn check_stale(path: &Path) -> Result<(), SocketError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => Err(SocketError::NotASocket(path.to_path_buf())),
        Ok(_) if std::os::unix::net::UnixStream::connect(path).is_ok() => {
            Err(SocketError::InUse(path.to_path_buf()))
        }
        Ok(_) => {
            tracing::info!(socket = %path.display(), "replacing the socket left by a daemon that did not stop cleanly");
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(SocketError::Create { path: path.to_path_buf(), source }),
    }
}
