//! Selectors as Chrome's Recorder writes them: a list of alternatives, each a chain of parts
//! (`["#host", "button"]`: `button` inside `#host`'s shadow root or iframe), each part CSS or one
//! of the prefixed forms `aria/`, `xpath/`, `pierce/`, `text/`.

use std::fmt;

/// One part of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectorPart {
    /// A CSS selector (`#id`, `form > button`).
    Css(String),
    /// `aria/Name[role="button"]`: the accessibility tree's name and role.
    Aria {
        /// The accessible name, whitespace collapsed.
        name: Option<String>,
        /// The role (`button`, `link`, `textbox`, ...).
        role: Option<String>,
    },
    /// `xpath//html/body/button`.
    XPath(String),
    /// `pierce/button.ok`: CSS matched through every shadow root.
    Pierce(String),
    /// `text/Sign in`: the deepest elements whose text contains this.
    Text(String),
}

impl SelectorPart {
    /// The kind's name, as the page script knows it.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Css(_) => "css",
            Self::Aria { .. } => "aria",
            Self::XPath(_) => "xpath",
            Self::Pierce(_) => "pierce",
            Self::Text(_) => "text",
        }
    }
}

/// One alternative: a chain of parts, with the text it was written as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorChain {
    /// The parts, outermost first.
    pub parts: Vec<SelectorPart>,
    written: String,
}

impl fmt::Display for SelectorChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

/// The alternatives of one step, tried together; the first listed is the one the flow expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selectors {
    /// At least one.
    pub alternatives: Vec<SelectorChain>,
}

impl fmt::Display for Selectors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let texts: Vec<String> = self.alternatives.iter().map(ToString::to_string).collect();
        f.write_str(&texts.join(" | "))
    }
}

/// Why a selector was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// No alternative at all, or an empty chain.
    #[error("a selector must not be empty")]
    Empty,
    /// A part with nothing after its prefix (`aria/`).
    #[error("`{0}` has nothing after its prefix")]
    EmptyPart(String),
    /// `aria/...` with an attribute other than `name` and `role`, or an unclosed bracket.
    #[error("`{written}`: {problem} (write `aria/Name` or `aria/Name[role=\"button\"]`)")]
    Aria {
        /// The part as written.
        written: String,
        /// What is wrong.
        problem: String,
    },
}

impl Selectors {
    /// One alternative, one part: what a workflow step writes (`"#submit"`, `"aria/Save"`).
    pub fn single(text: &str) -> Result<Self, SelectorError> {
        Self::parse(&[vec![text.to_string()]])
    }

