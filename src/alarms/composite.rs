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
//!
//! A rule is at most [`MAX_RULE_CHARS`] characters long and nests parentheses and `NOT` at most
//! [`MAX_DEPTH`] deep (see `docs/alarms.md`). `AND` and `OR` chains are kept flat (one node with
//! every operand), so the tree is never deeper than the nesting and nothing recursive (parsing,
//! evaluation, dropping) can exhaust the stack, however long the chain.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use super::state::AlarmState;

/// The longest rule accepted, in characters.
pub const MAX_RULE_CHARS: usize = 10_000;
/// How deep parentheses and `NOT` may nest.
pub const MAX_DEPTH: usize = 100;

/// A parsed rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// `TRUE` or `FALSE`.
    Const(bool),
    /// `STATE(name)`: whether the alarm `name` is in `state`.
    Is(AlarmState, String, usize),
    /// `NOT rule`: the negation of its operand.
    Not(Box<Rule>),
    /// Every operand of an `AND` chain (two or more).
    And(Vec<Rule>),
    /// Every operand of an `OR` chain (two or more).
    Or(Vec<Rule>),
}

/// A syntax error at a 1-based column (in characters) of the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Where the error is, 1-based, in characters.
    pub column: usize,
    /// What is wrong there.
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
    /// Open parentheses and `NOT`s around the current position.
    depth: usize,
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
        let mut operands = vec![self.and()?];
        while self.keyword("OR") {
            operands.push(self.and()?);
        }
        Ok(if operands.len() == 1 { operands.remove(0) } else { Rule::Or(operands) })
    }

    fn and(&mut self) -> Result<Rule, ParseError> {
        let mut operands = vec![self.not()?];
        while self.keyword("AND") {
            operands.push(self.not()?);
        }
        Ok(if operands.len() == 1 { operands.remove(0) } else { Rule::And(operands) })
    }

    fn not(&mut self) -> Result<Rule, ParseError> {
        if matches!(self.peek(), Some((Tok::Word(w), _)) if w == "NOT") {
            let inner = self.nested(|p| {
                p.pos += 1;
                p.not()
            })?;
            Ok(Rule::Not(Box::new(inner)))
        } else {
            self.primary()
        }
    }

    /// Parses one nesting level deeper (a parenthesis or a `NOT` at the current token), or
    /// fails at that token when the rule would nest deeper than [`MAX_DEPTH`].
    fn nested(
        &mut self,
        parse: impl FnOnce(&mut Self) -> Result<Rule, ParseError>,
    ) -> Result<Rule, ParseError> {
        if self.depth >= MAX_DEPTH {
            return self.err(format!(
                "the rule nests parentheses and NOT more than {MAX_DEPTH} deep; write it flatter"
            ));
        }
        self.depth += 1;
        let rule = parse(self);
        self.depth -= 1;
        rule
    }

    fn primary(&mut self) -> Result<Rule, ParseError> {
        let Some((tok, _)) = self.peek().cloned() else {
            return self.err("unexpected end of rule; expected ALARM(name), OK(name), INSUFFICIENT_DATA(name), TRUE, FALSE, NOT or (");
        };
        match tok {
            Tok::LParen => self.nested(|p| {
                p.pos += 1;
                let inner = p.or()?;
                if matches!(p.peek(), Some((Tok::RParen, _))) {
                    p.pos += 1;
                    Ok(inner)
                } else {
                    p.err("expected `)`")
                }
            }),
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
        let chars = text.chars().count();
        if chars > MAX_RULE_CHARS {
            return Err(ParseError {
                column: MAX_RULE_CHARS + 1,
                message: format!("the rule is {chars} characters long; at most {MAX_RULE_CHARS} are allowed"),
            });
        }
        let toks = tokenize(text)?;
        let mut p = Parser { toks, pos: 0, end_col: chars + 1, depth: 0 };
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
            Rule::And(rules) | Rule::Or(rules) => rules.iter().for_each(|r| r.collect(out)),
        }
    }

    /// Evaluates the rule against the alarms' states (an unknown alarm counts as
    /// INSUFFICIENT_DATA).
    pub fn eval(&self, states: &dyn Fn(&str) -> AlarmState) -> bool {
        match self {
            Rule::Const(b) => *b,
            Rule::Is(state, name, _) => states(name) == *state,
            Rule::Not(r) => !r.eval(states),
            Rule::And(rules) => rules.iter().all(|r| r.eval(states)),
            Rule::Or(rules) => rules.iter().any(|r| r.eval(states)),
        }
    }
}

