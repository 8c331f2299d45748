//! Loading certificates from a path pattern: [`PatternSyntax`] and
//! [`Certificate::from_path`] (Qt's `QSslCertificate::fromPath`).
//!
//! The pattern applies to the file-name part of the path only; the directory part is taken
//! literally. Matching files are read in sorted order, so the result is deterministic.

use std::fs;
use std::path::{Path, PathBuf};

use super::{Certificate, EncodingFormat};
use crate::Error;

/// How [`Certificate::from_path`] reads the file-name part of its path (Qt's
/// `QSslCertificate::PatternSyntax`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PatternSyntax {
    /// A regular expression (the `regex` crate's syntax) that must match the whole file name.
    RegularExpression,
    /// A shell wildcard: `*` for any run of characters, `?` for one, `[abc]`, `[a-z]` and
    /// `[!a-z]` (or `[^a-z]`) for one of (or none of) a set.
    #[default]
    Wildcard,
    /// The file name, literally.
    FixedString,
}

/// Matches `name` against a shell wildcard `pattern`.
fn wildcard_matches(pattern: &[char], name: &[char]) -> bool {
    // Iterative matching with backtracking to the last `*`; linear in practice.
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        let step = match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
                continue;
            }
            Some('?') => Some(p + 1),
            Some('[') => match_class(pattern, p, name.get(n).copied()),
            Some(c) if Some(c) == name.get(n) => Some(p + 1),
            _ => None,
        };
        match (step, star) {
            (Some(next), _) => {
                p = next;
                n += 1;
            }
            (None, Some((sp, sn))) => {
                p = sp + 1;
                n = sn + 1;
                star = Some((sp, sn + 1));
            }
            (None, None) => return false,
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

/// Matches `c` against the bracket class starting at `pattern[start] == '['`; returns the
/// index after the class on a match. An unterminated `[` matches itself literally.
fn match_class(pattern: &[char], start: usize, c: Option<char>) -> Option<usize> {
    let c = c?;
    let mut i = start + 1;
    let negated = matches!(pattern.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    loop {
        match pattern.get(i) {
            None => return (c == '[').then_some(start + 1),
            Some(']') if !first => break,
            Some(&lo) => {
                if let (Some('-'), Some(&hi)) = (pattern.get(i + 1), pattern.get(i + 2)) {
                    if hi != ']' {
                        found |= lo <= c && c <= hi;
                        i += 3;
                        first = false;
                        continue;
                    }
                }
                found |= lo == c;
                i += 1;
            }
        }
        first = false;
    }
    (found != negated).then_some(i + 1)
}

/// A compiled file-name matcher.
enum Matcher {
    Regex(regex::Regex),
    Wildcard(Vec<char>),
    Fixed(String),
}

impl Matcher {
    fn new(pattern: &str, syntax: PatternSyntax) -> Result<Matcher, Error> {
        Ok(match syntax {
            PatternSyntax::RegularExpression => {
                Matcher::Regex(regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
                    Error::InvalidInput(format!("bad regular expression {pattern:?}: {e}"))
                })?)
            }
            PatternSyntax::Wildcard => Matcher::Wildcard(pattern.chars().collect()),
            PatternSyntax::FixedString => Matcher::Fixed(pattern.to_owned()),
        })
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            Matcher::Regex(re) => re.is_match(name),
            Matcher::Wildcard(p) => wildcard_matches(p, &name.chars().collect::<Vec<_>>()),
            Matcher::Fixed(f) => f == name,
        }
    }
}

impl Certificate {
    /// Loads the certificates in the files `path` names (Qt's `QSslCertificate::fromPath`).
    ///
    /// - `path` is a regular file: its certificates, read in `format`; a malformed file is an
    ///   error.
    /// - `path` is a directory: the certificates of every regular file directly in it, in
    ///   sorted file-name order; files that hold no readable certificate are skipped, as Qt
    ///   skips them.
    /// - otherwise the file-name part of `path` is a pattern in `syntax` (the directory part
    ///   is literal; `.` when there is none): the certificates of every regular file in that
    ///   directory whose name matches, in sorted order, again skipping files that hold none.
    ///   [`PatternSyntax::FixedString`] names one file.
    ///
    /// Fails with [`Error::Io`] when a named file or the directory cannot be read,
    /// [`Error::InvalidInput`] for a bad regular expression, and [`Error::Certificate`] when
    /// a single named file is malformed. A pattern that matches nothing gives an empty list.
    pub fn from_path(
        path: impl AsRef<Path>,
        format: EncodingFormat,
        syntax: PatternSyntax,
    ) -> Result<Vec<Certificate>, Error> {
        let path = path.as_ref();
        if path.is_file() {
            return Self::list_from_file(path, format);
        }
        if path.is_dir() {
            return load_matching(path, format, |_| true);
        }
        let Some(pattern) = path.file_name().and_then(|n| n.to_str()) else {
            return Err(Error::InvalidInput(format!(
                "{} has no file-name part to match",
                path.display()
            )));
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if syntax == PatternSyntax::FixedString {
            return Self::list_from_file(path, format);
        }
        let matcher = Matcher::new(pattern, syntax)?;
        load_matching(&dir, format, |name| matcher.matches(name))
    }
}

/// The certificates of the regular files in `dir` whose names pass `keep`, in sorted order,
/// skipping files that hold no readable certificate.
fn load_matching(
    dir: &Path,
    format: EncodingFormat,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<Certificate>, Error> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| keep(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files
        .iter()
        .filter_map(|f| Certificate::list_from_file(f, format).ok())
        .flatten()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wc(pattern: &str, name: &str) -> bool {
        Matcher::new(pattern, PatternSyntax::Wildcard)
            .map(|m| m.matches(name))
            .unwrap_or(false)
    }

    #[test]
    fn wildcard_syntax() {
        assert!(wc("*.pem", "a.pem"));
        assert!(wc("*.pem", ".pem"));
        assert!(!wc("*.pem", "a.pem.bak"));
        assert!(wc("a?c", "abc"));
        assert!(!wc("a?c", "ac"));
        assert!(wc("[ab]*", "bxx"));
        assert!(!wc("[!ab]*", "bxx"));
        assert!(wc("[^ab]*", "cxx"));
        assert!(wc("f[0-9].crt", "f7.crt"));
        assert!(!wc("f[0-9].crt", "fx.crt"));
        assert!(wc("[]]", "]"));
        assert!(wc("a[", "a["));
        assert!(wc("*a*b*", "xxaxxbxx"));
        assert!(!wc("*a*b*", "xxbxxaxx"));
        assert!(wc("**", ""));
    }
}
