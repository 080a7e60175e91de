//! `poolguard explain RULE-ID`.

use crate::rules;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Rule id, as printed in findings.
    rule: String,
}

pub fn run(a: Args) -> Result<u8, String> {
    let Some(r) = rules::get(&a.rule) else {
        let policies = super::local_policies()?;
        let Some(p) = policies.iter().find(|p| p.id == a.rule) else {
            return Err(format!("unknown rule `{}` (see `poolguard rules`)", a.rule));
        };
        super::print(&format!(
            "# {} ({}, custom policy)\n\n{}\n\n## What it checks\n{}\n\n## Condition\n{}\n\n## How to fix\n{}\n",
            p.id,
            p.severity.as_str(),
            p.summary,
            p.description.trim(),
            p.condition.trim(),
            p.remediation.trim()
        ));
        return Ok(super::EXIT_CLEAN);
    };
    super::print(&format!(
        "# {} ({})\n\n{}\n\n{}",
        r.id,
        r.severity.as_str(),
        r.summary,
        r.docs
    ));
    Ok(super::EXIT_CLEAN)
}