/// Composite alarms in an order where every composite comes after the composites it names, or
/// the names along a cycle (`a -> b -> a`). A depth-first search with its own stack: a chain of
/// thousands of composites does not recurse.
pub fn order(composites: &BTreeMap<String, Vec<String>>) -> Result<Vec<String>, Vec<String>> {
    let mut done: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    for root in composites.keys() {
        if done.contains(root.as_str()) {
            continue;
        }
        // The path from `root`: each name with the index of its next child to visit.
        let mut path: Vec<(&str, usize)> = vec![(root, 0)];
        let mut on_path: HashMap<&str, usize> = HashMap::from([(root.as_str(), 0)]);
        while let Some(&(name, next)) = path.last() {
            let Some(child) = composites[name].get(next) else {
                path.pop();
                on_path.remove(name);
                done.insert(name);
                out.push(name.to_string());
                continue;
            };
            if let Some(top) = path.last_mut() {
                top.1 += 1;
            }
            if !composites.contains_key(child) || done.contains(child.as_str()) {
                continue;
            }
            if let Some(&start) = on_path.get(child.as_str()) {
                let mut cycle: Vec<String> = path[start..].iter().map(|(n, _)| n.to_string()).collect();
                cycle.push(child.clone());
                return Err(cycle);
            }
            on_path.insert(child, path.len());
            path.push((child, 0));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fails_at(text: &str) -> ParseError {
        Rule::parse(text).expect_err(text)
    }

    #[test]
    fn deep_parentheses_are_an_error_at_the_first_one_too_deep() {
        let n = 2_268;
        let text = format!("{}ALARM(x){}", "(".repeat(n), ")".repeat(n));
        let err = fails_at(&text);
        assert_eq!(err.column, MAX_DEPTH + 1, "{err}");
        assert!(err.message.contains("more than 100 deep"), "{err}");
        let ok = format!("{}ALARM(x){}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(Rule::parse(&ok).unwrap(), Rule::Is(AlarmState::Alarm, "x".into(), MAX_DEPTH + 7));
    }

    #[test]
    fn long_not_chains_are_an_error() {
        let err = fails_at(&format!("{}ALARM(x)", "NOT ".repeat(2_000)));
        assert_eq!(err.column, 4 * MAX_DEPTH + 1, "{err}");
        assert!(err.message.contains("more than 100 deep"), "{err}");
        let ok = Rule::parse(&format!("{}ALARM(x)", "NOT ".repeat(MAX_DEPTH - 1))).unwrap();
        assert!(ok.eval(&|_| AlarmState::Ok), "an odd number of NOTs");
    }

    #[test]
    fn overlong_rules_are_an_error_at_the_first_character_too_many() {
        let err = fails_at(&vec!["ALARM(x)"; 87_000].join(" AND "));
        assert_eq!(err.column, MAX_RULE_CHARS + 1);
        assert!(err.message.contains("at most 10000"), "{err}");
    }

    #[test]
    fn the_longest_flat_chains_stay_shallow() {
        // As many operands as fit: one node, evaluated and dropped without recursion per operand.
        let text = vec!["TRUE"; MAX_RULE_CHARS / 9].join(" AND ");
        let rule = Rule::parse(&text).unwrap();
        let Rule::And(operands) = &rule else { panic!("not flat: {rule:?}") };
        assert_eq!(operands.len(), MAX_RULE_CHARS / 9);
        assert!(rule.eval(&|_| AlarmState::Ok));
        let mixed = Rule::parse("TRUE AND FALSE OR FALSE OR NOT FALSE AND TRUE").unwrap();
        assert!(mixed.eval(&|_| AlarmState::Ok));
        assert!(matches!(mixed, Rule::Or(ref o) if o.len() == 3));
    }

    #[test]
    fn long_chains_of_composites_are_ordered_without_recursion() {
        let n = 200_000;
        let graph: BTreeMap<String, Vec<String>> =
            (0..n).map(|i| (format!("c{i:06}"), vec![format!("c{:06}", i + 1)])).collect();
        let got = order(&graph).unwrap();
        assert_eq!(got.len(), n);
        assert_eq!(got[0], format!("c{:06}", n - 1));
        let mut cyclic = graph;
        cyclic.insert(format!("c{:06}", n - 1), vec!["c000000".to_string()]);
        assert_eq!(order(&cyclic).unwrap_err().len(), n + 1);
    }
}
