//! `duplicate-object`: the same Kubernetes object defined in several files.

use super::Rule;
use crate::diag::Severity;

/// The rule. Findings come from building the model (see `model::report_duplicates`).
pub static RULE: Rule = Rule {
    id: "duplicate-object",
    severity: Severity::Warning,
    summary: "the same workload or database is defined in several files; it is counted once",
    docs: DOCS,
    run: None,
};

const DOCS: &str = "\
## What it checks
Every workload (`namespace/Kind/name`) and database (`namespace/name`) should be defined once
in the checked files. Kustomize bases and overlays, per-environment folders and copies define
the same object several times.

## Why it matters
Kubernetes has one object per name; counting every copy would multiply its connections, and
picking one silently could hide the larger one. poolguard counts each object once, with the
largest demand among its definitions, and says so — but the honest budget is per environment.

## Example that fails
`base/deployment.yaml` and `overlays/prod/deployment.yaml` both define `prod/Deployment/api`.

## How to fix
Check each rendered environment on its own (`kustomize build overlays/prod | poolguard check
-`), or list the copies under `ignore:` in poolguard.yaml.
";
