//! `poolguard report`: each database's connection budget, in four formats.
//!
//! This is separate from the findings renderers (`render::human`, `render::json`, …): a budget
//! report has no findings, only per-database numbers. Every format shows the same numbers,
//! derived once here in [`View`]:
//!
//! - capacity = max_connections − reserved − headroom (each shown);
//! - each client's steady and peak connections; a client that reaches the database through a
//!   pooler (`via`) is listed but counted against the pooler, not in the database's sums;
//! - the sums S0 (steady), S1 (rollout), S2 (all rollouts), the headroom left at each and the
//!   utilization (sum ÷ capacity), and which workload's rollout makes S1;
//! - the status computed by the capacity rules.
//!
//! Renderers return strings and never print. Every string that comes from the user's files
//! (database, workload and pooler ids) passes through [`crate::redact::redact`].

pub mod html;
pub mod json;
pub mod markdown;
pub mod table;

use std::fmt;

use crate::report::{ClientReport, DatabaseReport, Report};

/// With `--base`: the header (`compared with origin/main (1a2b3c4d5e): 2 databases changed`)
/// and one line per changed database, as [`crate::diff`] words them for `check`.
pub struct Changes {
    /// The header line.
    pub header: String,
    /// One line per changed, new or removed database.
    pub lines: Vec<String>,
}

impl Changes {
    /// The changes against the report's base, or `None` without `--base`.
    pub fn of(report: &Report) -> Option<Changes> {
        let base = report.base.as_ref()?;
        let lines = crate::diff::database_changes(report);
        Some(Changes {
            header: format!(
                "{}: {}",
                crate::diff::compared_with(base),
                crate::diff::count(lines.len(), "database changed", "databases changed")
            ),
            lines,
        })
    }
}

/// A `poolguard report` output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BudgetFormat {
    /// Aligned plain text (the default).
    Table,
    /// GitHub-flavoured Markdown, for a pull-request comment or a job summary.
    Markdown,
    /// A stable JSON document (documented in the README).
    Json,
    /// One self-contained HTML page with a stacked bar per database.
    Html,
}

impl BudgetFormat {
    /// Every format, in the order they are documented.
    pub const ALL: [BudgetFormat; 4] = [
        BudgetFormat::Table,
        BudgetFormat::Markdown,
        BudgetFormat::Json,
        BudgetFormat::Html,
    ];

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetFormat::Table => "table",
            BudgetFormat::Markdown => "markdown",
            BudgetFormat::Json => "json",
            BudgetFormat::Html => "html",
        }
    }

    /// The format named `name`, if any.
    pub fn parse(name: &str) -> Option<BudgetFormat> {
        BudgetFormat::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

impl fmt::Display for BudgetFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Settings that change what a budget report shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Options {
    /// Fraction of capacity above which the rollout sum is a warning (`warn_utilization`).
    pub warn_utilization: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            warn_utilization: 0.8,
        }
    }
}

/// Renders the budget of every database in `report` in `format`.
pub fn render(format: BudgetFormat, report: &Report, options: &Options) -> String {
    match format {
        BudgetFormat::Table => table::render(report, options),
        BudgetFormat::Markdown => markdown::render(report, options),
        BudgetFormat::Json => json::render(report, options),
        BudgetFormat::Html => html::render(report, options),
    }
}

/// One database's budget with the numbers every format derives from it.
#[derive(Clone, Debug)]
pub(crate) struct View<'a> {
    /// The database as the capacity evaluation reported it.
    pub db: &'a DatabaseReport,
    /// `capacity − steady`; negative when over.
    pub headroom_steady: Option<i64>,
    /// `capacity − rollout`.
    pub headroom_rollout: Option<i64>,
    /// `capacity − all_rollouts`.
    pub headroom_all_rollouts: Option<i64>,
    /// Index into `db.clients` of the workload whose rollout makes S1 (the first of equals),
    /// `None` when no rollout adds connections or the sums are unknown.
    pub rollout_client: Option<usize>,
    /// `rollout − steady`: the connections the worst single rollout adds.
    pub rollout_extra: Option<i64>,
}

