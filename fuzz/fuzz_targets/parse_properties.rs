//! `poolguard::parse::parse(Format::Properties, …)` on arbitrary text: never panics, and every span
//! it returns lies on character boundaries inside the text (renderers slice with them).
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolguard::parse::Format;

#[path = "common/parse.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::check(Format::Properties, data));
