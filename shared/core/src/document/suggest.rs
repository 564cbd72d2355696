//! "Did you mean" for misspelt names: fields, stages, check kinds, values.

/// The known name closest to `word`, when it is close enough to be the likely intent: the same
/// name in another case, or within an edit distance of about a third of its length.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    let max_distance = (word.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for candidate in known {
        let distance = if candidate.to_ascii_lowercase() == lower {
            0
        } else {
            edit_distance(&lower, &candidate.to_ascii_lowercase())
        };
        if distance <= max_distance && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Optimal string alignment distance (`strsim`): insertions, deletions, substitutions and
/// transpositions of neighbours each cost one (so `tiemout` is one edit from `timeout`).
fn edit_distance(a: &str, b: &str) -> usize {
    // Names are short; anything long is not a typo of a name, and costs nothing to refuse.
    if a.chars().count() > 64 || b.chars().count() > 64 {
        return usize::MAX;
    }
    strsim::osa_distance(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let known = ["timeout", "max_wait", "interval", "mode"];
        assert_eq!(did_you_mean("tiemout", known), Some("timeout"));
        assert_eq!(did_you_mean("max_wiat", known), Some("max_wait"));
        assert_eq!(did_you_mean("MODE", known), Some("mode"));
        assert_eq!(did_you_mean("colour", known), None);
        assert_eq!(did_you_mean("x", known), None);
    }

    #[test]
    fn long_words_do_not_cost_much() {
        let long = "a".repeat(10_000);
        assert_eq!(did_you_mean(&long, ["a"]), None);
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