impl<'a> View<'a> {
    /// Derives the numbers of `db`.
    pub fn of(db: &'a DatabaseReport) -> View<'a> {
        let left = |s: Option<i64>| s.map(|s| db.capacity - s);
        let rollout_extra = match (db.steady, db.rollout) {
            (Some(s), Some(r)) => Some(r - s),
            _ => None,
        };
        let rollout_client = rollout_extra.filter(|&e| e > 0).and_then(|extra| {
            db.clients
                .iter()
                .position(|c| counted(c) && surge(c) == Some(extra))
        });
        View {
            db,
            headroom_steady: left(db.steady),
            headroom_rollout: left(db.rollout),
            headroom_all_rollouts: left(db.all_rollouts),
            rollout_client,
            rollout_extra,
        }
    }

    /// Views of every database of `report`, in report order.
    pub fn all(report: &'a Report) -> Vec<View<'a>> {
        report.databases.iter().map(View::of).collect()
    }

    /// Workload id of [`View::rollout_client`].
    pub fn rollout_workload(&self) -> Option<&'a str> {
        self.rollout_client
            .map(|i| self.db.clients[i].workload.as_str())
    }

    /// The warning threshold in connections (`warn_utilization × capacity`).
    pub fn warn_at(&self, options: &Options) -> f64 {
        options.warn_utilization * self.db.capacity as f64
    }

    /// Whether some counted client's numbers are unknown (the sums are then unknown too, and
    /// only the bounded part can be shown).
    pub fn has_unknown(&self) -> bool {
        self.db
            .clients
            .iter()
            .any(|c| counted(c) && (c.steady.is_none() || c.peak.is_none()))
    }
}

/// Whether a client counts toward its database's sums (it does unless it is behind a pooler).
pub(crate) fn counted(c: &ClientReport) -> bool {
    c.via.is_none()
}

/// What the client's own rollout adds: `peak − steady`.
pub(crate) fn surge(c: &ClientReport) -> Option<i64> {
    Some(c.peak? - c.steady?)
}

/// `demand ÷ capacity` rounded to three decimals; `None` when unknown or without capacity.
pub(crate) fn utilization(demand: Option<i64>, capacity: i64) -> Option<f64> {
    let d = demand?;
    (capacity > 0).then(|| (d as f64 * 1000.0 / capacity as f64).round() / 1000.0)
}

/// Utilization as a rounded whole percentage (`120%`), `?` when unknown.
pub(crate) fn percent(demand: Option<i64>, capacity: i64) -> String {
    match demand {
        Some(d) if capacity > 0 => format!("{}%", crate::capacity::percent(d, capacity)),
        _ => "?".to_string(),
    }
}

/// A number, or `?` when unknown.
pub(crate) fn number(n: Option<i64>) -> String {
    n.map_or_else(|| "?".to_string(), |n| n.to_string())
}

/// `max_connections 200 − reserved 3 − headroom 0`, the operands of capacity.
pub(crate) fn capacity_formula(db: &DatabaseReport) -> String {
    format!(
        "max_connections {} − reserved {} − headroom {}",
        db.max_connections, db.reserved, db.headroom
    )
}

/// The warning threshold as a percentage for display (`80%`, `72.5%`).
pub(crate) fn warn_percent(options: &Options) -> String {
    let p = options.warn_utilization * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{}%", p.round() as i64)
    } else {
        format!("{p:.1}%")
    }
}

/// How the headroom left at a sum reads in prose: `21 left`, `39 over`, `unknown`.
pub(crate) fn left_or_over(headroom: Option<i64>) -> String {
    match headroom {
        Some(h) if h < 0 => format!("{} over", -h),
        Some(h) => format!("{h} left"),
        None => "unknown".to_string(),
    }
}

/// Pods in steady state and at peak: `6 → 9`, `? → ?`.
pub(crate) fn pods(c: &ClientReport) -> String {
    format!("{} → {}", number(c.pods_steady), number(c.pods_peak))
}

