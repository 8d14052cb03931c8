//! Indentation mistakes said plainly. The YAML parser reports a wrongly indented line as "did
//! not find expected key" or "mapping values are not allowed in this context", sometimes at the
//! line before; [`explain`] looks at the text around the error and, when a line's indentation is
//! what is wrong, names that line and the indentations that would fit there.

/// Parser messages that a wrong indentation (or a tab) can cause.
const INDENTATION_SYMPTOMS: [&str; 7] = [
    "did not find expected key",
    "mapping values are not allowed",
    "did not find expected '-' indicator",
    "could not find expected ':'",
    "comment intercepting the multiline text",
    "tabs disallowed",
    "found a tab",
];

/// What a line opens at its indentation: a key of a mapping or an item of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Key,
    Item,
}

/// An indentation the wrong line could have had: a line above it that starts a mapping key or a
/// list item there.
struct Fit<'t> {
    indent: usize,
    kind: Kind,
    line: usize,
    shown: &'t str,
}

/// A clearer `(line, column, message)` for a parser error at 1-based `line` when the cause is an
/// indentation: a tab in the indentation, or a line indented where no mapping or list above it
/// continues. `None` when the indentation is not what is wrong.
pub fn explain(text: &str, line: usize, message: &str) -> Option<(usize, usize, String)> {
    if !INDENTATION_SYMPTOMS.iter().any(|symptom| message.contains(symptom)) {
        return None;
    }
    let lines: Vec<&str> = text.lines().collect();
    if let Some(found) = tab_in_indentation(&lines, line) {
        return Some(found);
    }
    // The parser may stop on the line before the wrong one (a plain value it reads on).
    (line..=line + 1).find_map(|at| misfit(&lines, at))
}

/// The message for line `line` (1-based) when no mapping or list above it continues at its
/// indentation and it does not open a deeper level under a line ending in `:`.
fn misfit(lines: &[&str], line: usize) -> Option<(usize, usize, String)> {
    let wrong = lines.get(line.checked_sub(1)?)?;
    let (indent, content) = split_indent(wrong);
    if content.is_empty() || content.starts_with('#') {
        return None;
    }
    let above = &lines[..line - 1];
    let opener =
        above.iter().rev().map(|text| split_indent(text)).find(|(_, c)| !c.is_empty() && !c.starts_with('#'));
    if let Some((opener_indent, opener)) = opener
        && indent > opener_indent
        && opens_a_block(opener)
    {
        return None;
    }
    let kind = if is_item(content) { Kind::Item } else { Kind::Key };
    let fits = fits_above(above);
    if fits.is_empty() || fits.iter().any(|f| f.indent == indent && f.kind == kind) {
        return None;
    }
    let what = match kind {
        Kind::Item => format!("list item `{}`", shown(content)),
        Kind::Key => format!("`{}`", shown(content)),
    };
    let same_kind: Vec<&Fit<'_>> = fits.iter().filter(|f| f.kind == kind).collect();
    let offered = if same_kind.is_empty() { fits.iter().collect() } else { same_kind };
    let expected: Vec<String> =
        offered.iter().map(|f| format!("{} (as `{}` on line {})", f.indent, f.shown, f.line)).collect();
    Some((
        line,
        indent + 1,
        format!(
            "bad indentation: {what} is indented {indent} space{}; expected {}",
            if indent == 1 { "" } else { "s" },
            or_list(&expected)
        ),
    ))
}

/// The first line from `from` (1-based; the parser may stop a line early) whose indentation
/// holds a tab.
fn tab_in_indentation(lines: &[&str], from: usize) -> Option<(usize, usize, String)> {
    let start = from.saturating_sub(1);
    lines.iter().enumerate().skip(start).take(2).find_map(|(i, text)| {
        let leading = &text[..text.len() - text.trim_start().len()];
        let column = leading.find('\t')?;
        (!text.trim().is_empty()).then(|| {
            (i + 1, column + 1, "a tab in the indentation: YAML indents with spaces only".to_string())
        })
    })
}

/// The indentations open at the end of `above`: walking up, each line indented less than every
/// line after it starts a mapping key or list item that a following line may continue; an item
/// `- key: value` also opens its mapping two columns further in.
fn fits_above<'t>(above: &[&'t str]) -> Vec<Fit<'t>> {
    let mut fits: Vec<Fit<'t>> = Vec::new();
    let mut push = |fit: Fit<'t>| {
        // The nearest line names an indentation; the ones further up add nothing.
        if !fits.iter().any(|f| f.indent == fit.indent && f.kind == fit.kind) {
            fits.push(fit);
        }
    };
    let mut least = usize::MAX;
    for (i, text) in above.iter().enumerate().rev() {
        let (indent, content) = split_indent(text);
        if content.is_empty() || content.starts_with('#') || indent >= least {
            continue;
        }
        if is_item(content) {
            let inner = content[1..].trim_start();
            if inner.contains(": ") || inner.ends_with(':') {
                push(Fit { indent: indent + 2, kind: Kind::Key, line: i + 1, shown: shown(inner) });
            }
            push(Fit { indent, kind: Kind::Item, line: i + 1, shown: shown(content) });
        } else {
            push(Fit { indent, kind: Kind::Key, line: i + 1, shown: shown(content) });
        }
        least = indent;
        if indent == 0 {
            break;
        }
    }
    fits
}

