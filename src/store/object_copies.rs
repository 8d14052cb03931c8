//! Run folders copied to an object store (`artifacts: {url: …}`), so that runners on different
//! machines show each other's runs.
//!
//! Each runner still writes its run folder locally first; before the run is saved to the store,
//! every file of the folder is put under `<url>/<run folder>/…`. A runner asked for a run whose
//! folder it does not have (another runner's) fetches the folder once into its own artifacts
//! directory, and from there serves it like its own. Every call has a deadline.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// How long one call to the object store may take.
const CALL_DEADLINE: Duration = Duration::from_secs(30);

/// What went wrong with the object store of run folders.
#[derive(Debug, thiserror::Error)]
pub enum ObjectCopyError {
    /// `artifacts.url` is not a URL this build can use.
    #[error("artifacts.url `{url}`: {why}")]
    BadUrl {
        /// The URL as written.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// A call failed.
    #[error("{what} at {url}: {source}")]
    Call {
        /// What was being done.
        what: String,
        /// The store's URL.
        url: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// A call took longer than its deadline.
    #[error("{what} at {url}: no answer within {}", humantime::format_duration(*deadline))]
    Deadline {
        /// What was being done.
        what: String,
        /// The store's URL.
        url: String,
        /// The deadline it missed.
        deadline: Duration,
    },
    /// A local file could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    Local {
        /// What was being done.
        what: &'static str,
        /// The local file or folder.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// The object store run folders are copied to, under a prefix.
#[derive(Debug, Clone)]
pub struct ObjectCopies {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    url: String,
    deadline: Duration,
}

impl ObjectCopies {
    /// Opens `url`: `s3://bucket/prefix` (credentials, region and an `AWS_ENDPOINT` for an
    /// S3-compatible server from the usual `AWS_*` environment variables) or
    /// `file:///absolute/folder` (created when missing).
    pub fn open(url: &str) -> Result<Self, ObjectCopyError> {
        let bad = |why: String| ObjectCopyError::BadUrl { url: url.to_string(), why };
        let parsed = url::Url::parse(url).map_err(|e| bad(format!("not a URL ({e})")))?;
        let (store, prefix): (Arc<dyn ObjectStore>, &str) = match parsed.scheme() {
            "file" => {
                let folder = parsed
                    .to_file_path()
                    .map_err(|()| bad("a file: URL needs a local absolute path (file:///folder)".into()))?;
                std::fs::create_dir_all(&folder)
                    .map_err(|e| bad(format!("could not create {}: {e}", folder.display())))?;
                let local = LocalFileSystem::new_with_prefix(&folder).map_err(|e| bad(e.to_string()))?;
                (Arc::new(local), "")
            }
            "s3" => (open_s3(url)?, parsed.path()),
            other => {
                return Err(bad(format!(
                    "scheme `{other}` is not supported; use s3://bucket/prefix or file:///folder"
                )));
            }
        };
        let prefix = ObjectPath::parse(prefix.trim_matches('/')).map_err(|e| bad(e.to_string()))?;
        Ok(Self { store, prefix, url: url.trim_end_matches('/').to_string(), deadline: CALL_DEADLINE })
    }

    /// The URL run folders go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Puts every file of the local run folder `dir` under `relative` (the run's folder as the
    /// store names it). Returns how many files it put.
    pub async fn upload(&self, dir: &Path, relative: &str) -> Result<usize, ObjectCopyError> {
        let files = local_files(dir).map_err(|source| ObjectCopyError::Local {
            what: "could not list the run folder",
            path: dir.to_path_buf(),
            source,
        })?;
        for file in &files {
            let path = dir.join(file);
            let bytes = tokio::fs::read(&path).await.map_err(|source| ObjectCopyError::Local {
                what: "could not read the artifact",
                path: path.clone(),
                source,
            })?;
            let target = self.object(relative, file)?;
            let what = format!("could not put {target}");
            self.call(what, self.store.put(&target, PutPayload::from(bytes))).await?;
        }
        Ok(files.len())
    }

    /// Fetches the run folder `relative` into `root/relative` unless it is there already.
    /// Returns whether the store had it. The files land in a scratch folder first, so a
    /// half-fetched folder is never served.
    pub async fn fetch(&self, root: &Path, relative: &str) -> Result<bool, ObjectCopyError> {
        let target = root.join(relative);
        if target.is_dir() {
            return Ok(true);
        }
        let folder = self.object(relative, "")?;
        let listing = self.store.list(Some(&folder)).try_collect::<Vec<_>>();
        let objects = self.call(format!("could not list {folder}"), listing).await?;
        if objects.is_empty() {
            return Ok(false);
        }
        let local = |what, path: &Path| {
            let path = path.to_path_buf();
            move |source| ObjectCopyError::Local { what, path, source }
        };
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let scratch = target.with_file_name(format!("{name}.fetching-{}", uuid::Uuid::new_v4().simple()));
        for object in objects {
            let Some(parts) = object.location.prefix_match(&folder) else { continue };
            let parts: Vec<String> = parts.map(|p| p.as_ref().to_string()).collect();
            if parts.iter().any(|p| p == "." || p == "..") {
                continue;
            }
            let path = parts.iter().fold(scratch.clone(), |path, part| path.join(part));
            let what = format!("could not get {}", object.location);
            let got = self.call(what.clone(), self.store.get(&object.location)).await?;
            let bytes = self.call(what, got.bytes()).await?;
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent).await.map_err(local("could not create", parent))?;
            }
            tokio::fs::write(&path, &bytes).await.map_err(local("could not write", &path))?;
        }
        match tokio::fs::rename(&scratch, &target).await {
            Ok(()) => Ok(true),
            // Fetched at the same time by another request: theirs stands.
            Err(_) if target.is_dir() => {
                let _ = tokio::fs::remove_dir_all(&scratch).await;
                Ok(true)
            }
            Err(source) => {
                Err(ObjectCopyError::Local { what: "could not move into place", path: target, source })
            }
        }
    }

    /// Where `file` of the run folder `relative` lies in the store.
    fn object(&self, relative: &str, file: &str) -> Result<ObjectPath, ObjectCopyError> {
        let joined = [self.prefix.as_ref(), relative, file]
            .iter()
            .filter(|part| !part.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/");
        ObjectPath::parse(&joined)
            .map_err(|e| ObjectCopyError::BadUrl { url: self.url.clone(), why: e.to_string() })
    }

    async fn call<T>(
        &self,
        what: String,
        call: impl std::future::Future<Output = object_store::Result<T>>,
    ) -> Result<T, ObjectCopyError> {
        match tokio::time::timeout(self.deadline, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => Err(ObjectCopyError::Call { what, url: self.url.clone(), source }),
            Err(_) => Err(ObjectCopyError::Deadline { what, url: self.url.clone(), deadline: self.deadline }),
        }
    }
}

#[cfg(feature = "s3")]
fn open_s3(url: &str) -> Result<Arc<dyn ObjectStore>, ObjectCopyError> {
    let store = object_store::aws::AmazonS3Builder::from_env()
        .with_url(url)
        .build()
        .map_err(|e| ObjectCopyError::BadUrl { url: url.to_string(), why: e.to_string() })?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "s3"))]
