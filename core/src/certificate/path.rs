//! Loading certificates from a path pattern: [`PatternSyntax`] and
//! [`Certificate::from_path`] (Qt's `QSslCertificate::fromPath`).
//!
//! The semantics are Qt 6's: the pattern is matched against whole paths, found by walking
//! (recursively) the directory named by the path's literal prefix, so wildcards and regular
//! expressions may appear in directory parts too. Matching files are read in sorted order, so
//! the result is deterministic.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::{Certificate, EncodingFormat};
use crate::Error;

/// How [`Certificate::from_path`] reads its path (Qt's `QSslCertificate::PatternSyntax`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PatternSyntax {
    /// A regular expression (the `regex` crate's syntax) that must match the whole path.
    RegularExpression,
    /// A shell wildcard matched against the whole path: `*` for any run of characters but
    /// `/`, `?` for one character but `/`, `[abc]`, `[a-z]` and `[!a-z]` (or `[^a-z]`) for one
    /// of (or none of) a set.
    #[default]
    Wildcard,
    /// The path, literally: one file.
    FixedString,
}

/// How deep [`Certificate::from_path`] walks below the directory it starts from.
const MAX_DEPTH: usize = 32;

/// The characters that make a path a pattern, per syntax (Qt's lists).
fn special(syntax: PatternSyntax) -> &'static [char] {
    match syntax {
        PatternSyntax::Wildcard => &['*', '?', '['],
        PatternSyntax::RegularExpression => &[
            '$', '(', ')', '*', '+', '.', '?', '[', ']', '^', '{', '}', '|',
        ],
        PatternSyntax::FixedString => &[],
    }
}

/// `c` as a regular expression that matches it literally.
fn literal(c: char) -> String {
    regex::escape(c.encode_utf8(&mut [0u8; 4]))
}

/// A shell wildcard as an (unanchored) regular expression, as Qt 6's
/// `QRegularExpression::wildcardToRegularExpression` converts one: `*` and `?` do not match
/// `/`, a bracket class is copied (with `!` for negation; a `]` first in it is literal), an
/// unterminated `[` is literal, and everything else matches itself.
fn wildcard_to_regex(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '[' => {
                let mut j = i + 1;
                let negated = matches!(chars.get(j), Some('!' | '^'));
                if negated {
                    j += 1;
                }
                let body_start = j;
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while chars.get(j).is_some_and(|&c| c != ']') {
                    j += 1;
                }
                if j >= chars.len() {
                    // No closing bracket: a literal `[`.
                    out.push_str(&literal('['));
                    i += 1;
                    continue;
                }
                out.push('[');
                if negated {
                    out.push('^');
                }
                let body = chars.get(body_start..j).unwrap_or_default();
                let mut k = 0;
                while let Some(&member) = body.get(k) {
                    if member == '-' && k > 0 && k + 1 < body.len() {
                        out.push('-');
                    } else {
                        out.push_str(&format!("\\x{{{:x}}}", u32::from(member)));
                    }
                    k += 1;
                }
                out.push(']');
                i = j + 1;
                continue;
            }
            c => out.push_str(&literal(c)),
        }
        i += 1;
    }
    out
}