/// Whether a line leaves its value to the lines below: `key:`, `- key:`, `-`, or a block scalar
/// (`key: |`), a comment after it aside.
fn opens_a_block(content: &str) -> bool {
    let content = content.find(" #").map_or(content, |i| &content[..i]).trim_end();
    content.ends_with(':')
        || content == "-"
        || ["|", ">", "|-", ">-", "|+", ">+"].iter().any(|style| content.ends_with(&format!(": {style}")))
}

fn split_indent(text: &str) -> (usize, &str) {
    let content = text.trim_start_matches(' ');
    (text.len() - content.len(), content.trim_end())
}

fn is_item(content: &str) -> bool {
    content == "-" || content.starts_with("- ")
}

/// A line as a message names it: its key (`urls`), or a list item's first words (`- x`).
fn shown(content: &str) -> &str {
    let end = if is_item(content) {
        content.find(": ").map_or(content.len(), |i| i)
    } else {
        content.find(':').unwrap_or(content.len())
    };
    let shown = &content[..end];
    match shown.char_indices().nth(40) {
        Some((cut, _)) => &shown[..cut],
        None => shown,
    }
}

fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::explain;

    fn at(text: &str, line: usize, message: &str) -> Option<String> {
        explain(text, line, message).map(|(l, c, m)| format!("{l}:{c}: {m}"))
    }

    const KEY: &str = "while parsing a block mapping, did not find expected key";

    #[test]
    fn a_key_indented_one_space_more_names_the_keys_it_could_align_with() {
        let text = "blueprint: heartbeat\nheartbeat:\n  urls: [x]\n   expect: {status: 200}\n";
        assert_eq!(
            at(text, 4, KEY).unwrap(),
            "4:4: bad indentation: `expect` is indented 3 spaces; expected 2 (as `urls` on line 3) or 0 (as \
             `heartbeat` on line 2)"
        );
    }

    #[test]
    fn a_list_item_indented_less_than_its_siblings() {
        let text = "heartbeat:\n  urls:\n    - a\n  - b\n  expect: 1\n";
        assert_eq!(
            at(text, 4, KEY).unwrap(),
            "4:3: bad indentation: list item `- b` is indented 2 spaces; expected 4 (as `- a` on line 3)"
        );
    }

    #[test]
    fn a_key_of_a_list_item_mapping() {
        let text = "steps:\n  - name: a\n     url: b\n";
        assert_eq!(
            at(text, 3, "mapping values are not allowed in this context").unwrap(),
            "3:6: bad indentation: `url` is indented 5 spaces; expected 4 (as `name` on line 2) or 0 (as `steps` \
             on line 1)"
        );
    }

    #[test]
    fn a_tab_is_found_on_its_own_line() {
        // The parser reports this one at the line before the tab.
        let text = "a:\n  b: 1\n\tc: 2\n";
        assert_eq!(
            at(text, 2, "while scanning a plain scalar, found a tab").unwrap(),
            "3:1: a tab in the indentation: YAML indents with spaces only"
        );
    }

    #[test]
    fn the_first_line_of_a_deeper_level_is_not_blamed_but_its_sibling_is() {
        // `method` opens request's mapping at 7 (fine); `url` at 8 is the wrong line, though the
        // parser stops at the comment after `POST`.
        let text = "steps:\n  - name: a\n    request:\n     method: POST  # default GET\n      url: x\n";
        assert_eq!(
            at(text, 4, "comment intercepting the multiline text").unwrap(),
            "5:7: bad indentation: `url` is indented 6 spaces; expected 5 (as `method` on line 4), 4 (as \
             `request` on line 3) or 0 (as `steps` on line 1)"
        );
    }

    #[test]
    fn other_errors_and_fitting_lines_are_left_to_the_parser() {
        assert_eq!(at("a: [1\n", 2, "did not find expected ',' or ']'"), None);
        // Indented like a sibling: the indentation is not what is wrong.
        assert_eq!(at("a:\n  b: 1\n  c: 'x\n", 3, KEY), None);
    }
}
