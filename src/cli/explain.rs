//! `poolguard explain RULE-ID`.

use crate::rules;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Rule id, as printed in findings.
    rule: String,
}

pub fn run(a: Args) -> Result<u8, String> {
    let Some(r) = rules::get(&a.rule) else {
        return Err(format!("unknown rule `{}` (see `poolguard rules`)", a.rule));
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
