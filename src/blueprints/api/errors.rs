//! What goes wrong in an API step's checks: a check written wrong ([`SyntaxError`], found at
//! validation) or a response without the value a check looks at ([`NoValue`], found at run time).

/// An assertion, extraction or JSON path that does not parse: which, as written, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} `{text}`: {reason}")]
pub struct SyntaxError {
    /// `assertion`, `extraction` or `JSON path`.
    pub what: &'static str,
    /// The text as written.
    pub text: String,
    /// What is wrong, and what was expected.
    pub reason: String,
}

/// Why a response has no value where a check looks (`no key "id" in the object at $`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NoValue(pub String);

/// A value of an assertion that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// `status = 200`.
    #[error("use `==` to compare, not `=`")]
    SingleEquals,
    /// A subject with nothing after it.
    #[error("missing operator (==, !=, <, <=, >, >=, in, exists, contains, matches)")]
    MissingOperator,
    /// A word where an operator belongs.
    #[error("unknown operator `{0}`; use ==, !=, <, <=, >, >=, in, exists, contains or matches")]
    UnknownOperator(String),
    /// A `"` that opens text it does not close (or a bad escape).
    #[error("bad quoted text {0}: close the quotes, escape inner quotes as \\\"")]
    BadQuotedText(String),
    /// A `[` or `{` that does not start valid JSON.
    #[error("`{0}` is not valid JSON")]
    NotJson(String),
    /// A latency bound in milliseconds too large for a duration.
    #[error("`{0}` ms is too long a duration; write e.g. 800ms or 2s")]
    TooLong(String),
    /// A latency bound that is not a duration.
    #[error("`{0}` is not a duration; write e.g. 800ms or 2s (a bare number is milliseconds)")]
    NotADuration(String),
}
