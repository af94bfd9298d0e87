//! Exclude (backup) and include (restore) patterns with restic's semantics, matched by
//! rustic_core's own glob filter.
//!
//! restic matches a pattern (Go `filepath.Match` syntax plus `**`) against the absolute path
//! of every file and directory: a pattern that starts with `/` must match from the root, any
//! other one may match any trailing part of the path made of whole components (`*.tmp`,
//! `cache/*`, `node_modules`). A matching directory is left out with everything in it.
//! rustic_core's `globs` are gitignore lines, matched against the same absolute path without
//! its leading `/`; `!` makes a line exclude. So `/abs/p` becomes `!/abs/p` (anchored) and
//! `p` becomes `!**/p` (any number of leading directories), which is restic's rule.

use std::path::Path;

use crate::error::{Error, Result};

/// Validated exclude patterns, in restic's syntax as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Excludes(Vec<String>);

impl Excludes {
    /// Checks every pattern.
    ///
    /// # Errors
    ///
    /// [`Error::BadExclude`] naming the first pattern that is empty, negated (`!`, which
    /// restic allows but seedship does not) or not a valid glob.
    pub fn new(patterns: Vec<String>) -> Result<Self> {
        validate("exclude", &patterns, |pattern| vec![glob(pattern)])?;
        Ok(Self(patterns))
    }

    /// Reads restic's exclude file: one pattern a line, surrounding white space removed,
    /// blank lines and lines starting with `#` skipped.
    ///
    /// # Errors
    ///
    /// [`Error::ExcludeFile`] when the file cannot be read.
    pub fn read_file(path: &Path) -> Result<Vec<String>> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ExcludeFile {
            path: path.to_owned(),
            source,
        })?;
        Ok(text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(str::to_owned)
            .collect())
    }

    /// The patterns as given.
    pub fn patterns(&self) -> &[String] {
        &self.0
    }

    /// These patterns followed by `more`'s.
    #[must_use]
    pub fn and(&self, more: &Excludes) -> Self {
        Self(self.0.iter().chain(&more.0).cloned().collect())
    }

    /// rustic_core's form of the patterns.
    pub(crate) fn to_rustic(&self) -> rustic_core::Excludes {
        rustic_core::Excludes::default().globs(self.0.iter().map(|p| glob(p)).collect::<Vec<_>>())
    }
}

/// Checks each pattern: not empty, not negated, and a valid glob in its rustic form.
fn validate(kind: &'static str, patterns: &[String], globs: impl Fn(&str) -> Vec<String>) -> Result<()> {
    for pattern in patterns {
        let bad = |reason: String| Error::BadExclude {
            kind,
            pattern: pattern.clone(),
            reason,
        };
        if pattern.trim().is_empty() {
            return Err(bad("is empty".to_owned()));
        }
        if pattern.starts_with('!') {
            return Err(bad("negated patterns (!) are not supported".to_owned()));
        }
        rustic_core::Excludes::default()
            .globs(globs(pattern))
            .as_override()
            .map_err(|err| bad(crate::error::one_line(&err)))?;
    }
    Ok(())
}

/// Validated include patterns of a restore, in restic's syntax as given: a file is restored
/// when a pattern matches it or one of its directories (`/home/ann/docs` restores that
/// directory with everything in it, `*.pdf` every PDF), with the directories above it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Includes(Vec<String>);

impl Includes {
    /// Checks every pattern.
    ///
    /// # Errors
    ///
    /// [`Error::BadExclude`] (kind `include`) naming the first pattern that is empty,
    /// negated or not a valid glob.
    pub fn new(patterns: Vec<String>) -> Result<Self> {
        validate("include", &patterns, include_globs)?;
        Ok(Self(patterns))
    }

    /// rustic_core's form: a whitelist (nothing included matches no pattern); empty when no
    /// pattern is given (everything is restored).
    pub(crate) fn to_rustic(&self) -> rustic_core::Excludes {
        rustic_core::Excludes::default()
            .globs(self.0.iter().flat_map(|p| include_globs(p)).collect::<Vec<_>>())
    }
}

/// The gitignore lines that include what restic's include `pattern` includes: the match and
/// everything below it.
fn include_globs(pattern: &str) -> Vec<String> {
    let anchored = if pattern.starts_with('/') || pattern.starts_with("**/") {
        pattern.trim_end_matches('/').to_owned()
    } else {
        format!("**/{}", pattern.trim_end_matches('/'))
    };
    vec![format!("{anchored}/**"), anchored]
}

/// The gitignore line that excludes what restic's `pattern` excludes.
fn glob(pattern: &str) -> String {
    if pattern.starts_with('/') || pattern.starts_with("**/") {
        format!("!{pattern}")
    } else {
        format!("!**/{pattern}")
    }
}

#[cfg(test)]
mod tests {
    use super::Excludes;

    /// Whether restic's `pattern` excludes the absolute `path` (a file).
    fn excluded(pattern: &str, path: &str) -> bool {
        let excludes = Excludes::new(vec![pattern.to_owned()]).expect("valid");
        let matcher = excludes.to_rustic().as_override().expect("override");
        // Also a parent directory matching excludes the path (the walk does not enter it).
        let path = std::path::Path::new(path);
        path.ancestors()
            .filter(|p| p.parent().is_some())
            .enumerate()
            .any(|(depth, p)| matcher.matched(p, depth > 0).is_ignore())
    }

    #[test]
    fn patterns_match_as_restic_matches_them() {
        for (pattern, path, expected) in [
            ("*.tmp", "/data/a/b.tmp", true),
            ("*.tmp", "/data/a/b.tmpx", false),
            ("cache", "/home/u/cache/x/y", true),
            ("cache", "/home/u/mycache/y", false),
            ("a/*.log", "/srv/a/x.log", true),
            ("a/*.log", "/srv/a/b/x.log", false),
            ("a/**/x.log", "/srv/a/b/c/x.log", true),
            ("/srv/a", "/srv/a/b", true),
            ("/srv/a", "/x/srv/a/b", false),
            ("/srv/*/tmp", "/srv/one/tmp/f", true),
            ("*.TMP", "/data/b.tmp", false),
        ] {
            assert_eq!(excluded(pattern, path), expected, "{pattern} on {path}");
        }
    }

    #[test]
    fn bad_patterns_are_named() {
        for pattern in ["", "!keep", "[a"] {
            let err = Excludes::new(vec!["ok".to_owned(), pattern.to_owned()]).expect_err(pattern);
            assert!(err.to_string().contains(&format!("{pattern:?}")), "{err}");
        }
    }

    #[test]
    fn an_exclude_file_skips_comments_and_blank_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("excludes");
        std::fs::write(&file, "# caches\n\n  *.tmp  \n/srv/x\n   # indented comment\n").expect("write");
        assert_eq!(Excludes::read_file(&file).expect("read"), ["*.tmp", "/srv/x"]);
        let missing = Excludes::read_file(&dir.path().join("nope")).expect_err("missing");
        assert!(missing.to_string().contains("nope"), "{missing}");
    }
}