/// Text that came from the user's files, with secrets masked and control characters (which
/// would break a line-oriented layout or a terminal) replaced by spaces.
pub(crate) fn untrusted(s: &str) -> String {
    crate::redact::redact(s)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Lays out rows as aligned columns separated by two spaces; columns flagged in `right` are
/// right-aligned. Lines carry no trailing blanks.
pub(crate) fn align(rows: &[Vec<String>], right: &[bool], indent: &str) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::from(indent);
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = " ".repeat(widths[i] - cell.chars().count());
            if right.get(i).copied().unwrap_or(false) {
                line.push_str(&pad);
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&pad);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A report shared by the budget renderers' tests: a database over capacity at rollout with
/// three direct clients, a pooler with two clients behind it, an unknown client, and ids that
/// carry markup and a password.
#[cfg(test)]
pub(crate) mod test_fixture {
    use crate::report::{ClientReport, DatabaseReport, Report, Status};

    pub(crate) fn client(
        workload: &str,
        via: Option<&str>,
        pods: (i64, i64),
        conn_pod: i64,
    ) -> ClientReport {
        ClientReport {
            workload: workload.into(),
            via: via.map(Into::into),
            pods_steady: Some(pods.0),
            pods_peak: Some(pods.1),
            conn_pod: Some(conn_pod),
            steady: Some(pods.0 * conn_pod),
            peak: Some(pods.1 * conn_pod),
        }
    }

    pub(crate) fn report() -> Report {
        Report {
            databases: vec![
                DatabaseReport {
                    id: "prod/auth-db".into(),
                    engine: "postgres".into(),
                    max_connections: 200,
                    reserved: 3,
                    headroom: 0,
                    capacity: 197,
                    steady: Some(176),
                    rollout: Some(236),
                    all_rollouts: Some(254),
                    status: Status::Error,
                    clients: vec![
                        client("prod/Deployment/accounts-api", None, (4, 5), 10),
                        client("prod/Deployment/admin-portal", None, (2, 3), 8),
                        client("prod/Deployment/auth", None, (6, 9), 20),
                    ],
                },
                DatabaseReport {
                    id: "shop/<orders>&\"db\"|`x`*".into(),
                    engine: "postgres".into(),
                    max_connections: 100,
                    reserved: 3,
                    headroom: 7,
                    capacity: 90,
                    steady: None,
                    rollout: None,
                    all_rollouts: None,
                    status: Status::Warning,
                    clients: vec![
                        client("shop/Deployment/pgbouncer", None, (2, 3), 20),
                        client(
                            "shop/Deployment/orders",
                            Some("shop/Deployment/pgbouncer"),
                            (6, 8),
                            25,
                        ),
                        ClientReport {
                            workload: "postgres://app:hunter2@orders-db/app".into(),
                            via: None,
                            pods_steady: Some(1),
                            pods_peak: Some(1),
                            conn_pod: None,
                            steady: None,
                            peak: None,
                        },
                    ],
                },
            ],
            ..Report::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in BudgetFormat::ALL {
            assert_eq!(BudgetFormat::parse(f.as_str()), Some(f));
            assert_eq!(f.to_string(), f.as_str());
        }
        assert_eq!(BudgetFormat::parse("human"), None);
    }

    #[test]
    fn view_derives_headroom_and_the_rollout_workload() {
        let report = test_fixture::report();
        let v = View::of(&report.databases[0]);
        assert_eq!(v.headroom_steady, Some(21));
        assert_eq!(v.headroom_rollout, Some(-39));
        assert_eq!(v.headroom_all_rollouts, Some(-57));
        assert_eq!(v.rollout_extra, Some(60));
        assert_eq!(v.rollout_workload(), Some("prod/Deployment/auth"));
        assert!(!v.has_unknown());
        let v = View::of(&report.databases[1]);
        assert_eq!(v.headroom_steady, None);
        assert_eq!(v.rollout_workload(), None);
        assert!(v.has_unknown());
    }

    #[test]
    fn utilization_rounds_and_needs_capacity() {
        assert_eq!(utilization(Some(236), 197), Some(1.198));
        assert_eq!(utilization(Some(176), 197), Some(0.893));
        assert_eq!(utilization(None, 197), None);
        assert_eq!(utilization(Some(5), 0), None);
        assert_eq!(percent(Some(236), 197), "120%");
        assert_eq!(percent(Some(1), 0), "?");
    }

    #[test]
    fn warn_percent_keeps_fractions() {
        assert_eq!(warn_percent(&Options::default()), "80%");
        assert_eq!(
            warn_percent(&Options {
                warn_utilization: 0.725
            }),
            "72.5%"
        );
    }

    #[test]
    fn align_pads_without_trailing_blanks() {
        let rows = vec![
            vec!["a".to_string(), "1".to_string(), "x".to_string()],
            vec!["long".to_string(), "100".to_string(), String::new()],
        ];
        assert_eq!(
            align(&rows, &[false, true, false], "  "),
            "  a       1  x\n  long  100\n"
        );
    }

    #[test]
    fn untrusted_masks_secrets_and_controls() {
        assert_eq!(
            untrusted("postgres://u:hunter2@h/db\nx\u{1b}[31m"),
            "postgres://u:****@h/db x [31m"
        );
    }

    #[test]
    fn no_format_leaks_a_secret() {
        let report = test_fixture::report();
        for f in BudgetFormat::ALL {
            let out = render(f, &report, &Options::default());
            assert!(!out.contains("hunter2"), "{f} leaks a password:\n{out}");
            // Markdown escapes the mask's asterisks; they render as `****`.
            assert!(
                out.replace('\\', "").contains("app:****@orders-db"),
                "{f} lost the masked client"
            );
        }
    }
}
