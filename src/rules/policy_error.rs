//! `policy-error`: a custom policy's condition failed at run time.

use super::Rule;
use crate::diag::Severity;

/// The rule. Findings come from evaluating custom policies (see `policy::eval`).
pub static RULE: Rule = Rule {
    id: "policy-error",
    severity: Severity::Warning,
    summary: "a custom policy's condition failed to evaluate (type mismatch, bad function call)",
    docs: DOCS,
    run: None,
};

const DOCS: &str = "\
## What it checks
Every custom policy's condition must evaluate to `true` or `false` for every target it applies
to. A field that is absent counts as `false` (write `has(x.y)` to be explicit); any other
runtime error — comparing a string with an int, calling a function on the wrong type, a
condition that yields something other than a bool — is reported once per policy.

## Why it matters
A policy that errors checks nothing: treating the error as a pass would be a silent pass.

## Example that fails
```yaml
condition: object.spec.replicas > \"2\"    # int compared with string
```

## How to fix
Compare values of one type (`int(x)`, `string(x)`), and guard optional fields with `has(…)`.
Run `poolguard policy test` on the policy's embedded tests.
";
