//! The runnable programs live in `src/bin/`. This library holds no code of its own: it
//! includes the README so that `cargo test` compiles every example the README shows.

#![doc = include_str!("../../README.md")]
