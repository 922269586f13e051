//! (in progress)

use super::Spec;

pub const COMMANDS: &[Spec] = &[];