impl Certificate {
    /// Loads the certificates in the files `path` names (Qt 6's `QSslCertificate::fromPath`,
    /// with its semantics).
    ///
    /// - [`PatternSyntax::FixedString`]: `path` names one file, whose certificates are
    ///   returned; anything else (a directory, no such file) gives an empty list.
    /// - [`PatternSyntax::Wildcard`] and [`PatternSyntax::RegularExpression`]: when `path`
    ///   has no pattern character in the part where the syntax looks for one (the directory
    ///   part for a wildcard, the whole path for a regular expression) and names a file, that
    ///   file's certificates. Otherwise `path` is a pattern for whole paths, wildcards and
    ///   expressions allowed in directory parts too (`certs*/ca-*.pem`): the directory before
    ///   the first pattern character (the current directory when there is none) is walked,
    ///   into subdirectories, and every regular file whose path matches contributes its
    ///   certificates, in sorted path order. A wildcard's `*` and `?` do not match `/`; a
    ///   regular expression's `.*` does. Hidden files and directories (names starting with
    ///   `.`) are passed over, symbolic links followed (each directory once), and the walk
    ///   stops 32 levels deep.
    ///
    /// Qt's results, exactly: a directory given as the path yields no certificates, a path
    /// that matches nothing (or does not exist) yields an empty list, and a file that cannot
    /// be read, or holds something other than certificates in `format`, is skipped. The one
    /// place polytls says more than Qt: a regular expression that does not compile fails with
    /// [`Error::InvalidInput`], where Qt returns an empty list, since a typo in a pattern
    /// that silently loads no CA certificates is a mistake a caller wants to hear about. A
    /// missing file is not an error, as in Qt, because here it cannot be told from a
    /// pattern that matches nothing; [`list_from_file`](Self::list_from_file) reports one.
    pub fn from_path(
        path: impl AsRef<Path>,
        format: EncodingFormat,
        syntax: PatternSyntax,
    ) -> Result<Vec<Certificate>, Error> {
        let path = path.as_ref();
        let read_one = |file: &Path| Self::list_from_file(file, format).unwrap_or_default();
        let Some(source) = path.to_str() else {
            // Not Unicode: no pattern can name it, but it may be a file.
            return Ok(if path.is_file() {
                read_one(path)
            } else {
                Vec::new()
            });
        };
        if source.is_empty() {
            return Ok(Vec::new());
        }
        let dir_part_len = source.rfind('/').unwrap_or(0);
        let searched = match syntax {
            PatternSyntax::Wildcard => source.get(..dir_part_len).unwrap_or_default(),
            _ => source,
        };
        let special_at = searched.find(special(syntax));
        if special_at.is_none() && path.is_file() {
            return Ok(read_one(path));
        }
        if syntax == PatternSyntax::FixedString || source.find(special(syntax)).is_none() {
            // A literal path that is not a file.
            return Ok(Vec::new());
        }
        let expression = match syntax {
            PatternSyntax::Wildcard => wildcard_to_regex(source),
            _ => source.to_owned(),
        };
        let pattern = regex::Regex::new(&format!("^(?:{expression})$"))
            .map_err(|e| Error::InvalidInput(format!("bad regular expression {source:?}: {e}")))?;
        // The literal directory before the first pattern character.
        let literal_end = special_at.unwrap_or(source.len());
        let prefix = source.get(..literal_end).unwrap_or_default();
        let base = match prefix.rfind('/') {
            Some(0) => "/",
            Some(slash) => source.get(..slash).unwrap_or_default(),
            None => ".",
        };
        let mut files = Vec::new();
        let mut visited = HashSet::new();
        walk(Path::new(base), base, 0, &mut visited, &mut files);
        files.sort();
        Ok(files
            .into_iter()
            .filter(|(shown, _)| pattern.is_match(shown))
            .flat_map(|(_, file)| read_one(&file))
            .collect())
    }
}

