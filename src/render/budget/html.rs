//! `poolguard report --format html`: one self-contained page (inline CSS, no script, no
//! network, no external fonts; a Content-Security-Policy forbids everything else).
//!
//! Per database: the capacity formula, the three sums as figures, a horizontal stacked bar and
//! a table of every client. The bar, on a scale from 0 to the larger of `max_connections` and
//! the rollout sum:
//!
//! - each counted client's steady connections as a solid segment in its own colour
//!   ([`PALETTE`], in client order), named with its numbers in a `title` and in the legend;
//! - the connections the worst single rollout adds, hatched in that workload's colour and
//!   [`HATCH_LIGHT`];
//! - the slots between capacity and `max_connections` (reserved + headroom), hatched grey;
//! - demand beyond capacity striped red ([`OVER_COLORS`]) over whatever lies there;
//! - a marker line at capacity ([`CAPACITY_COLOR`]) and one at the warning threshold
//!   ([`WARN_COLOR`], `warn_utilization × capacity`).
//!
//! The bar is `role="img"` with an `aria-label` that states every number, so a screen reader
//! gets what the picture shows. Every text from the user's files is redacted and HTML-escaped.
//! The colours are public so that the screenshot test can look for them.

use std::fmt::Write;

use super::{
    Options, View, capacity_formula, counted, left_or_over, number, percent, pods, untrusted,
    warn_percent,
};
use crate::report::{ClientReport, DatabaseReport, Report};

/// Colours of the counted clients' segments, in client order (cycled). Tableau 10 without its
/// red and pink, which would read as "over capacity".
pub const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#6b6ecf",
];
/// The light stripes of the hatched rollout segment.
pub const HATCH_LIGHT: &str = "#ffffff";
/// The two stripes of the over-capacity region.
pub const OVER_COLORS: [&str; 2] = ["#cf222e", "#a40e26"];
/// The capacity marker line.
pub const CAPACITY_COLOR: &str = "#1f2328";
/// The warning-threshold marker line.
pub const WARN_COLOR: &str = "#9a6700";

