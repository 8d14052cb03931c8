//! "Did you mean ...?": the closest candidate by edit distance.

/// Levenshtein distance between two strings (in characters).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn closest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let normalized = normalize(word);
    let limit = (word.chars().count() / 3).max(1);
    let chars = normalized.chars().count();
    candidates
        .into_iter()
        .map(|c| (normalize(c), c))
        // The distance is at least the difference in length: skip the costly count when that is
        // already too far (a 5 MB key is no typo).
        .filter(|(n, _)| n.chars().count().abs_diff(chars) <= limit)
        .map(|(n, c)| (edit_distance(&normalized, &n), c))
        .filter(|(d, c)| *d <= limit && *c != word)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn normalize(word: &str) -> String {
    word.to_lowercase().replace('_', "-")
}

/// `; did you mean `x`?` or nothing.
pub fn did_you_mean<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> String {
    closest(word, candidates).map(|c| format!("; did you mean `{c}`?")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("timout", "timeout"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions() {
        let keys = ["timeout", "retries", "schedule", "broken-links"];
        assert_eq!(closest("timout", keys), Some("timeout"));
        assert_eq!(closest("retires", keys), Some("retries"));
        assert_eq!(closest("broken_links", keys), Some("broken-links"));
        assert_eq!(closest("colour", keys), None);
        assert_eq!(did_you_mean("shedule", keys), "; did you mean `schedule`?");
    }
}
