//! `poolguard report --format table` (the default): aligned plain text, one block per
//! database.
//!
//! ```text
//! prod/auth-db (postgres): error
//!   capacity 197 = max_connections 200 − reserved 3 − headroom 0; warning above 80% (157.6)
//!
//!   client                        via  pods   conn/pod  steady  peak
//!   prod/Deployment/auth          -    6 → 9        20     120   180
//!
//!   sum                connections  of capacity  headroom
//!   rollout (S1)               236         120%       -39  rollout of prod/Deployment/auth adds 60
//! ```
//!
//! Clients behind a pooler show their numbers in parentheses: they count against the pooler,
//! not against the database.

use super::{
    Options, View, align, capacity_formula, counted, left_or_over, number, percent, pods,
    untrusted, warn_percent,
};
use crate::report::{ClientReport, Report};

/// Renders every database's budget as aligned text.
pub fn render(report: &Report, options: &Options) -> String {
    // `--base`: what changed, before the budgets.
    let mut out = String::new();
    if let Some(c) = super::Changes::of(report) {
        out.push_str(&untrusted(&c.header));
        out.push('\n');
        for l in &c.lines {
            out.push_str(&format!("  {}\n", untrusted(l)));
        }
        out.push('\n');
    }
    let views = View::all(report);
    if views.is_empty() {
        out.push_str("no databases found\n");
        return out;
    }
    let blocks: Vec<String> = views.iter().map(|v| block(v, options)).collect();
    out.push_str(&blocks.join("\n"));
    out
}

fn block(v: &View<'_>, options: &Options) -> String {
    let db = v.db;
    let mut out = format!(
        "{} ({}): {}\n",
        untrusted(&db.id),
        untrusted(&db.engine),
        db.status.as_str()
    );
    out.push_str(&format!(
        "  capacity {} = {}; warning above {} ({})\n",
        db.capacity,
        capacity_formula(db),
        warn_percent(options),
        decimal(v.warn_at(options)),
    ));
    out.push('\n');

    if db.clients.is_empty() {
        out.push_str("  no clients\n");
    } else {
        let mut rows = vec![
            ["client", "via", "pods", "conn/pod", "steady", "peak"]
                .map(String::from)
                .to_vec(),
        ];
        rows.extend(db.clients.iter().map(client_row));
        out.push_str(&align(&rows, &[false, false, true, true, true, true], "  "));
        if db.clients.iter().any(|c| !counted(c)) {
            out.push_str("  (n): goes through a pooler, so it counts against the pooler, not this database\n");
        }
    }
    out.push('\n');

    let mut sums = vec![
        ["sum", "connections", "of capacity", "headroom", ""]
            .map(String::from)
            .to_vec(),
    ];
    let rollout_note = match (v.rollout_workload(), v.rollout_extra) {
        (Some(w), Some(extra)) => format!("rollout of {} adds {extra}", untrusted(w)),
        _ => String::new(),
    };
    for (name, sum, headroom, note) in [
        ("steady (S0)", db.steady, v.headroom_steady, String::new()),
        ("rollout (S1)", db.rollout, v.headroom_rollout, rollout_note),
        (
            "all rollouts (S2)",
            db.all_rollouts,
            v.headroom_all_rollouts,
            String::new(),
        ),
    ] {
        sums.push(vec![
            name.to_string(),
            number(sum),
            percent(sum, db.capacity),
            number(headroom),
            note,
        ]);
    }
    out.push_str(&align(&sums, &[false, true, true, true, false], "  "));
    if v.has_unknown() {
        out.push_str(
            "  ?: a client's connections are unknown; `poolguard check` says which and why\n",
        );
    } else if let Some(h) = v.headroom_rollout {
        let what = if h < 0 { " capacity" } else { "" };
        out.push_str(&format!("  at rollout: {}{what}\n", left_or_over(Some(h))));
    }
    out
}

fn client_row(c: &ClientReport) -> Vec<String> {
    let (steady, peak) = if counted(c) {
        (number(c.steady), number(c.peak))
    } else {
        (
            format!("({})", number(c.steady)),
            format!("({})", number(c.peak)),
        )
    };
    vec![
        untrusted(&c.workload),
        c.via.as_deref().map_or_else(|| "-".to_string(), untrusted),
        pods(c),
        number(c.conn_pod),
        steady,
        peak,
    ]
}

/// A threshold in connections: whole numbers without decimals, others with one.
pub(crate) fn decimal(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_fixture;
    use super::*;

    #[test]
    fn renders_numbers_pooled_clients_and_unknowns() {
        let out = render(&test_fixture::report(), &Options::default());
        assert!(out.starts_with("prod/auth-db (postgres): error\n"), "{out}");
        assert!(out.contains(
            "capacity 197 = max_connections 200 − reserved 3 − headroom 0; warning above 80% (157.6)"
        ));
        assert!(
            out.contains("rollout of prod/Deployment/auth adds 60"),
            "{out}"
        );
        assert!(out.contains("(150)") && out.contains("(200)"), "{out}");
        assert!(out.contains("at rollout: 39 over capacity"), "{out}");
        assert!(out.contains("postgres://app:****@orders-db/app"), "{out}");
        assert!(
            out.lines().all(|l| l == l.trim_end()),
            "trailing blanks:\n{out}"
        );
    }

    #[test]
    fn empty_report() {
        assert_eq!(
            render(&Report::default(), &Options::default()),
            "no databases found\n"
        );
    }

    #[test]
    fn decimals() {
        assert_eq!(decimal(158.0), "158");
        assert_eq!(decimal(157.6), "157.6");
    }
}
