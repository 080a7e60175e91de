//! `poolguard rules`.

use crate::rules::RULES;

pub fn run() -> Result<u8, String> {
    let policies = super::local_policies()?;
    let mut rows: Vec<(String, &str, String, &str)> = RULES
        .iter()
        .map(|r| {
            (
                r.id.to_string(),
                r.severity.as_str(),
                r.summary.to_string(),
                "built-in",
            )
        })
        .collect();
    rows.extend(policies.iter().map(|p| {
        (
            p.id.clone(),
            p.severity.as_str(),
            p.summary.clone(),
            "policy",
        )
    }));
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (id, sev, summary, kind) in rows {
        out.push_str(&format!("{id:width$}  {sev:7}  {kind:8}  {summary}\n"));
    }
    super::print(&out);
    Ok(super::EXIT_CLEAN)
}
