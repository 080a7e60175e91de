//! poolguard: worst-case database connections from Kubernetes manifests and service configs.
//!
//! The pipeline is `walk → input (parse) → model → capacity + rules → diag → render`; each
//! stage is a module and a plain function over owned data.

pub mod capacity;
pub mod check;
pub mod cli;
pub mod config;
pub mod diag;
pub mod diff;
pub mod fix;
pub mod init;
pub mod input;
pub mod model;
pub mod parse;
pub mod policy;
pub mod redact;
pub mod render;
pub mod report;
pub mod rules;
pub mod schema;
pub mod source;
pub mod stacks;
pub mod timings;
pub mod walk;