/// Collects the regular files under `dir`, each with the path a pattern is matched against:
/// `shown`, then `/` and the names below it (no `./` in front for the current directory, one
/// `/` after the root), passing over hidden entries.
fn walk(
    dir: &Path,
    shown: &str,
    depth: usize,
    visited: &mut HashSet<PathBuf>,
    files: &mut Vec<(String, PathBuf)>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    // Each directory once, however many links lead to it.
    let Ok(real) = fs::canonicalize(dir) else {
        return;
    };
    if !visited.insert(real) {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let child_shown = match shown {
            "." => name.to_owned(),
            "/" => format!("/{name}"),
            _ => format!("{shown}/{name}"),
        };
        let path = entry.path();
        // Follows symbolic links, as Qt does.
        let Ok(metadata) = fs::metadata(&path) else {
            continue;
        };
        if metadata.is_dir() {
            walk(&path, &child_shown, depth + 1, visited, files);
        } else if metadata.is_file() {
            files.push((child_shown, path));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wc(pattern: &str, name: &str) -> bool {
        regex::Regex::new(&format!("^(?:{})$", wildcard_to_regex(pattern)))
            .unwrap()
            .is_match(name)
    }

    /// Qt's test layout, made at test time: `certificates/` with seven PEM certificates (one
    /// `ca*`, four `cert*`, three of them `cert-[sure]*`), two DER ones and a subdirectory;
    /// `more-certificates/` beside it. Returns the directory holding both, with a trailing
    /// `/` as Qt's `testDataDir` has.
    fn qt_layout(name: &str) -> (PathBuf, String) {
        let root =
            std::env::temp_dir().join(format!("polytls-from-path-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let certs = root.join("certificates");
        fs::create_dir_all(certs.join("sub")).unwrap();
        fs::create_dir_all(root.join("more-certificates")).unwrap();
        let make = || rcgen::generate_simple_self_signed(vec!["a.example".into()]).unwrap();
        for pem_name in [
            "ca.pem",
            "cert.pem",
            "cert-ss.pem",
            "cert-ss-san.pem",
            "cert-ecdsa.pem",
            "x.crt",
            "y.pem",
        ] {
            fs::write(certs.join(pem_name), make().cert.pem()).unwrap();
        }
        for der_name in ["cert.der", "ca.der"] {
            fs::write(certs.join(der_name), make().cert.der()).unwrap();
        }
        fs::write(certs.join("sub/deep.pem"), make().cert.pem()).unwrap();
        fs::write(certs.join(".hidden.pem"), make().cert.pem()).unwrap();
        fs::write(certs.join("notes.txt"), b"not a certificate").unwrap();
        fs::write(
            root.join("more-certificates/trailing-whitespace.pem"),
            format!("{}  \n\n", make().cert.pem()),
        )
        .unwrap();
        let prefix = format!("{}/", root.to_str().unwrap());
        (root, prefix)
    }

    fn count(path: &str, syntax: PatternSyntax, format: EncodingFormat) -> usize {
        Certificate::from_path(path, format, syntax)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .len()
    }

    /// The rows of Qt's `fromPath_qregularexpression` test, on the same layout.
    #[test]
    fn qt_from_path_table() {
        use EncodingFormat::{Der, Pem};
        use PatternSyntax::{FixedString as F, RegularExpression as R, Wildcard as W};
        let (root, dir) = qt_layout("table");
        let rows: &[(&str, PatternSyntax, EncodingFormat, usize)] = &[
            ("certificates", F, Pem, 0),
            ("certificates", R, Pem, 0),
            ("certificates", W, Pem, 0),
            ("certificates", W, Der, 0),
            ("certificates/cert.pem", F, Pem, 1),
            ("certificates/cert.pem", F, Der, 0),
            ("certificates/cert.pem", R, Pem, 1),
            ("certificates/cert.pem", R, Der, 0),
            ("certificates/cert.pem", W, Pem, 1),
            ("certificates/cert.pem", W, Der, 0),
            ("certificates/*", F, Pem, 0),
            ("certificates/*", R, Pem, 0),
            ("certificates/*", W, Pem, 7),
            ("certificates/ca*", W, Pem, 1),
            ("certificates/cert*", W, Pem, 4),
            ("certificates/cert-[sure]*", W, Pem, 3),
            ("certificates/cert-[not]*", W, Pem, 0),
            ("certificates/*", W, Der, 2),
            ("c*/c*.pem", F, Pem, 0),
            ("c*/c*.pem", R, Pem, 0),
            ("c*/c*.pem", W, Pem, 5),
            ("c*/c*.pem", W, Der, 0),
            ("d*/c*.pem", W, Pem, 0),
            ("c.*/c.*.pem", F, Pem, 0),
            ("c.*/c.*.pem", R, Pem, 5),
            ("c.*/c.*.pem", R, Der, 0),
            ("c.*/c.*.pem", W, Pem, 0),
            ("d.*/c.*.pem", R, Pem, 0),
            ("certificates/*.pem", W, Pem, 6),
            ("certificates/**", W, Pem, 7),
            // Regular expressions reach into subdirectories; hidden files are never read.
            ("certificates/.*", R, Pem, 8),
            ("more-certificates/trailing-whitespace.pem", F, Pem, 1),
            ("nothing-here/*.pem", W, Pem, 0),
            ("nothing-here.pem", F, Pem, 0),
            ("nothing-here.pem", W, Pem, 0),
        ];
        for &(path, syntax, format, expected) in rows {
            let full = format!("{dir}{path}");
            assert_eq!(
                count(&full, syntax, format),
                expected,
                "{path} {syntax:?} {format:?}"
            );
        }
        // Relative paths are read from the current directory, which this test does not
        // change: a pattern without a directory part looks there.
        for syntax in [F, R, W] {
            assert_eq!(count("", syntax, Pem), 0);
        }
        let _ = fs::remove_dir_all(root);
    }

    /// A bad regular expression is an error (Qt gives an empty list).
    #[test]
    fn bad_regular_expression_is_an_error() {
        let (root, dir) = qt_layout("badregex");
        let r = Certificate::from_path(
            format!("{dir}certificates/(.pem"),
            EncodingFormat::Pem,
            PatternSyntax::RegularExpression,
        );
        assert!(matches!(r, Err(Error::InvalidInput(_))), "{r:?}");
        let _ = fs::remove_dir_all(root);
    }

    /// A file that cannot be read is skipped, as Qt skips it.
    #[cfg(unix)]
    #[test]
    fn unreadable_files_are_skipped() {
        use std::os::unix::fs::PermissionsExt;
        let (root, dir) = qt_layout("unreadable");
        // A link to nowhere, and one to itself, are passed over whoever runs the test.
        std::os::unix::fs::symlink(
            root.join("nowhere.pem"),
            root.join("certificates/c-gone.pem"),
        )
        .unwrap();
        std::os::unix::fs::symlink("c-loop.pem", root.join("certificates/c-loop.pem")).unwrap();
        assert_eq!(
            count(
                &format!("{dir}certificates/*"),
                PatternSyntax::Wildcard,
                EncodingFormat::Pem
            ),
            7
        );
        let locked = root.join("certificates/cert.pem");
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        if fs::read(&locked).is_ok() {
            eprintln!("SKIPPED: running with privileges that read a mode-000 file");
        } else {
            assert_eq!(
                count(
                    &format!("{dir}certificates/*"),
                    PatternSyntax::Wildcard,
                    EncodingFormat::Pem
                ),
                6
            );
            assert_eq!(
                count(
                    &format!("{dir}certificates/cert.pem"),
                    PatternSyntax::FixedString,
                    EncodingFormat::Pem
                ),
                0
            );
        }
        let _ = fs::remove_dir_all(root);
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
        assert!(!wc("*.pem", "sub/a.pem"));
        assert!(!wc("a?b", "a/b"));
        assert!(wc("[a-c].[!x]", "b.y"));
        assert!(wc("(a)+{1}.$", "(a)+{1}.$"));
    }
}
