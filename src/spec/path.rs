//! Key paths into a YAML document (`heartbeat.urls[1]`), used to place problems at their position.

use std::fmt;

/// One step of a [`KeyPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSeg {
    /// A mapping key.
    Key(String),
    /// A 0-based sequence index.
    Index(usize),
}

/// A path from the document's root, one segment per step; displayed as `a.b[0].c`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct KeyPath(pub Vec<PathSeg>);

impl KeyPath {
    /// The empty path: the document itself.
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// This path extended by a mapping key.
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut segs = self.0.clone();
        segs.push(PathSeg::Key(key.into()));
        Self(segs)
    }

    /// This path extended by a sequence index (0-based).
    pub fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(PathSeg::Index(index));
        Self(segs)
    }

    /// Whether this is the empty path.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                PathSeg::Key(k) if i == 0 => write!(f, "{k}")?,
                PathSeg::Key(k) => write!(f, ".{k}")?,
                PathSeg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A problem found by a check that knows the key path but not the file position; the loader
/// places it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where the problem is.
    pub path: KeyPath,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(path: KeyPath, message: impl Into<String>) -> Self {
        Self { path, message: message.into() }
    }
}

/// A problem inside a one-line text value (a composite alarm's rule): at `path`, and when known
/// at a 1-based column inside the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    /// The key path of the text value.
    pub path: KeyPath,
    /// 1-based column inside the text, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}
