//! `invalid-file`: a scanned file cannot be parsed.

use super::Rule;
use crate::diag::Severity;

/// The rule. Findings come from reading and parsing (see `input`).
pub static RULE: Rule = Rule {
    id: "invalid-file",
    severity: Severity::Error,
    summary: "a scanned file cannot be parsed (syntax, encoding, size, nesting or alias limits, unrendered template)",
    docs: DOCS,
    run: None,
};

const DOCS: &str = "\
## What it checks
Every scanned file must be readable and parse: valid YAML/JSON/TOML/properties/.env/INI,
UTF-8 text, under the size limit (64 MiB, `max_file_size` in poolguard.yaml), nesting and
alias expansion within limits, and no unrendered `{{ }}` template actions.

## Why it matters
A file that does not parse is not checked; passing it silently would hide every problem in it.
The run goes on and checks every other file.

## Example that fails
A Helm template such as `replicas: {{ .Values.replicas }}` scanned before rendering.

## How to fix
Fix the syntax; render templates first (`helm template … | poolguard check -`); or add the
folder to `ignore:` in poolguard.yaml.
";
