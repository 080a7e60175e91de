//! `poolguard report --format markdown`: GitHub-flavoured Markdown for a pull-request comment
//! or a job summary — an overview table of every database, then per database the capacity
//! formula, the sums and a table of its clients.
//!
//! Text from the user's files is redacted and Markdown-escaped, so an id can neither break a
//! table row (`|`, newlines), inject markup or HTML, nor mention a user.

use super::{
    Options, View, capacity_formula, counted, left_or_over, number, percent, pods, untrusted,
    warn_percent,
};
use crate::report::{ClientReport, Report, Status};

/// Renders every database's budget as Markdown.
pub fn render(report: &Report, options: &Options) -> String {
    let views = View::all(report);
    let mut out = String::from("## poolguard: connection budget\n\n");
    // `--base`: what changed, before the table.
    if let Some(c) = super::Changes::of(report) {
        out.push_str(&format!("**{}**\n\n", md(&c.header)));
        for l in &c.lines {
            out.push_str(&format!("- {}\n", md(l)));
        }
        if !c.lines.is_empty() {
            out.push('\n');
        }
    }
    if views.is_empty() {
        out.push_str("No databases found.\n");
        return out;
    }
    out.push_str("| database | capacity | steady | rollout | all rollouts | rollout % | headroom at rollout | status |\n");
    out.push_str("|:--|--:|--:|--:|--:|--:|--:|:--|\n");
    for v in &views {
        let db = v.db;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            md(&db.id),
            db.capacity,
            number(db.steady),
            number(db.rollout),
            number(db.all_rollouts),
            percent(db.rollout, db.capacity),
            number(v.headroom_rollout),
            status(db.status),
        ));
    }
    for v in &views {
        out.push('\n');
        out.push_str(&database(v, options));
    }
    out
}

fn database(v: &View<'_>, options: &Options) -> String {
    let db = v.db;
    let mut out = format!(
        "### {} ({}): {}\n\n",
        md(&db.id),
        md(&db.engine),
        status(db.status)
    );
    out.push_str(&format!(
        "Capacity **{}** = {}; warning above {} ({}).\n",
        db.capacity,
        capacity_formula(db),
        warn_percent(options),
        super::table::decimal(v.warn_at(options)),
    ));
    let rollout_by = match (v.rollout_workload(), v.rollout_extra) {
        (Some(w), Some(extra)) => format!(" while {} rolls out (+{extra})", md(w)),
        _ => String::new(),
    };
    out.push_str(&format!(
        "Steady **{}** ({}, {}) · rollout **{}** ({}, {}){} · all rollouts **{}** ({}, {}).\n\n",
        number(db.steady),
        percent(db.steady, db.capacity),
        left_or_over(v.headroom_steady),
        number(db.rollout),
        percent(db.rollout, db.capacity),
        left_or_over(v.headroom_rollout),
        rollout_by,
        number(db.all_rollouts),
        percent(db.all_rollouts, db.capacity),
        left_or_over(v.headroom_all_rollouts),
    ));
    if db.clients.is_empty() {
        out.push_str("No clients.\n");
        return out;
    }
    out.push_str("| client | via | pods (steady → peak) | conn/pod | steady | peak |\n");
    out.push_str("|:--|:--|--:|--:|--:|--:|\n");
    for c in &db.clients {
        out.push_str(&client_row(c));
    }
    let mut notes = Vec::new();
    if db.clients.iter().any(|c| !counted(c)) {
        notes.push("Numbers in parentheses reach the database through a pooler: they count against the pooler, not here.");
    }
    if v.has_unknown() {
        notes
            .push("`?`: a client's connections are unknown; `poolguard check` says which and why.");
    }
    if !notes.is_empty() {
        out.push('\n');
        for n in notes {
            out.push_str(&format!("_{n}_\n"));
        }
    }
    out
}

fn client_row(c: &ClientReport) -> String {
    let (steady, peak) = if counted(c) {
        (number(c.steady), number(c.peak))
    } else {
        (
            format!("({})", number(c.steady)),
            format!("({})", number(c.peak)),
        )
    };
    format!(
        "| {} | {} | {} | {} | {} | {} |\n",
        md(&c.workload),
        c.via.as_deref().map(md).unwrap_or_default(),
        pods(c),
        number(c.conn_pod),
        steady,
        peak,
    )
}

fn status(s: Status) -> &'static str {
    match s {
        Status::Ok => "✅ ok",
        Status::Warning => "⚠️ warning",
        Status::Error => "❌ error",
    }
}

/// Redacted text, escaped for inline Markdown and table cells: punctuation that starts
/// emphasis, code, links, HTML, strikethrough, table cells or mentions is backslash-escaped
/// (valid CommonMark for any ASCII punctuation) and line breaks become spaces.
pub(crate) fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in untrusted(s).chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '@' | '!' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::test_fixture;
    use super::*;

    #[test]
    fn escapes_markup_and_keeps_rows_intact() {
        assert_eq!(md("a|b"), "a\\|b");
        assert_eq!(md("<img src=x>"), "\\<img src=x\\>");
        assert_eq!(md("**x** @team\nnext"), "\\*\\*x\\*\\* \\@team next");
        assert_eq!(md("prod/auth-db"), "prod/auth-db");
    }

    #[test]
    fn renders_overview_details_and_pooled_clients() {
        let out = render(&test_fixture::report(), &Options::default());
        assert!(
            out.contains("| prod/auth-db | 197 | 176 | 236 | 254 | 120% | -39 | ❌ error |"),
            "{out}"
        );
        assert!(
            out.contains("while prod/Deployment/auth rolls out (+60)"),
            "{out}"
        );
        assert!(out.contains("| shop/Deployment/orders | shop/Deployment/pgbouncer | 6 → 8 | 25 | (150) | (200) |"), "{out}");
        assert!(
            out.contains("shop/\\<orders\\>\\&\"db\"\\|\\`x\\`\\*"),
            "{out}"
        );
        // Every table row has the same number of unescaped cell separators as its header.
        for line in out.lines().filter(|l| l.starts_with('|')) {
            let cells = line.replace("\\|", "").matches('|').count();
            assert!(cells == 9 || cells == 7, "broken row: {line}");
        }
    }

    #[test]
    fn empty_report() {
        assert!(render(&Report::default(), &Options::default()).ends_with("No databases found.\n"));
    }
}