    /// Alternatives, each a chain of parts (a plain string is a chain of one).
    pub fn parse(alternatives: &[Vec<String>]) -> Result<Self, SelectorError> {
        if alternatives.is_empty() {
            return Err(SelectorError::Empty);
        }
        let alternatives = alternatives
            .iter()
            .map(|chain| {
                if chain.is_empty() {
                    return Err(SelectorError::Empty);
                }
                let parts = chain.iter().map(|p| parse_part(p)).collect::<Result<Vec<_>, _>>()?;
                let written = if chain.len() == 1 { chain[0].clone() } else { chain.join(" >> ") };
                Ok(SelectorChain { parts, written })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { alternatives })
    }
}

fn parse_part(text: &str) -> Result<SelectorPart, SelectorError> {
    let prefixed = |prefix: &str| text.strip_prefix(prefix).map(str::to_string);
    let nonempty = |value: String| {
        if value.trim().is_empty() { Err(SelectorError::EmptyPart(text.to_string())) } else { Ok(value) }
    };
    if text.trim().is_empty() {
        return Err(SelectorError::Empty);
    }
    if let Some(rest) = prefixed("aria/") {
        return parse_aria(text, &rest);
    }
    if let Some(rest) = prefixed("xpath/") {
        return Ok(SelectorPart::XPath(nonempty(rest)?));
    }
    if let Some(rest) = prefixed("pierce/") {
        return Ok(SelectorPart::Pierce(nonempty(rest)?));
    }
    if let Some(rest) = prefixed("text/") {
        return Ok(SelectorPart::Text(nonempty(rest)?));
    }
    if let Some(rest) = prefixed("css/") {
        return Ok(SelectorPart::Css(nonempty(rest)?));
    }
    Ok(SelectorPart::Css(text.to_string()))
}

/// `Name`, `Name[role="button"]`, `[name="Name"][role='link']`, as Puppeteer reads them.
fn parse_aria(written: &str, rest: &str) -> Result<SelectorPart, SelectorError> {
    let problem =
        |problem: &str| SelectorError::Aria { written: written.to_string(), problem: problem.to_string() };
    let mut name_text = String::new();
    let (mut name, mut role) = (None, None);
    let mut chars = rest.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '[' {
            name_text.push(c);
            continue;
        }
        let mut attribute = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && *c != ']') {
            attribute.push(c);
        }
        if chars.next().map(|(_, c)| c) != Some('=') {
            return Err(problem("an attribute needs `=\"value\"`"));
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some((_, quote)) = chars.next().filter(|(_, c)| *c == '"' || *c == '\'') else {
            return Err(problem("an attribute value must be quoted"));
        };
        let mut value = String::new();
        loop {
            match chars.next() {
                None => return Err(problem("an attribute value is not closed")),
                Some((_, '\\')) => value.extend(chars.next().map(|(_, c)| c)),
                Some((_, c)) if c == quote => break,
                Some((_, c)) => value.push(c),
            }
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next().map(|(_, c)| c) != Some(']') {
            return Err(problem("an attribute is not closed with `]`"));
        }
        match attribute.trim() {
            "name" => name = Some(value),
            "role" => role = Some(value),
            other => return Err(problem(&format!("unknown attribute `{other}`; only `name` and `role`"))),
        }
    }
    let collapse = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let name = name.or(Some(name_text)).map(|n| collapse(&n)).filter(|n| !n.is_empty());
    if name.is_none() && role.is_none() {
        return Err(SelectorError::EmptyPart(written.to_string()));
    }
    Ok(SelectorPart::Aria { name, role })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(text: &str) -> SelectorPart {
        parse_part(text).unwrap()
    }

    #[test]
    fn prefixes_pick_the_kind() {
        assert_eq!(part("#a > b"), SelectorPart::Css("#a > b".into()));
        assert_eq!(part("xpath//html/body"), SelectorPart::XPath("/html/body".into()));
        assert_eq!(part("pierce/button"), SelectorPart::Pierce("button".into()));
        assert_eq!(part("text/Sign in"), SelectorPart::Text("Sign in".into()));
        assert_eq!(part("css/div"), SelectorPart::Css("div".into()));
    }

    #[test]
    fn aria_reads_name_and_role_as_puppeteer_does() {
        let aria = |name: Option<&str>, role: Option<&str>| SelectorPart::Aria {
            name: name.map(str::to_string),
            role: role.map(str::to_string),
        };
        assert_eq!(part("aria/Sign in"), aria(Some("Sign in"), None));
        assert_eq!(part("aria/Sign  in[role=\"button\"]"), aria(Some("Sign in"), Some("button")));
        assert_eq!(part("aria/[name='Go'][role=\"link\"]"), aria(Some("Go"), Some("link")));
        assert_eq!(part("aria/[role=\"main\"]"), aria(None, Some("main")));
    }

    #[test]
    fn bad_selectors_say_what_is_wrong() {
        assert_eq!(parse_part("aria/"), Err(SelectorError::EmptyPart("aria/".into())));
        assert_eq!(parse_part("xpath/ "), Err(SelectorError::EmptyPart("xpath/ ".into())));
        assert!(
            parse_part("aria/x[level=\"1\"]").unwrap_err().to_string().contains("unknown attribute `level`")
        );
        assert!(parse_part("aria/x[role=\"b").unwrap_err().to_string().contains("not closed"));
        assert!(parse_part("aria/x[role=b]").unwrap_err().to_string().contains("quoted"));
        assert_eq!(Selectors::parse(&[]), Err(SelectorError::Empty));
        assert_eq!(Selectors::parse(&[vec![]]), Err(SelectorError::Empty));
    }

    #[test]
    fn chains_print_as_written() {
        let s = Selectors::parse(&[vec!["#host".into(), "button".into()], vec!["aria/OK".into()]]).unwrap();
        assert_eq!(s.to_string(), "#host >> button | aria/OK");
        assert_eq!(s.alternatives[0].parts.len(), 2);
    }
}
