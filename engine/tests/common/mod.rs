//! Helpers shared by the integration tests: the catalogue of one formula per operation, and a tiny generator.
//!
//! Cargo compiles each test file as its own crate with its own copy of this module, and most
//! files use only part of it: `dead_code` would warn about the rest in every one of them.
#![allow(dead_code)]

pub mod catalog;
