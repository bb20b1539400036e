//! What the CLI and kernel tests share: the reproducer scripts of `tests/reproducers/`.

pub mod reproducers;