const CSS: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; background: #f6f8fa; color: #1f2328;
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 40px; }
h1 { font-size: 22px; margin: 0; font-weight: 600; }
.sub { margin: 2px 0 0; color: #59636e; }
.num { font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 10px; border-bottom: 1px solid #d1d9e0; text-align: left; vertical-align: top; }
thead th { font-weight: 600; color: #59636e; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; white-space: nowrap; }
tbody th, tfoot th { font-weight: 500; }
tfoot th, tfoot td { border-bottom: 0; font-weight: 600; }
.who { display: inline-flex; align-items: center; gap: 8px; overflow-wrap: anywhere; }
td.n, th.n { text-align: right; }
caption { text-align: left; font-weight: 600; padding: 0 0 6px; }
.overview { margin-top: 20px; background: #fff; border: 1px solid #d1d9e0; border-radius: 8px; padding: 12px 16px; }
.overview a { color: #0969da; text-decoration: none; }
section.db { margin-top: 20px; background: #fff; border: 1px solid #d1d9e0; border-left-width: 5px;
  border-radius: 8px; padding: 16px 24px 20px; break-inside: avoid; }
section.db.ok { border-left-color: #1a7f37; }
section.db.warning { border-left-color: #bf8700; }
section.db.error { border-left-color: #cf222e; }
.head { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
.head h2 { font-size: 18px; margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.engine { color: #59636e; }
.badge { font-size: 12px; font-weight: 600; padding: 1px 10px; border-radius: 999px; text-transform: uppercase; letter-spacing: .04em; }
.badge.ok { background: #dafbe1; color: #116329; }
.badge.warning { background: #fff8c5; color: #7d4e00; }
.badge.error { background: #ffebe9; color: #a40e26; }
.formula { margin: 6px 0 0; color: #59636e; }
.formula strong { color: #1f2328; }
.stats { display: grid; grid-template-columns: repeat(3, 1fr); gap: 12px; margin: 14px 0 0; }
.stats div { border: 1px solid #d1d9e0; border-radius: 6px; padding: 8px 12px; }
.stats dt { font-size: 12px; color: #59636e; text-transform: uppercase; letter-spacing: .04em; }
.stats dd { margin: 0; }
.stats .big { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.stats .pct { margin-left: 6px; color: #59636e; }
.stats .left { display: block; font-size: 13px; color: #1a7f37; }
.stats .over .left { color: #cf222e; font-weight: 600; }
.stats .unknown .left { color: #59636e; }
figure { margin: 0; }
.chart { padding: 50px 0 0; margin-top: 6px; }
.track { position: relative; height: 34px; background: #eaeef2; border-radius: 3px; }
.seg { position: absolute; top: 0; bottom: 0; }
.seg.client { box-shadow: inset -1px 0 0 #ffffff; }
.seg.rollout { background: repeating-linear-gradient(135deg, var(--c) 0 5px, HATCH 5px 9px); }
.seg.reserved { background: repeating-linear-gradient(135deg, #afb8c1 0 2px, #eaeef2 2px 6px); }
.seg.over { background: repeating-linear-gradient(45deg, OVER0 0 6px, OVER1 6px 12px); }
.marker { position: absolute; top: -10px; bottom: -10px; width: 2px; margin-left: -1px; }
.marker.cap { background: CAPCOLOR; top: -30px; }
.marker.warn { background: WARNCOLOR; }
.marker span { position: absolute; bottom: 100%; white-space: nowrap; font-size: 12px; line-height: 16px;
  padding: 0 2px 2px; font-variant-numeric: tabular-nums; }
.marker.cap span { font-weight: 600; }
.marker.warn span { color: WARNCOLOR; }
.start span, .axis .start { transform: none; }
.middle span, .axis .middle { transform: translateX(-50%); }
.end span, .axis .end { transform: translateX(-100%); }
.axis { position: relative; height: 22px; margin-top: 12px; font-size: 12px; color: #59636e; font-variant-numeric: tabular-nums; }
.axis span { position: absolute; top: 0; white-space: nowrap; }
.legend { list-style: none; margin: 8px 0 0; padding: 0; display: flex; flex-wrap: wrap; gap: 6px 20px; }
.legend li { display: flex; align-items: center; gap: 6px; }
.sw { display: inline-block; width: 14px; height: 14px; border-radius: 2px; flex: none; }
.sw.line { width: 3px; height: 16px; border-radius: 0; }
.pooled { margin: 10px 0 0; color: #59636e; }
.note { margin: 10px 0 0; color: #7d4e00; }
.clients { margin-top: 18px; }
tr.via td { color: #59636e; }
.muted { color: #59636e; }
footer { margin-top: 24px; color: #59636e; font-size: 12px; }
"#;

/// Renders the whole page.
pub fn render(report: &Report, options: &Options) -> String {
    let views = View::all(report);
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
    let _ = writeln!(
        out,
        "<meta name=\"generator\" content=\"poolguard {}\">",
        env!("CARGO_PKG_VERSION")
    );
    out.push_str("<title>poolguard · connection budget</title>\n<style>");
    out.push_str(
        &CSS.replace("HATCH", HATCH_LIGHT)
            .replace("OVER0", OVER_COLORS[0])
            .replace("OVER1", OVER_COLORS[1])
            .replace("CAPCOLOR", CAPACITY_COLOR)
            .replace("WARNCOLOR", WARN_COLOR),
    );
    out.push_str("</style>\n</head>\n<body>\n<main>\n<header>\n<h1>Connection budget</h1>\n");
    let _ = writeln!(
        out,
        "<p class=\"sub\">{} · worst-case connections per database against its capacity · warning above {} of capacity</p>",
        plural(views.len(), "database", "databases"),
        warn_percent(options),
    );
    out.push_str("</header>\n");
    // `--base`: what changed, before the budgets.
    if let Some(c) = super::Changes::of(report) {
        let _ = writeln!(
            out,
            "<section class=\"changes\">\n<h2>{}</h2>",
            esc(&c.header)
        );
        if !c.lines.is_empty() {
            out.push_str("<ul>\n");
            for l in &c.lines {
                let _ = writeln!(out, "<li>{}</li>", esc(l));
            }
            out.push_str("</ul>\n");
        }
        out.push_str("</section>\n");
    }
    if views.is_empty() {
        out.push_str("<p class=\"note\">No databases were found in the files read.</p>\n");
    }
    if views.len() > 1 {
        overview(&mut out, &views);
    }
    for (i, v) in views.iter().enumerate() {
        database(&mut out, i, v, options);
    }
    let _ = writeln!(
        out,
        "<footer>poolguard {} · capacity = max_connections − reserved − headroom · S0 steady, S1 one rollout at a time, S2 everything rolls at once · clients behind a pooler count against the pooler</footer>",
        env!("CARGO_PKG_VERSION")
    );
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// The table of every database with links to its section (only with several databases).
fn overview(out: &mut String, views: &[View<'_>]) {
    out.push_str("<div class=\"overview\"><table>\n<caption>Databases</caption>\n<thead><tr><th scope=\"col\">Database</th><th scope=\"col\" class=\"n\">Capacity</th><th scope=\"col\" class=\"n\">Steady</th><th scope=\"col\" class=\"n\">Rollout</th><th scope=\"col\" class=\"n\">Rollout %</th><th scope=\"col\" class=\"n\">Headroom at rollout</th><th scope=\"col\">Status</th></tr></thead>\n<tbody>\n");
    for (i, v) in views.iter().enumerate() {
        let db = v.db;
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\"><a href=\"#db-{i}\">{}</a></th><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td><span class=\"badge {s}\">{s}</span></td></tr>",
            esc(&db.id),
            db.capacity,
            number(db.steady),
            number(db.rollout),
            percent(db.rollout, db.capacity),
            number(v.headroom_rollout),
            s = db.status.as_str(),
        );
    }
    out.push_str("</tbody>\n</table></div>\n");
}

fn database(out: &mut String, i: usize, v: &View<'_>, options: &Options) {
    let db = v.db;
    let status = db.status.as_str();
    let _ = writeln!(
        out,
        "<section class=\"db {status}\" id=\"db-{i}\" aria-labelledby=\"db-{i}-title\">"
    );
    let _ = writeln!(
        out,
        "<div class=\"head\"><h2 id=\"db-{i}-title\">{}</h2><span class=\"engine\">{}</span><span class=\"badge {status}\">{status}</span></div>",
        esc(&db.id),
        esc(&db.engine),
    );
    let _ = writeln!(
        out,
        "<p class=\"formula\">capacity <strong class=\"num\">{}</strong> = {} · warning above {} of capacity ({})</p>",
        db.capacity,
        capacity_formula(db),
        warn_percent(options),
        super::table::decimal(v.warn_at(options)),
    );
    stats(out, v);
    bar(out, i, v, options);
    clients_table(out, db);
    out.push_str("</section>\n");
}

/// The three sums as figures: connections, share of capacity, headroom left or over.
fn stats(out: &mut String, v: &View<'_>) {
    let db = v.db;
    out.push_str("<dl class=\"stats\">\n");
    let rollout_by = match (v.rollout_workload(), v.rollout_extra) {
        (Some(w), Some(extra)) => format!(" · {} rolling out (+{extra})", esc(w)),
        _ => String::new(),
    };
    for (name, sum, headroom, extra) in [
        ("Steady (S0)", db.steady, v.headroom_steady, String::new()),
        ("Rollout (S1)", db.rollout, v.headroom_rollout, rollout_by),
        (
            "All rollouts (S2)",
            db.all_rollouts,
            v.headroom_all_rollouts,
            String::new(),
        ),
    ] {
        let class = match headroom {
            Some(h) if h < 0 => "over",
            Some(_) => "fits",
            None => "unknown",
        };
        let _ = writeln!(
            out,
            "<div class=\"{class}\"><dt>{name}</dt><dd><span class=\"big\">{}</span><span class=\"pct\">{}</span><span class=\"left\">{}{extra}</span></dd></div>",
            number(sum),
            match sum {
                Some(_) if db.capacity > 0 => format!("{} of capacity", percent(sum, db.capacity)),
                _ => String::new(),
            },
            left_or_over(headroom),
        );
    }
    out.push_str("</dl>\n");
}

/// Where a position (percent of the track) anchors its label, so labels near an edge stay
/// inside the chart.
fn anchor(pos: f64) -> &'static str {
    if pos < 10.0 {
        "start"
    } else if pos > 90.0 {
        "end"
    } else {
        "middle"
    }
}

/// The stacked bar, its axis labels and its legend.
fn bar(out: &mut String, i: usize, v: &View<'_>, options: &Options) {
    let db = v.db;
    let direct: Vec<(usize, &ClientReport)> = db
        .clients
        .iter()
        .filter(|c| counted(c))
        .enumerate()
        .collect();
    let colour = |k: usize| PALETTE[k % PALETTE.len()];
    let known_steady: i64 = direct.iter().filter_map(|(_, c)| c.steady).sum();
    let steady_end = db.steady.unwrap_or(known_steady).max(0);
    let demand_end = db.rollout.unwrap_or(steady_end).max(steady_end);
    let scale = db.max_connections.max(demand_end).max(db.capacity).max(1) as f64;
    let pos = |x: f64| (x / scale * 100.0).clamp(0.0, 100.0);
    let style = |from: f64, to: f64| {
        format!(
            "left:{:.3}%;width:{:.3}%",
            pos(from),
            (pos(to) - pos(from)).max(0.0)
        )
    };

    let _ = writeln!(out, "<figure class=\"chart\" id=\"db-{i}-chart\">");
    let _ = writeln!(
        out,
        "<div class=\"bar\" role=\"img\" aria-label=\"{}\">",
        esc(&aria_label(v, options))
    );
    out.push_str("<div class=\"track\">\n");
    let capacity = db.capacity.max(0) as f64;
    if db.max_connections > db.capacity {
        let _ = writeln!(
            out,
            "<div class=\"seg reserved\" style=\"{}\" title=\"reserved {} + headroom {}: slots kept free, up to max_connections {}\"></div>",
            style(capacity, db.max_connections as f64),
            db.reserved,
            db.headroom,
            db.max_connections,
        );
    }
    let mut at = 0i64;
    for &(k, c) in &direct {
        let Some(steady) = c.steady.filter(|&s| s > 0) else {
            continue;
        };
        let _ = writeln!(
            out,
            "<div class=\"seg client\" style=\"{};background-color:{}\" title=\"{}\"></div>",
            style(at as f64, (at + steady) as f64),
            colour(k),
            esc(&client_title(c)),
        );
        at += steady;
    }
    if let (Some(extra), Some(rc)) = (v.rollout_extra.filter(|&e| e > 0), v.rollout_client) {
        let k = direct
            .iter()
            .position(|&(_, c)| std::ptr::eq(c, &db.clients[rc]));
        let _ = writeln!(
            out,
            "<div class=\"seg rollout\" style=\"{};--c:{}\" title=\"rollout of {}: +{extra} while old and new pods overlap\"></div>",
            style(steady_end as f64, (steady_end + extra) as f64),
            colour(k.unwrap_or(0)),
            esc(&db.clients[rc].workload),
        );
    }
    if demand_end as f64 > capacity {
        let _ = writeln!(
            out,
            "<div class=\"seg over\" style=\"{}\" title=\"{} over capacity ({} of {})\"></div>",
            style(capacity, demand_end as f64),
            demand_end as f64 - capacity,
            demand_end,
            db.capacity,
        );
    }
    let warn = v.warn_at(options);
    let _ = writeln!(
        out,
        "<div class=\"marker warn {}\" style=\"left:{:.3}%\" title=\"warning threshold\"><span>warning {} · {}</span></div>",
        anchor(pos(warn)),
        pos(warn),
        warn_percent(options),
        super::table::decimal(warn),
    );
    let _ = writeln!(
        out,
        "<div class=\"marker cap {}\" style=\"left:{:.3}%\" title=\"capacity\"><span>capacity {}</span></div>",
        anchor(pos(capacity)),
        pos(capacity),
        db.capacity,
    );
    out.push_str("</div>\n<div class=\"axis\">");
    out.push_str("<span class=\"start\" style=\"left:0\">0</span>");
    if demand_end > 0 {
        let what = if db.rollout.is_some() {
            format!("{demand_end} at rollout")
        } else {
            format!("{demand_end} known, more unknown")
        };
        let _ = write!(
            out,
            "<span class=\"end\" style=\"left:{:.3}%\">{what}</span>",
            pos(demand_end as f64),
        );
    }
    out.push_str("</div>\n</div>\n");

    // The legend: the same names and numbers as the segments' titles, as text.
    out.push_str("<figcaption><ul class=\"legend\">\n");
    for &(k, c) in &direct {
        let _ = writeln!(
            out,
            "<li><span class=\"sw\" style=\"background-color:{}\"></span><span>{}</span></li>",
            colour(k),
            esc(&client_title(c)),
        );
    }
    if let (Some(extra), Some(rc)) = (v.rollout_extra.filter(|&e| e > 0), v.rollout_client) {
        let k = direct
            .iter()
            .position(|&(_, c)| std::ptr::eq(c, &db.clients[rc]));
        let _ = writeln!(
            out,
            "<li><span class=\"sw seg rollout\" style=\"position:static;--c:{}\"></span><span>rollout of {}: +{extra}{}</span></li>",
            colour(k.unwrap_or(0)),
            esc(&db.clients[rc].workload),
            // Steady demand already past capacity hides the hatching under the red.
            if steady_end as f64 >= capacity {
                " (all beyond capacity)"
            } else {
                ""
            },
        );
    }
    if demand_end as f64 > capacity {
        let _ = writeln!(
            out,
            "<li><span class=\"sw seg over\" style=\"position:static\"></span><span>over capacity: {}</span></li>",
            demand_end as f64 - capacity,
        );
    }
    // Listed only when some of it shows: the formula above states it in any case.
    if db.max_connections > db.capacity.max(demand_end) {
        let _ = writeln!(
            out,
            "<li><span class=\"sw seg reserved\" style=\"position:static\"></span><span>reserved {} + headroom {}</span></li>",
            db.reserved, db.headroom,
        );
    }
    let _ = writeln!(
        out,
        "<li><span class=\"sw line\" style=\"background-color:{CAPACITY_COLOR}\"></span><span>capacity {}</span></li>",
        db.capacity
    );
    let _ = writeln!(
        out,
        "<li><span class=\"sw line\" style=\"background-color:{WARN_COLOR}\"></span><span>warning threshold {} ({})</span></li>",
        warn_percent(options),
        super::table::decimal(warn),
    );
    out.push_str("</ul>\n");
    let pooled: Vec<&ClientReport> = db.clients.iter().filter(|c| !counted(c)).collect();
    if !pooled.is_empty() {
        let list: Vec<String> = pooled
            .iter()
            .map(|c| {
                format!(
                    "{} via {} ({} steady, {} peak)",
                    esc(&c.workload),
                    esc(c.via.as_deref().unwrap_or("")),
                    number(c.steady),
                    number(c.peak)
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "<p class=\"pooled\">Behind a pooler, counted against the pooler and not shown in the bar: {}.</p>",
            list.join("; ")
        );
    }
    if v.has_unknown() {
        out.push_str("<p class=\"note\">Some clients' connections are unknown, so the sums are unknown: the bar shows only the known part. <code>poolguard check</code> says which and why.</p>\n");
    }
    out.push_str("</figcaption>\n</figure>\n");
}

/// `prod/Deployment/auth: 120 steady, 180 peak (6 → 9 pods × 20)`.
fn client_title(c: &ClientReport) -> String {
    format!(
        "{}: {} steady, {} peak ({} pods × {})",
        untrusted(&c.workload),
        number(c.steady),
        number(c.peak),
        pods(c),
        number(c.conn_pod),
    )
}

/// Everything the bar shows, in words.
fn aria_label(v: &View<'_>, options: &Options) -> String {
    let db = v.db;
    let mut s = format!(
        "Connection budget of {}: capacity {} ({}). ",
        untrusted(&db.id),
        db.capacity,
        capacity_formula(db)
    );
    let clients: Vec<String> = db
        .clients
        .iter()
        .filter(|c| counted(c))
        .map(|c| format!("{} {}", untrusted(&c.workload), number(c.steady)))
        .collect();
    let _ = write!(
        s,
        "Steady {} ({} of capacity, {})",
        number(db.steady),
        percent(db.steady, db.capacity),
        left_or_over(v.headroom_steady)
    );
    if !clients.is_empty() {
        let _ = write!(s, ": {}", clients.join(", "));
    }
    let _ = write!(
        s,
        ". Rollout {} ({}, {})",
        number(db.rollout),
        percent(db.rollout, db.capacity),
        left_or_over(v.headroom_rollout)
    );
    if let (Some(w), Some(extra)) = (v.rollout_workload(), v.rollout_extra) {
        let _ = write!(s, " while {} rolls out, adding {extra}", untrusted(w));
    }
    let _ = write!(
        s,
        ". All rollouts {} ({}, {}). Warning above {} ({}). Status: {}.",
        number(db.all_rollouts),
        percent(db.all_rollouts, db.capacity),
        left_or_over(v.headroom_all_rollouts),
        warn_percent(options),
        super::table::decimal(v.warn_at(options)),
        db.status.as_str(),
    );
    s
}

fn clients_table(out: &mut String, db: &DatabaseReport) {
    let (clients, capacity) = (&db.clients, db.capacity);
    if clients.is_empty() {
        out.push_str("<p class=\"muted\">No clients.</p>\n");
        return;
    }
    let _ = writeln!(
        out,
        "<table class=\"clients\">\n<caption>Clients of {}</caption>",
        esc(&db.id)
    );
    out.push_str("<thead><tr><th scope=\"col\">Client</th><th scope=\"col\">Via pooler</th><th scope=\"col\" class=\"n\" title=\"steady → peak\">Pods</th><th scope=\"col\" class=\"n\">Conn/pod</th><th scope=\"col\" class=\"n\">Steady</th><th scope=\"col\" class=\"n\">Peak</th><th scope=\"col\" class=\"n\">Share</th></tr></thead>\n<tbody>\n");
    let mut k = 0;
    for c in clients {
        let (class, swatch, share) = if counted(c) {
            let sw = format!(
                "<span class=\"sw\" style=\"background-color:{}\"></span>",
                PALETTE[k % PALETTE.len()]
            );
            k += 1;
            ("", sw, percent(c.steady, capacity))
        } else {
            (" class=\"via\"", String::new(), "not counted".to_string())
        };
        let paren = |n: Option<i64>| {
            if counted(c) {
                number(n)
            } else {
                format!("({})", number(n))
            }
        };
        let _ = writeln!(
            out,
            "<tr{class}><th scope=\"row\"><span class=\"who\">{swatch}<span>{}</span></span></th><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&c.workload),
            c.via.as_deref().map_or_else(|| "—".to_string(), esc),
            pods(c),
            number(c.conn_pod),
            paren(c.steady),
            paren(c.peak),
            share,
        );
    }
    out.push_str("</tbody>\n");
    let _ = writeln!(
        out,
        "<tfoot><tr><th scope=\"row\" colspan=\"4\">Counted clients: steady (S0) and all at peak (S2)</th><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr></tfoot>",
        number(db.steady),
        number(db.all_rollouts),
        percent(db.steady, capacity),
    );
    out.push_str("</table>\n");
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Redacted text escaped for HTML text and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in untrusted(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::test_fixture;
    use super::*;

    fn page() -> String {
        render(&test_fixture::report(), &Options::default())
    }

    #[test]
    fn escapes_text_and_attributes() {
        assert_eq!(
            esc("<a href='x'>\"&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;"
        );
        let page = page();
        assert!(!page.contains("<orders>"), "unescaped id");
        assert!(page.contains("shop/&lt;orders&gt;&amp;&quot;db&quot;|`x`*"));
    }

    #[test]
    fn is_self_contained() {
        let page = page();
        for banned in [
            "<script", "http://", "https://", "@import", "url(", "<link", "<img",
        ] {
            assert!(!page.contains(banned), "page contains {banned}");
        }
        assert!(page.contains("Content-Security-Policy"));
    }

    #[test]
    fn bars_are_images_with_the_numbers() {
        let page = page();
        assert_eq!(page.matches("role=\"img\"").count(), 2);
        assert!(page.contains(
            "aria-label=\"Connection budget of prod/auth-db: capacity 197 (max_connections 200 − reserved 3 − headroom 0). Steady 176 (89% of capacity, 21 left): prod/Deployment/accounts-api 40, prod/Deployment/admin-portal 16, prod/Deployment/auth 120. Rollout 236 (120%, 39 over) while prod/Deployment/auth rolls out, adding 60. All rollouts 254 (129%, 57 over). Warning above 80% (157.6). Status: error.\""
        ), "{page}");
    }

    #[test]
    fn segments_markers_and_over_capacity() {
        let page = page();
        // 200 max_connections vs 236 at rollout: the scale is 236.
        assert!(
            page.contains("left:0.000%;width:16.949%;background-color:#4e79a7"),
            "{page}"
        );
        assert!(
            page.contains("class=\"seg rollout\" style=\"left:74.576%;width:25.424%;--c:#59a14f\""),
            "{page}"
        );
        assert!(
            page.contains("class=\"seg over\" style=\"left:83.475%;width:16.525%\""),
            "{page}"
        );
        assert!(
            page.contains("class=\"marker cap middle\" style=\"left:83.475%\""),
            "{page}"
        );
        assert!(
            page.contains("class=\"marker warn middle\" style=\"left:66.780%\""),
            "{page}"
        );
        // The pooled client is not drawn, but listed.
        assert!(!page.contains("title=\"shop/Deployment/orders"), "{page}");
        assert!(page.contains(
            "shop/Deployment/orders via shop/Deployment/pgbouncer (150 steady, 200 peak)"
        ));
    }

    #[test]
    fn honours_warn_utilization() {
        let page = render(
            &test_fixture::report(),
            &Options {
                warn_utilization: 0.5,
            },
        );
        assert!(
            page.contains("warning above 50% of capacity (98.5)"),
            "{page}"
        );
    }

    #[test]
    fn empty_report_is_a_page() {
        let page = render(&Report::default(), &Options::default());
        assert!(page.contains("0 databases") && page.ends_with("</html>\n"));
    }
}
