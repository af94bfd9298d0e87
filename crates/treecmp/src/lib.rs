//! Test support for seedship: builds sample directory trees and compares two trees
//! bit-exact (entry names, types, contents, symlink targets, mode bits and mtimes).
//!
//! Used by the tests of `seedship-repo` and the `seedship` binary; never by production code.

mod compare;
mod sample;

pub use crate::{
    compare::{Difference, compare_trees},
    sample::{Rng, SampleTree, set_mtime, write_file},
};
