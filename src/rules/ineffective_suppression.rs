//! `ineffective-suppression`: a suppression that suppresses nothing, or has expired.

use super::Rule;
use crate::diag::Severity;

/// The rule. Findings come from applying suppressions (see `diag::suppress`).
pub static RULE: Rule = Rule {
    id: crate::diag::suppress::INEFFECTIVE,
    severity: Severity::Warning,
    summary: "a suppression matches no finding, or its `expires` date has passed",
    docs: DOCS,
    run: None,
};

const DOCS: &str = "\
## What it checks
Every suppression — a `poolguard.dev/ignore` annotation, a `# poolguard: ignore <rule>`
comment, an `ignore_findings` entry in poolguard.yaml — must silence at least one finding, and
an `ignore_findings` entry must not be past its `expires` date (an expired entry no longer
suppresses).

## Why it matters
Stale suppressions hide the next real problem at the same place, and temporary exceptions
become permanent unless something says they ran out.

## Example that fails
```yaml
ignore_findings:
  - rule: rollout-capacity-exceeded
    path: deploy/auth.yaml
    reason: migration window
    expires: 2025-01-31
```

## How to fix
Remove the suppression, or fix the finding it was hiding; extend `expires` only with a reason.
";
