//! Suppressions (SPEC §8): an annotation on a Kubernetes object, a `# poolguard: ignore`
//! comment on the line or the line above, or an `ignore_findings` entry in poolguard.yaml.
//! A suppression needs a reason; an expired or unused one is itself a warning.

use super::{Diagnostic, Severity};
use crate::config::Config;
use crate::source::{SourceDb, Span};

/// Rule id of warnings about suppressions that have no effect (unused, expired).
pub const INEFFECTIVE: &str = "ineffective-suppression";
/// Rule id of warnings about suppressions without a reason.
pub const NO_REASON: &str = "suppression-without-reason";

/// A `poolguard.dev/ignore` annotation on an object.
#[derive(Clone, Debug)]
pub struct Annotation {
    /// The whole object, so findings inside it match.
    pub object: Span,
    /// Workload and database ids the object defines, so findings about them match.
    pub ids: Vec<String>,
    /// The annotation's value.
    pub span: Span,
    /// Rule ids (`*` for all).
    pub rules: Vec<String>,
    /// Why.
    pub reason: Option<String>,
}

/// Parses `rule[,rule] -- reason`.
pub fn parse_spec(text: &str) -> (Vec<String>, Option<String>) {
    let (rules, reason) = match text.split_once("--") {
        Some((r, why)) => (r, Some(why.trim().to_string()).filter(|w| !w.is_empty())),
        None => (text, None),
    };
    let rules = rules
        .split([',', ' '])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .collect();
    (rules, reason)
}

struct Comment {
    span: Span,
    line: usize,
    rules: Vec<String>,
    reason: Option<String>,
    used: bool,
}

/// Finds `# poolguard: ignore <rule> -- reason` comments in a file's text.
fn comments(db: &SourceDb, file: crate::source::FileId) -> Vec<Comment> {
    let f = db.get(file);
    let mut out = Vec::new();
    if !f.text.contains("poolguard: ignore") {
        return out;
    }
    let mut offset = 0usize;
    for (i, line) in f.text.split_inclusive('\n').enumerate() {
        if let Some(pos) = line.find("poolguard: ignore") {
            let before = line[..pos].trim_end();
            if before.ends_with('#')
                || before.ends_with(';')
                || before.ends_with('!')
                || before.ends_with("//")
            {
                let spec = line[pos + "poolguard: ignore".len()..].trim();
                let (rules, reason) = parse_spec(spec);
                let start = offset + pos;
                out.push(Comment {
                    span: Span::new(file, start, offset + line.trim_end().len()),
                    line: i + 1,
                    rules,
                    reason,
                    used: false,
                });
            }
        }
        offset += line.len();
    }
    out
}

fn matches(rules: &[String], rule: &str) -> bool {
    rules.iter().any(|r| r == rule || r == "*" || r == "all")
}

/// Today as `YYYY-MM-DD` (UTC), or `POOLGUARD_TODAY` when set (for reproducible tests).
pub fn today() -> String {
    if let Ok(t) = std::env::var("POOLGUARD_TODAY") {
        return t;
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Splits findings into kept and suppressed, adding warnings about the suppressions.
pub fn apply(
    findings: Vec<Diagnostic>,
    db: &SourceDb,
    annotations: &[Annotation],
    config: &Config,
    today: &str,
) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
    let mut kept = Vec::new();
    let mut suppressed = Vec::new();
    let mut file_comments: std::collections::HashMap<u32, Vec<Comment>> = Default::default();
    let mut ann_used = vec![false; annotations.len()];
    let mut cfg_used = vec![false; config.ignore_findings.len()];
    for d in findings {
        let span = d.primary.span;
        let comments = file_comments
            .entry(span.file.0)
            .or_insert_with(|| comments(db, span.file));
        let (line, _) = db.get(span.file).line_col(span.start);
        if let Some(c) = comments
            .iter_mut()
            .find(|c| (c.line == line || c.line + 1 == line) && matches(&c.rules, &d.rule))
        {
            c.used = true;
            suppressed.push(d);
            continue;
        }
        if let Some(i) = annotations.iter().position(|a| {
            matches(&a.rules, &d.rule)
                && ((a.object.file == span.file
                    && a.object.start <= span.start
                    && span.end <= a.object.end)
                    || d.workload.as_ref().is_some_and(|w| a.ids.contains(w))
                    || d.database.as_ref().is_some_and(|x| a.ids.contains(x)))
        }) {
            ann_used[i] = true;
            suppressed.push(d);
            continue;
        }
        let path = &db.get(span.file).path;
        if let Some(i) = config.ignore_findings.iter().position(|s| {
            s.rule == d.rule
                && s.path.is_match(path)
                && s.expires.as_deref().is_none_or(|e| e >= today)
        }) {
            cfg_used[i] = true;
            suppressed.push(d);
            continue;
        }
        kept.push(d);
    }
    // Warnings about the suppressions themselves.
    let mut warn = |span: Span, rule: &str, msg: String, help: &str| {
        kept.push(
            Diagnostic::new(rule, Severity::Warning, span, msg)
                .with_label("suppression")
                .help(help),
        );
    };
    for (file, cs) in &file_comments {
        let _ = file;
        for c in cs {
            if c.reason.is_none() {
                warn(
                    c.span,
                    NO_REASON,
                    "suppression comment without a reason".into(),
                    "write why after ` -- `",
                );
            }
            if !c.used {
                warn(
                    c.span,
                    INEFFECTIVE,
                    format!(
                        "`poolguard: ignore {}` suppresses nothing",
                        c.rules.join(",")
                    ),
                    "remove it",
                );
            }
        }
    }
    for (a, used) in annotations.iter().zip(&ann_used) {
        if a.reason.is_none() {
            warn(
                a.span,
                NO_REASON,
                "`poolguard.dev/ignore` without a reason".into(),
                "write why after ` -- `",
            );
        }
        if !used {
            warn(
                a.span,
                INEFFECTIVE,
                format!(
                    "`poolguard.dev/ignore: {}` suppresses nothing",
                    a.rules.join(",")
                ),
                "remove it",
            );
        }
    }
    if let Some(cfg_file) = config.file {
        let _ = cfg_file;
        for (s, used) in config.ignore_findings.iter().zip(&cfg_used) {
            if s.reason.is_none() {
                warn(
                    s.span,
                    NO_REASON,
                    format!("ignore_findings entry for `{}` without a reason", s.rule),
                    "add `reason:`",
                );
            }
            if let Some(e) = &s.expires
                && e.as_str() < today
            {
                warn(
                    s.span,
                    INEFFECTIVE,
                    format!("ignore_findings entry for `{}` expired on {e}", s.rule),
                    "fix the finding, or extend `expires` with a reason",
                );
            } else if !used {
                warn(
                    s.span,
                    INEFFECTIVE,
                    format!("ignore_findings entry for `{}` suppresses nothing", s.rule),
                    "remove it",
                );
            }
        }
    }
    (kept, suppressed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_split_rules_and_reason() {
        assert_eq!(
            parse_spec("capacity-exceeded, duplicate-key -- migration window"),
            (
                vec!["capacity-exceeded".into(), "duplicate-key".into()],
                Some("migration window".into())
            )
        );
        assert_eq!(parse_spec("x --  "), (vec!["x".into()], None));
    }

    #[test]
    fn today_is_a_date() {
        let t = today();
        assert_eq!(t.len(), 10);
        assert!(t.as_str() > "2024-01-01");
    }
}
