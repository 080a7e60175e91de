//! `poolguard rules`.

use crate::rules::RULES;

pub fn run() -> Result<u8, String> {
    let width = RULES.iter().map(|r| r.id.len()).max().unwrap_or(0);
    let mut out = String::new();
    for r in RULES {
        out.push_str(&format!(
            "{:width$}  {:7}  {}\n",
            r.id,
            r.severity.as_str(),
            r.summary
        ));
    }
    super::print(&out);
    Ok(super::EXIT_CLEAN)
}
