//! `duplicate-key`: a mapping repeats a key.

use super::Rule;
use crate::diag::Severity;

/// The rule. Findings come from parsing (see `input`).
pub static RULE: Rule = Rule {
    id: "duplicate-key",
    severity: Severity::Warning,
    summary: "a mapping repeats a key (the later value silently wins)",
    docs: DOCS,
    run: None,
};

const DOCS: &str = "\
## What it checks
No mapping in a scanned YAML, JSON, properties, .env or INI file may repeat a key.

## Why it matters
Kubernetes and most config loaders keep the last value without a word, so the pool size or
replica count someone reviewed may not be the one that applies.

## Example that fails
```yaml
env:
  maximum-pool-size: 10
  maximum-pool-size: 40
```

## How to fix
Delete the repeated key, keeping the value you mean.
";
