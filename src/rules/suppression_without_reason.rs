//! `suppression-without-reason`: a suppression must say why.

use super::Rule;
use crate::diag::Severity;

/// The rule. Findings come from applying suppressions (see `diag::suppress`).
pub static RULE: Rule = Rule {
    id: crate::diag::suppress::NO_REASON,
    severity: Severity::Warning,
    summary: "a suppression gives no reason",
    docs: DOCS,
    run: None,
};

const DOCS: &str = "\
## What it checks
Suppressions take a reason after ` -- ` (`poolguard.dev/ignore: \"capacity-exceeded --
reserved instance sized for it\"`, `# poolguard: ignore duplicate-key -- merged by kustomize`)
or a `reason:` in `ignore_findings`.

## Why it matters
A reviewer cannot judge a silenced capacity error without knowing why it is safe.

## Example that fails
```yaml
metadata:
  annotations:
    poolguard.dev/ignore: rollout-capacity-exceeded
```

## How to fix
Add ` -- <why>` to the annotation or comment, or `reason:` to the config entry.
";
