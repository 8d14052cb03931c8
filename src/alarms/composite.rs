//! Composite alarm rules: parser and evaluator.
//!
//! Grammar (CloudWatch's alarm rule syntax; keywords upper case; `NOT` binds tighter than `AND`,
//! which binds tighter than `OR`):
//!
//! ```text
//! expr    := and ("OR" and)*
//! and     := not ("AND" not)*
//! not     := "NOT" not | primary
//! primary := "(" expr ")" | "TRUE" | "FALSE"
//!          | ("ALARM" | "OK" | "INSUFFICIENT_DATA") "(" name ")"
//! name    := bare word (no spaces, parentheses, quotes) | "double quoted" | 'single quoted'
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::state::AlarmState;

/// A parsed rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    Const(bool),
    /// `STATE(name)`: whether the alarm `name` is in `state`.
    Is(AlarmState, String, usize),
    Not(Box<Rule>),
    And(Box<Rule>, Box<Rule>),
    Or(Box<Rule>, Box<Rule>),
}

/// A syntax error at a 1-based column (in characters) of the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Word(String),
    Quoted(String),
}

fn tokenize(rule: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let chars: Vec<char> = rule.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push((Tok::LParen, col));
            i += 1;
        } else if c == ')' {
            out.push((Tok::RParen, col));
            i += 1;
        } else if c == '"' || c == '\'' {
            let end = chars[i + 1..].iter().position(|d| *d == c).ok_or_else(|| ParseError {
                column: col,
                message: format!("unterminated quoted name: missing closing {c}"),
            })?;
            out.push((Tok::Quoted(chars[i + 1..i + 1 + end].iter().collect()), col));
            i += end + 2;
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && !"()\"'".contains(chars[i]) {
                i += 1;
            }
            out.push((Tok::Word(chars[start..i].iter().collect()), col));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    end_col: usize,
}

impl Parser {
    fn peek(&self) -> Option<&(Tok, usize)> {
        self.toks.get(self.pos)
    }

    fn col(&self) -> usize {
        self.peek().map_or(self.end_col, |t| t.1)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError { column: self.col(), message: message.into() })
    }

    fn keyword(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some((Tok::Word(w), _)) if w == word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Rule, ParseError> {
        let mut left = self.and()?;
        while self.keyword("OR") {
            left = Rule::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Rule, ParseError> {
        let mut left = self.not()?;
        while self.keyword("AND") {
            left = Rule::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Rule, ParseError> {
        if self.keyword("NOT") { Ok(Rule::Not(Box::new(self.not()?))) } else { self.primary() }
    }

    fn primary(&mut self) -> Result<Rule, ParseError> {
        let Some((tok, _)) = self.peek().cloned() else {
            return self.err("unexpected end of rule; expected ALARM(name), OK(name), INSUFFICIENT_DATA(name), TRUE, FALSE, NOT or (");
        };
        match tok {
            Tok::LParen => {
                self.pos += 1;
                let inner = self.or()?;
                if matches!(self.peek(), Some((Tok::RParen, _))) {
                    self.pos += 1;
                    Ok(inner)
                } else {
                    self.err("expected `)`")
                }
            }
            Tok::Word(w) if w == "TRUE" => {
                self.pos += 1;
                Ok(Rule::Const(true))
            }
            Tok::Word(w) if w == "FALSE" => {
                self.pos += 1;
                Ok(Rule::Const(false))
            }
            Tok::Word(w) if matches!(w.as_str(), "ALARM" | "OK" | "INSUFFICIENT_DATA") => {
                let state: AlarmState = w.parse().map_err(|m| ParseError { column: self.col(), message: m })?;
                self.pos += 1;
                if !matches!(self.peek(), Some((Tok::LParen, _))) {
                    return self.err(format!("expected `(` after {w}"));
                }
                self.pos += 1;
                let (name, col) = match self.peek().cloned() {
                    Some((Tok::Word(n) | Tok::Quoted(n), col)) if !n.is_empty() => (n, col),
                    _ => return self.err(format!("expected an alarm name in {w}(...)")),
                };
                self.pos += 1;
                if !matches!(self.peek(), Some((Tok::RParen, _))) {
                    return self.err(format!("expected `)` after the alarm name `{name}`"));
                }
                self.pos += 1;
                Ok(Rule::Is(state, name, col))
            }
            Tok::Word(w) => self.err(format!(
                "unexpected `{w}`; expected ALARM(name), OK(name), INSUFFICIENT_DATA(name), TRUE, FALSE, NOT or ( \
                 (keywords are upper case)"
            )),
            Tok::RParen => self.err("unexpected `)`"),
            Tok::Quoted(q) => self.err(format!("unexpected quoted name \"{q}\" outside ALARM(...)")),
        }
    }
}

impl Rule {
    /// Parses a rule.
    pub fn parse(text: &str) -> Result<Rule, ParseError> {
        let toks = tokenize(text)?;
        let mut p = Parser { toks, pos: 0, end_col: text.chars().count() + 1 };
        let rule = p.or()?;
        if let Some((tok, _)) = p.peek() {
            let what = match tok {
                Tok::Word(w) => format!("`{w}`"),
                Tok::Quoted(q) => format!("\"{q}\""),
                Tok::LParen => "`(`".to_string(),
                Tok::RParen => "`)`".to_string(),
            };
            return p.err(format!("unexpected {what}; expected AND, OR or the end of the rule"));
        }
        Ok(rule)
    }

    /// Every alarm the rule names, with the 1-based column of the name.
    pub fn references(&self) -> Vec<(&str, usize)> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<(&'a str, usize)>) {
        match self {
            Rule::Const(_) => {}
            Rule::Is(_, name, col) => out.push((name, *col)),
            Rule::Not(r) => r.collect(out),
            Rule::And(a, b) | Rule::Or(a, b) => {
                a.collect(out);
                b.collect(out);
            }
        }
    }

    /// Evaluates the rule against the alarms' states (an unknown alarm counts as
    /// INSUFFICIENT_DATA).
    pub fn eval(&self, states: &dyn Fn(&str) -> AlarmState) -> bool {
        match self {
            Rule::Const(b) => *b,
            Rule::Is(state, name, _) => states(name) == *state,
            Rule::Not(r) => !r.eval(states),
            Rule::And(a, b) => a.eval(states) && b.eval(states),
            Rule::Or(a, b) => a.eval(states) || b.eval(states),
        }
    }
}

/// Composite alarms in an order where every composite comes after the composites it names, or
/// the names along a cycle (`a -> b -> a`).
pub fn order(composites: &BTreeMap<String, Vec<String>>) -> Result<Vec<String>, Vec<String>> {
    fn visit(
        name: &str,
        graph: &BTreeMap<String, Vec<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
        out: &mut Vec<String>,
    ) -> Result<(), Vec<String>> {
        if done.contains(name) {
            return Ok(());
        }
        if let Some(i) = path.iter().position(|p| p == name) {
            let mut cycle = path[i..].to_vec();
            cycle.push(name.to_string());
            return Err(cycle);
        }
        path.push(name.to_string());
        for child in &graph[name] {
            if graph.contains_key(child) {
                visit(child, graph, done, path, out)?;
            }
        }
        path.pop();
        done.insert(name.to_string());
        out.push(name.to_string());
        Ok(())
    }
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for name in composites.keys() {
        visit(name, composites, &mut done, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}
