//! A small parser and validator of the Prometheus text exposition format (0.0.4), strict enough
//! to catch what a scraper would reject: names, label syntax and escapes, values, one `# TYPE`
//! per family before its samples, samples of a family kept together, no duplicate series, and
//! well-formed histograms.

use std::collections::{BTreeMap, HashMap, HashSet};

/// The parsed exposition: every series with its value, and every family with its type and help.
#[derive(Debug, Default)]
pub struct Exposition {
    /// `name{a="x",b="y"}` (labels sorted, values unescaped) → value.
    pub series: BTreeMap<String, f64>,
    pub types: HashMap<String, String>,
    pub help: HashMap<String, String>,
}

impl Exposition {
    /// The value of a series, by name and labels (any order).
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels: BTreeMap<String, String> =
            labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.series.get(&key(name, &labels)).copied()
    }
}

fn key(name: &str, labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    if inner.is_empty() { name.to_string() } else { format!("{name}{{{}}}", inner.join(",")) }
}

fn is_name(text: &str, colon: bool) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ if text.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E') => {
            Err(format!("bad value `{text}`"))
        }
        _ => text.parse().map_err(|e| format!("bad value `{text}`: {e}")),
    }
}

/// The family a sample belongs to (histogram and summary suffixes stripped when declared so).
fn family_of<'a>(name: &'a str, types: &HashMap<String, String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && types.get(base).is_some_and(|t| t == "histogram" || t == "summary")
        {
            return base;
        }
    }
    name
}

/// Parses `{a="x",b="y"}` after the metric name; returns the labels and the rest of the line.
fn parse_labels(text: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let Some(mut rest) = text.strip_prefix('{') else { return Ok((labels, text)) };
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = rest.find('=').ok_or("label without `=`")?;
        let name = rest[..eq].trim();
        if !is_name(name, false) {
            return Err(format!("bad label name `{name}`"));
        }
        rest = rest[eq + 1..].strip_prefix('"').ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().ok_or("unterminated label value")? {
                (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    other => return Err(format!("bad escape `\\{other}` in a label value")),
                },
                (i, '"') => break i,
                (_, '\n') => return Err("raw line feed in a label value".into()),
                (_, c) => value.push(c),
            }
        };
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("label `{name}` repeated"));
        }
        rest = &rest[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// Parses and validates a whole exposition.
pub fn parse(text: &str) -> Result<Exposition, String> {
    let mut out = Exposition::default();
    let mut seen_families: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    let mut histogram_buckets: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    if !text.ends_with('\n') {
        return Err("the exposition must end with a line feed".into());
    }
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line}", n + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut parts = comment.trim_start().splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("HELP"), Some(name), help) => {
                    if !is_name(name, true) {
                        return Err(at(format!("bad metric name `{name}`")));
                    }
                    if out.help.insert(name.into(), help.unwrap_or("").into()).is_some() {
                        return Err(at(format!("second HELP for `{name}`")));
                    }
                }
                (Some("TYPE"), Some(name), Some(kind)) => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return Err(at(format!("bad type `{kind}`")));
                    }
                    if seen_families.contains(name) {
                        return Err(at(format!("TYPE of `{name}` after its samples")));
                    }
                    if out.types.insert(name.into(), kind.into()).is_some() {
                        return Err(at(format!("second TYPE for `{name}`")));
                    }
                }
                _ => {}
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
        let name = &line[..name_end];
        if !is_name(name, true) {
            return Err(at(format!("bad metric name `{name}`")));
        }
        let (labels, rest) = parse_labels(&line[name_end..]).map_err(at)?;
        let mut fields = rest.split_whitespace();
        let value = parse_value(fields.next().ok_or_else(|| at("no value".into()))?).map_err(at)?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>().map_err(|e| at(format!("bad timestamp: {e}")))?;
        }
        if fields.next().is_some() {
            return Err(at("trailing text".into()));
        }
        let family = family_of(name, &out.types).to_string();
        if !out.types.contains_key(&family) {
            return Err(at(format!("sample of `{family}` without a TYPE")));
        }
        if current.as_deref() != Some(family.as_str()) {
            if !seen_families.insert(family.clone()) {
                return Err(at(format!("samples of `{family}` are not together")));
            }
            current = Some(family.clone());
        }
        if out.types[&family] == "counter" && (value < 0.0 || value.is_nan()) {
            return Err(at("negative counter".into()));
        }
        if name.ends_with("_bucket") && out.types[&family] == "histogram" {
            let mut rest_labels = labels.clone();
            let le = rest_labels.remove("le").ok_or_else(|| at("bucket without `le`".into()))?;
            let le = parse_value(&le).map_err(at)?;
            histogram_buckets.entry(key(&family, &rest_labels)).or_default().push((le, value));
        }
        if out.series.insert(key(name, &labels), value).is_some() {
            return Err(at("duplicate series".into()));
        }
    }
    for (series, buckets) in &histogram_buckets {
        let counts = buckets.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1);
        if !counts {
            return Err(format!("histogram {series}: buckets not ascending and cumulative: {buckets:?}"));
        }
        let last = buckets.last().unwrap();
        if last.0 != f64::INFINITY {
            return Err(format!("histogram {series}: no +Inf bucket"));
        }
        let count_key = series.replacen(
            series.split('{').next().unwrap(),
            &format!("{}_count", series.split('{').next().unwrap()),
            1,
        );
        if out.series.get(&count_key) != Some(&last.1) {
            return Err(format!("histogram {series}: +Inf bucket {} differs from _count", last.1));
        }
    }
    Ok(out)
}

#[test]
fn the_validator_rejects_what_scrapers_reject() {
    let ok = "# HELP a_total x\n# TYPE a_total counter\na_total{l=\"q\\\"\\\\\\n\"} 1\n";
    assert_eq!(parse(ok).unwrap().get("a_total", &[("l", "q\"\\\n")]), Some(1.0));
    for bad in [
        "a 1\n",                                                    // no TYPE
        "# TYPE a gauge\na{l=\"\\x\"} 1\n",                         // bad escape
        "# TYPE a gauge\na 1\na 2\n",                               // duplicate
        "# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x=\"1\"} 1\n", // not together
        "# TYPE a gauge\na one\n",                                  // bad value
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
        "# TYPE a gauge\na 1", // no final line feed
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}
