//! `poolguard::model::env::expand` on arbitrary input against a small environment: never
//! panics, and never grows the text beyond what the references can expand to.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolguard::model::env::{Env, EnvVar, expand};
use poolguard::source::Span;

fn var(name: &str, value: Option<&str>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: value.map(Into::into),
        span: Span::default(),
        decl: Span::default(),
        secret: false,
        unknown_reason: value
            .is_none()
            .then(|| "from a Secret not in the repo".into()),
        secret_name: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let env = Env {
        vars: vec![
            var("A", Some("1")),
            var("HOST", Some("pg-rw.ns.svc")),
            var("SELF", Some("$(SELF)")),
            var("DOLLAR", Some("$$")),
            var("EMPTY", Some("")),
            var("LONG", Some("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")),
            var("UNKNOWN", None),
        ],
    };
    if let Some(out) = expand(input, &env) {
        // Each byte of input yields at most one byte, except a `$(NAME)` reference (at least
        // four bytes) that yields at most the longest value (32 bytes).
        assert!(
            out.len() <= input.len() * 8 + 32,
            "expansion grew {} → {}",
            input.len(),
            out.len()
        );
        if !input.contains('$') {
            assert_eq!(out, input);
        }
    }
});
