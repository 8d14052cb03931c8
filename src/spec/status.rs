//! Accepted HTTP status codes: `200-399`, `200`, `200,301-302`, `2xx`.

use std::fmt;
use std::str::FromStr;

/// A set of HTTP status codes, as ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRanges(Vec<(u16, u16)>);

const EXPECTED: &str = "expected status codes like `200-399`, `200`, `200,301-302` or `2xx`";

/// Why a list of status codes does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// `200,,300`.
    #[error("empty entry in {list:?}; {}", EXPECTED)]
    EmptyEntry {
        /// The whole list.
        list: String,
    },
    /// Not a number.
    #[error("`{text}` is not a status code; {}", EXPECTED)]
    NotACode {
        /// The entry.
        text: String,
    },
    /// A number outside 100..599.
    #[error("status {value} is outside 100..599; {}", EXPECTED)]
    OutOfRange {
        /// The code.
        value: u16,
    },
    /// `6xx`, `x`.
    #[error("`{text}` is not a status class (1xx..5xx); {}", EXPECTED)]
    NotAClass {
        /// The entry.
        text: String,
    },
    /// `399-200`.
    #[error("range `{text}` is empty (start after end); {}", EXPECTED)]
    EmptyRange {
        /// The range as written.
        text: String,
    },
}

impl StatusRanges {
    /// Parses a comma-separated list of codes (100..=599), ranges `A-B` and classes `Nxx`.
    pub fn parse(text: &str) -> Result<Self, StatusError> {
        let mut ranges = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err(StatusError::EmptyEntry { list: text.to_string() });
            }
            ranges.push(parse_part(part)?);
        }
        Ok(Self(ranges))
    }

    /// Whether `status` is one of the codes.
    pub fn contains(&self, status: u16) -> bool {
        self.0.iter().any(|&(lo, hi)| (lo..=hi).contains(&status))
    }

    /// The ranges, inclusive.
    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.0
    }
}

fn code(text: &str) -> Result<u16, StatusError> {
    let value: u16 = text.parse().map_err(|_| StatusError::NotACode { text: text.to_string() })?;
    if (100..=599).contains(&value) { Ok(value) } else { Err(StatusError::OutOfRange { value }) }
}

fn parse_part(part: &str) -> Result<(u16, u16), StatusError> {
    let lower = part.to_ascii_lowercase();
    if let Some(class) = lower.strip_suffix("xx") {
        return match class.parse::<u16>() {
            Ok(c @ 1..=5) if class.len() == 1 => Ok((c * 100, c * 100 + 99)),
            _ => Err(StatusError::NotAClass { text: part.to_string() }),
        };
    }
    match part.split_once('-') {
        Some((lo, hi)) => {
            let (lo, hi) = (code(lo.trim())?, code(hi.trim())?);
            if lo > hi {
                return Err(StatusError::EmptyRange { text: part.to_string() });
            }
            Ok((lo, hi))
        }
        None => code(part).map(|c| (c, c)),
    }
}

impl FromStr for StatusRanges {
    type Err = StatusError;

    fn from_str(s: &str) -> Result<Self, StatusError> {
        Self::parse(s)
    }
}

impl fmt::Display for StatusRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(lo, hi)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if lo == hi {
                write!(f, "{lo}")?;
            } else if lo % 100 == 0 && hi == lo + 99 {
                write!(f, "{}xx", lo / 100)?;
            } else {
                write!(f, "{lo}-{hi}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let r = StatusRanges::parse("200-399").unwrap();
        assert!(r.contains(200) && r.contains(399) && !r.contains(400) && !r.contains(199));
        let r = StatusRanges::parse("200").unwrap();
        assert!(r.contains(200) && !r.contains(201));
        let r = StatusRanges::parse("200, 301-302").unwrap();
        assert!(r.contains(301) && r.contains(302) && !r.contains(303) && r.contains(200));
        let r = StatusRanges::parse("2xx").unwrap();
        assert!(r.contains(204) && !r.contains(300));
        let r = StatusRanges::parse("4XX").unwrap();
        assert!(r.contains(404));
    }

    #[test]
    fn display() {
        for (text, shown) in [
            ("200-399", "200-399"),
            ("200", "200"),
            ("200,301-302", "200,301-302"),
            ("2xx", "2xx"),
            ("2xx, 404", "2xx,404"),
        ] {
            assert_eq!(StatusRanges::parse(text).unwrap().to_string(), shown);
        }
    }

    #[test]
    fn errors_say_what_was_expected() {
        for (text, start) in [
            ("ok", "`ok` is not a status code"),
            ("", "empty entry"),
            ("200,", "empty entry"),
            ("700", "status 700 is outside 100..599"),
            ("399-200", "range `399-200` is empty"),
            ("6xx", "`6xx` is not a status class"),
        ] {
            let err = StatusRanges::parse(text).unwrap_err().to_string();
            assert!(err.starts_with(start), "{text}: {err}");
            assert!(err.ends_with(EXPECTED), "{err}");
        }
    }
}