fn open_s3(url: &str) -> Result<Arc<dyn ObjectStore>, ObjectCopyError> {
    Err(ObjectCopyError::BadUrl {
        url: url.to_string(),
        why: "this build has no S3 support (feature `s3`)".into(),
    })
}

/// The regular files under `dir`, relative to it with `/` separators, sorted.
fn local_files(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut files = Vec::new();
    for (relative, entry) in super::layout::entries_under(dir)? {
        if entry.file_type()?.is_file() {
            files.push(relative);
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_run_folder_put_by_one_runner_is_fetched_whole_by_another() {
        let shared = tempfile::tempdir().unwrap();
        let (mine, theirs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let url = format!("file://{}/runs", shared.path().display());
        let copies = ObjectCopies::open(&url).unwrap();
        let relative = "home/2026/12/04/01/02-03-004-abc";
        let dir = mine.path().join(relative);
        std::fs::create_dir_all(dir.join("visual")).unwrap();
        std::fs::write(dir.join("report.json"), b"{}").unwrap();
        std::fs::write(dir.join("visual/diff.png"), b"png").unwrap();
        assert_eq!(copies.upload(&dir, relative).await.unwrap(), 2);
        assert!(shared.path().join("runs").join(relative).join("visual/diff.png").is_file());

        assert!(copies.fetch(theirs.path(), relative).await.unwrap());
        let fetched = theirs.path().join(relative);
        assert_eq!(std::fs::read(fetched.join("visual/diff.png")).unwrap(), b"png");
        assert_eq!(local_files(&fetched).unwrap(), ["report.json", "visual/diff.png"]);
        assert!(!copies.fetch(theirs.path(), "home/never").await.unwrap(), "a folder nobody put");
        let leftovers: Vec<_> = std::fs::read_dir(fetched.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no scratch folder left behind");
    }

    /// An S3 server that takes the connection and never answers: the S3 client's own timeouts
    /// and retries would wait minutes; the call's deadline ends it.
    #[cfg(feature = "s3")]
    #[tokio::test]
    async fn a_put_to_a_server_that_never_answers_ends_at_the_deadline() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        // Accepts and keeps every connection, unread, until the test process ends.
        std::thread::spawn(move || listener.incoming().collect::<Vec<_>>());
        let store = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&endpoint)
            .with_allow_http(true)
            .with_bucket_name("runs")
            .with_region("us-east-1")
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .build()
            .unwrap();
        let deadline = Duration::from_millis(500);
        let copies = ObjectCopies {
            store: Arc::new(store),
            prefix: ObjectPath::from("prefix"),
            url: "s3://runs/prefix".into(),
            deadline,
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("report.json"), b"{}").unwrap();
        let err = copies.upload(dir.path(), "home/run").await.unwrap_err();
        assert!(matches!(err, ObjectCopyError::Deadline { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "could not put prefix/home/run/report.json at s3://runs/prefix: no answer within 500ms"
        );
    }

    #[test]
    fn urls_it_cannot_use_are_refused_with_the_reason() {
        let err = |url: &str| ObjectCopies::open(url).unwrap_err().to_string();
        assert!(err("gs://bucket/x").contains("scheme `gs` is not supported"), "{}", err("gs://b/x"));
        assert!(err("not a url").contains("not a URL"), "{}", err("not a url"));
        let remote = err("file://server/share");
        assert!(
            remote.starts_with("artifacts.url `file://server/share`: a file: URL needs a local"),
            "{remote}"
        );
    }
}
