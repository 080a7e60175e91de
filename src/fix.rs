//! `poolguard fix`: applies the suggestions of capacity findings by rewriting the bytes of one
//! value in place — the digits of a pool size, or a `maxSurge` — and nothing else: quotes,
//! comments, indentation and line endings stay as they were.
//!
//! [`plan`] turns findings into [`Edit`]s (or says why a finding cannot be fixed),
//! [`changes`] applies them to the texts the run read, [`write`] replaces a file atomically
//! after checking it did not change since it was read, and [`unified_diff`] shows the change.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::{Diagnostic, Suggestion};
use crate::report::Report;
use crate::source::{FileId, SourceDb, Span};

/// One replacement of a byte range of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    /// The file.
    pub file: FileId,
    /// First byte replaced.
    pub start: usize,
    /// Byte after the last one replaced.
    pub end: usize,
    /// What goes there.
    pub text: String,
    /// What the edit does, for the summary (`pool size of prod/Deployment/auth: 20 → 15`).
    pub what: String,
}

/// A finding with a suggestion that `fix` leaves alone, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skip {
    /// `path:line:col` of the finding.
    pub at: String,
    /// Its rule.
    pub rule: String,
    /// Why it was not fixed.
    pub reason: String,
}

/// The edits for a run's findings, and the findings left alone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Non-overlapping edits, by file and position.
    pub edits: Vec<Edit>,
    /// Findings with a suggestion that cannot be applied.
    pub skipped: Vec<Skip>,
}

/// One file's old and new text.
#[derive(Clone, Debug)]
pub struct FileChange {
    /// The path as shown (relative to the current directory where possible).
    pub display: String,
    /// The path on disk.
    pub path: PathBuf,
    /// The text the run read.
    pub old: Arc<str>,
    /// The text with the edits applied.
    pub new: String,
    /// What the edits do.
    pub what: Vec<String>,
    /// The edits, as byte ranges of `old`.
    pub edits: Vec<(usize, usize, String)>,
    /// Byte ranges of `old` holding secrets (Secret data), masked in the diff.
    pub secrets: Vec<(usize, usize)>,
}

impl FileChange {
    /// The unified diff of the change, with every secret of the file masked (`****`) on both
    /// sides, as in every other output.
    pub fn diff(&self) -> String {
        let mut masks: Vec<(usize, usize)> = self.secrets.clone();
        masks.extend(crate::redact::secret_ranges(&self.old));
        masks.sort_unstable();
        // An edit wins over a mask it touches: its digits are no secret.
        masks.retain(|&(s, e)| {
            e > s
                && !self
                    .edits
                    .iter()
                    .any(|&(a, b, _)| a < e && s < b.max(a + 1))
        });
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (s, e) in masks {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let mask = crate::redact::MASK;
        let old_ranges: Vec<(usize, usize, &str)> =
            merged.iter().map(|&(s, e)| (s, e, mask)).collect();
        let mut new_ranges = old_ranges.clone();
        new_ranges.extend(self.edits.iter().map(|(s, e, t)| (*s, *e, t.as_str())));
        new_ranges.sort_by_key(|r| (r.0, r.1));
        unified_diff(
            &splice(&self.old, &old_ranges),
            &splice(&self.old, &new_ranges),
            &self.display,
        )
    }
}

/// The edits that apply the suggestions of `report`'s findings.
///
/// - `pool_max` (and `processes`, for PHP-FPM-style stacks): the primary location is the pool size (`20` in `value: "20"`, `25` in
///   `${DB_POOL_MAX:25}` or `-Dspring.datasource.hikari.maximum-pool-size=25`); its digits
///   are replaced. A pool size that is a documented default has no place to write to and
///   is skipped.
/// - `max_surge`: the related label of the `maxSurge` value, when it has one (not the 25 %
///   default); the whole scalar becomes the integer (a percentage cannot carry a pod count,
///   and a quoted `"1"` is not a valid `maxSurge`, so quotes go). `0` is skipped: it needs a
///   `maxUnavailable` of at least 1, a choice left to the user.
///
/// Several findings on one value keep the smallest suggestion (each is the largest that
/// fits its own database, so the smallest fits all).
pub fn plan(report: &Report, db: &SourceDb) -> Plan {
    let mut plan = Plan::default();
    let mut edits: Vec<Edit> = Vec::new();
    for d in &report.findings {
        let Some(s) = &d.suggestion else {
            continue;
        };
        let result = match *s {
            Suggestion::PoolMax(n) => value_edit(d, db, n, Knob::Pool),
            Suggestion::Processes(n) => value_edit(d, db, n, Knob::Processes),
            Suggestion::MaxSurge(n) => surge_edit(d, db, n),
        };
        match result {
            Ok(e) => match edits.iter_mut().find(|x| {
                x.file == e.file
                    && ((x.start, x.end) == (e.start, e.end)
                        || (x.start < e.end && e.start < x.end))
            }) {
                Some(x) if (x.start, x.end) == (e.start, e.end) => {
                    if e.text.parse::<i64>().ok() < x.text.parse::<i64>().ok() {
                        *x = e;
                    }
                }
                Some(_) => plan
                    .skipped
                    .push(skip(d, db, "overlaps another fix".into())),
                None => edits.push(e),
            },
            Err(reason) => plan.skipped.push(skip(d, db, reason)),
        }
    }
    edits.sort_by_key(|e| (e.file, e.start));
    plan.edits = edits;
    plan
}

fn skip(d: &Diagnostic, db: &SourceDb, reason: String) -> Skip {
    let at = if (d.primary.span.file.0 as usize) < db.len() {
        db.location(d.primary.span)
    } else {
        String::new()
    };
    Skip {
        at,
        rule: d.rule.clone(),
        reason,
    }
}

fn who(d: &Diagnostic) -> String {
    d.workload.clone().unwrap_or_else(|| "the workload".into())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Knob {
    Pool,
    Processes,
}

/// The current value at the primary span, as its label states it: `pool size 20 in container
/// `auth`` or `4 processes in container `web``.
fn labelled_value(label: &str, knob: Knob) -> Option<i64> {
    if label.contains("by default") {
        return None;
    }
    let v = match knob {
        Knob::Pool => label.strip_prefix("pool size ")?.split(' ').next()?,
        Knob::Processes => {
            label
                .strip_suffix('`')?
                .split_once(" processes in container `")?
                .0
        }
    };
    v.parse().ok()
}

fn value_edit(d: &Diagnostic, db: &SourceDb, n: i64, knob: Knob) -> Result<Edit, String> {
    let what = match knob {
        Knob::Pool => "pool size",
        Knob::Processes => "processes per container",
    };
    let Some(current) = labelled_value(&d.primary.message, knob) else {
        return Err(format!(
            "the {what} of {} is not written anywhere (a default or an override): set it to {n} or less yourself",
            who(d)
        ));
    };
    if n < 1 {
        return Err(format!(
            "no {what} above 0 fits for {}: lower other clients, add a pooler, or raise max_connections",
            who(d)
        ));
    }
    let span = d.primary.span;
    let text = file_text(db, span)?;
    let (start, end) = number_in(text, span.start as usize, span.end as usize, current)
        .ok_or_else(|| {
            format!(
                "cannot find the {what} {current} at {}: set it to {n} or less yourself",
                db.location(span)
            )
        })?;
    Ok(Edit {
        file: span.file,
        start,
        end,
        text: n.to_string(),
        what: format!("{what} of {}: {current} → {n}", who(d)),
    })
}

fn surge_edit(d: &Diagnostic, db: &SourceDb, n: i64) -> Result<Edit, String> {
    let Some(label) = d
        .related
        .iter()
        .find(|l| l.message.starts_with("maxSurge ") && l.message.contains("extra pod"))
    else {
        return Err(format!(
            "maxSurge of {} is not written anywhere (the 25 % default): add `maxSurge: {n}` to its rollingUpdate strategy",
            who(d)
        ));
    };
    if n < 1 {
        return Err(format!(
            "maxSurge 0 needs maxUnavailable of at least 1: set both for {} yourself",
            who(d)
        ));
    }
    let span = label.span;
    let text = file_text(db, span)?;
    let (mut start, mut end) = (span.start as usize, span.end as usize);
    let mut token = text.get(start..end).unwrap_or("");
    // Take the quotes in, from inside or around the span.
    let quoted = |t: &str| {
        t.len() >= 2
            && ((t.starts_with('"') && t.ends_with('"'))
                || (t.starts_with('\'') && t.ends_with('\'')))
    };
    if !quoted(token) && start > 0 && quoted(text.get(start - 1..end + 1).unwrap_or("")) {
        start -= 1;
        end += 1;
        token = &text[start..end];
    }
    let bare = if quoted(token) {
        &token[1..token.len() - 1]
    } else {
        token
    };
    let digits = bare.strip_suffix('%').unwrap_or(bare);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "cannot read the maxSurge value `{token}` at {}: set it to {n} yourself",
            db.location(span)
        ));
    }
    Ok(Edit {
        file: span.file,
        start,
        end,
        text: n.to_string(),
        what: format!("maxSurge of {}: {bare} → {n}", who(d)),
    })
}

fn file_text(db: &SourceDb, span: Span) -> Result<&str, String> {
    if (span.file.0 as usize) >= db.len() {
        return Err("the finding points at no file".into());
    }
    let f = db.get(span.file);
    if f.path == "<stdin>" {
        return Err("standard input cannot be rewritten".into());
    }
    Ok(&f.text)
}

/// The byte range of the integer `value` at or inside `start..end` of `text`: the whole span
/// when it is the digits, the digits inside quotes, or the one run of digits in the span
/// that reads as `value` (`${POOL:25}`, `-Dx.size=25`, `?pool_max_conns=25`).
pub fn number_in(text: &str, start: usize, end: usize, value: i64) -> Option<(usize, usize)> {
    let slice = text.get(start..end)?;
    let runs: Vec<(usize, usize)> = digit_runs(slice)
        .into_iter()
        .filter(|&(s, e)| slice[s..e].parse::<i64>().ok() == Some(value))
        .collect();
    match runs.as_slice() {
        [(s, e)] => Some((start + s, start + e)),
        _ => None,
    }
}

/// Maximal runs of ASCII digits that are whole words (not part of `v2` or `1.5`).
fn digit_runs(s: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let st = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let before = st.checked_sub(1).map(|j| b[j]);
            let after = b.get(i).copied();
            let wordy = |c: u8| c.is_ascii_alphabetic() || c == b'_' || c == b'.';
            if !before.is_some_and(wordy) && !after.is_some_and(wordy) {
                out.push((st, i));
            }
        } else {
            i += 1;
        }
    }
    out
}

/// `text` with `edits` (sorted, non-overlapping byte ranges) applied.
pub fn splice(text: &str, edits: &[(usize, usize, &str)]) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut pos = 0;
    for &(s, e, with) in edits {
        out.push_str(&text[pos..s]);
        out.push_str(with);
        pos = e;
    }
    out.push_str(&text[pos..]);
    out
}

/// The new text of every file the plan edits. `cwd` resolves the displayed paths.
pub fn changes(plan: &Plan, db: &SourceDb, cwd: &Path) -> Vec<FileChange> {
    let mut out: Vec<FileChange> = Vec::new();
    let mut i = 0;
    while i < plan.edits.len() {
        let file = plan.edits[i].file;
        let mut j = i;
        while j < plan.edits.len() && plan.edits[j].file == file {
            j += 1;
        }
        let group = &plan.edits[i..j];
        let f = db.get(file);
        let ranges: Vec<(usize, usize, &str)> = group
            .iter()
            .map(|e| (e.start, e.end, e.text.as_str()))
            .collect();
        out.push(FileChange {
            display: f.path.clone(),
            path: cwd.join(&f.path),
            old: f.text.clone(),
            new: splice(&f.text, &ranges),
            what: group.iter().map(|e| e.what.clone()).collect(),
            edits: group
                .iter()
                .map(|e| (e.start, e.end, e.text.clone()))
                .collect(),
            secrets: f
                .secrets
                .iter()
                .map(|&(s, e)| (s as usize, e as usize))
                .collect(),
        });
        i = j;
    }
    out
}

/// Replaces the file with `change.new`, atomically (a temporary file in the same directory,
/// renamed over it), after checking that its bytes on disk are still those the run read.
pub fn write(change: &FileChange) -> Result<(), String> {
    let path = &change.path;
    let shown = &change.display;
    let now = std::fs::read(path).map_err(|e| format!("{shown}: {e}"))?;
    if now != change.old.as_bytes() {
        return Err(format!(
            "{shown} changed since it was read; not rewritten (run `poolguard fix` again)"
        ));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.poolguard-{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(change.new.as_bytes())?;
        f.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("{shown}: cannot write: {e}"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Unified diff.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// Line `a[i]` equals `b[j]`.
    Same(usize, usize),
    /// `a[i]` removed.
    Del(usize),
    /// `b[j]` added.
    Ins(usize),
}

/// A unified diff (`diff -u` / `git diff` style, 3 lines of context) from `old` to `new`,
/// labelled `a/<name>` and `b/<name>` so `git apply` takes it. Empty when equal.
pub fn unified_diff(old: &str, new: &str, name: &str) -> String {
    if old == new {
        return String::new();
    }
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let ops = diff_lines(&a, &b);
    const CONTEXT: usize = 3;
    let mut out = format!("--- a/{name}\n+++ b/{name}\n");
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, o)| !matches!(o, Op::Same(..)))
        .map(|(i, _)| i)
        .collect();
    let mut k = 0;
    while k < changed.len() {
        // A hunk: changes closer than 2 × CONTEXT apart share one.
        let first = changed[k];
        let mut last = first;
        while k + 1 < changed.len() && changed[k + 1] - last <= 2 * CONTEXT + 1 {
            k += 1;
            last = changed[k];
        }
        k += 1;
        let from = first.saturating_sub(CONTEXT);
        let to = (last + CONTEXT + 1).min(ops.len());
        let hunk = &ops[from..to];
        let (mut a_start, mut b_start) = (None, None);
        let (mut a_len, mut b_len) = (0, 0);
        let mut body = String::new();
        for op in hunk {
            let (prefix, line) = match *op {
                Op::Same(i, j) => {
                    a_start.get_or_insert(i);
                    b_start.get_or_insert(j);
                    a_len += 1;
                    b_len += 1;
                    (' ', a[i])
                }
                Op::Del(i) => {
                    a_start.get_or_insert(i);
                    a_len += 1;
                    ('-', a[i])
                }
                Op::Ins(j) => {
                    b_start.get_or_insert(j);
                    b_len += 1;
                    ('+', b[j])
                }
            };
            body.push(prefix);
            body.push_str(line);
            if !line.ends_with('\n') {
                body.push_str("\n\\ No newline at end of file\n");
            }
        }
        // Where a side has no line in the hunk, its position is the line before the hunk.
        let a_at = a_start.unwrap_or_else(|| lines_before(&ops[..from], true));
        let b_at = b_start.unwrap_or_else(|| lines_before(&ops[..from], false));
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(a_at, a_len),
            range(b_at, b_len)
        ));
        out.push_str(&body);
    }
    out
}

/// How many lines of one side precede a hunk.
fn lines_before(ops: &[Op], old: bool) -> usize {
    ops.iter()
        .filter(|o| match o {
            Op::Same(..) => true,
            Op::Del(_) => old,
            Op::Ins(_) => !old,
        })
        .count()
}

/// `start,len` of a hunk side: 1-based start, or the line before when the side is empty.
fn range(start0: usize, len: usize) -> String {
    match len {
        0 => format!("{start0},0"),
        1 => format!("{}", start0 + 1),
        n => format!("{},{n}", start0 + 1),
    }
}

/// The shortest edit script between two line lists (Myers' O(ND) algorithm, after trimming
/// the common prefix and suffix), as a sequence of operations in order.
fn diff_lines(a: &[&str], b: &[&str]) -> Vec<Op> {
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    let mut ops: Vec<Op> = (0..pre).map(|i| Op::Same(i, i)).collect();
    ops.extend(myers(am, bm).into_iter().map(|o| match o {
        Op::Same(i, j) => Op::Same(i + pre, j + pre),
        Op::Del(i) => Op::Del(i + pre),
        Op::Ins(j) => Op::Ins(j + pre),
    }));
    let (an, bn) = (a.len() - suf, b.len() - suf);
    ops.extend((0..suf).map(|k| Op::Same(an + k, bn + k)));
    ops
}

fn myers(a: &[&str], b: &[&str]) -> Vec<Op> {
    let (n, m) = (a.len() as isize, b.len() as isize);
    let max = (n + m) as usize;
    let off = max as isize + 1;
    let mut v = vec![0isize; 2 * max + 3];
    // trace[d] holds v as it was before step d.
    let mut trace: Vec<Vec<isize>> = Vec::new();
    let mut found = false;
    for d in 0..=max as isize {
        trace.push(v.clone());
        let mut k = -d;
        while k <= d {
            let down = k == -d || (k != d && v[(k - 1 + off) as usize] < v[(k + 1 + off) as usize]);
            let mut x = if down {
                v[(k + 1 + off) as usize]
            } else {
                v[(k - 1 + off) as usize] + 1
            };
            let mut y = x - k;
            while x < n && y < m && a[x as usize] == b[y as usize] {
                x += 1;
                y += 1;
            }
            v[(k + off) as usize] = x;
            if x >= n && y >= m {
                found = true;
                break;
            }
            k += 2;
        }
        if found {
            break;
        }
    }
    // Walk back through the trace.
    let mut ops = Vec::new();
    let (mut x, mut y) = (n, m);
    for d in (0..trace.len() as isize).rev() {
        let v = &trace[d as usize];
        let k = x - y;
        let down = k == -d || (k != d && v[(k - 1 + off) as usize] < v[(k + 1 + off) as usize]);
        let pk = if down { k + 1 } else { k - 1 };
        let px = v[(pk + off) as usize];
        let py = px - pk;
        while x > px && y > py {
            x -= 1;
            y -= 1;
            ops.push(Op::Same(x as usize, y as usize));
        }
        if d > 0 {
            if down {
                y -= 1;
                ops.push(Op::Ins(y as usize));
            } else {
                x -= 1;
                ops.push(Op::Del(x as usize));
            }
        }
    }
    ops.reverse();
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_inside_values() {
        let t = r#"a: "20" b: ${POOL:25} c: -Dx.size=25 -Dv2=25.5 d: 7"#;
        let at = |s: &str| t.find(s).unwrap();
        // Quoted: the digits inside.
        let s = at("\"20\"");
        assert_eq!(number_in(t, s, s + 4, 20), Some((s + 1, s + 3)));
        // Placeholder default.
        let s = at("${POOL:25}");
        assert_eq!(number_in(t, s, s + 10, 25), Some((s + 7, s + 9)));
        // Not the version in `v2`, not `25.5`.
        let s = at("-Dx.size=25");
        assert_eq!(number_in(t, s, s + 11, 25), Some((s + 9, s + 11)));
        let s = at("-Dv2=25.5");
        assert_eq!(number_in(t, s, s + 9, 25), None);
        // Wrong value: nothing.
        let s = at("7");
        assert_eq!(number_in(t, s, s + 1, 8), None);
    }

    #[test]
    fn diff_of_one_line() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\n";
        assert_eq!(
            unified_diff(old, new, "x.yaml"),
            "--- a/x.yaml\n+++ b/x.yaml\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n"
        );
        assert_eq!(unified_diff(old, old, "x"), "");
    }

    #[test]
    fn diff_hunks_insertions_and_no_final_newline() {
        let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
        let new: String = (1..=20)
            .map(|i| match i {
                2 => "two\n".to_string(),
                10 => "10\nten\n".to_string(),
                19 => "nineteen\n".to_string(),
                i => format!("{i}\n"),
            })
            .collect();
        let d = unified_diff(&old, &new, "n");
        assert_eq!(
            d,
            "--- a/n\n+++ b/n\n\
             @@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n\
             @@ -8,6 +8,7 @@\n 8\n 9\n 10\n+ten\n 11\n 12\n 13\n\
             @@ -16,5 +17,5 @@\n 16\n 17\n 18\n-19\n+nineteen\n 20\n"
        );
        let d = unified_diff("a\nb", "a\nc", "z");
        assert_eq!(
            d,
            "--- a/z\n+++ b/z\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n"
        );
        let d = unified_diff("", "x\n", "e");
        assert_eq!(d, "--- a/e\n+++ b/e\n@@ -0,0 +1 @@\n+x\n");
    }

    #[test]
    fn splice_keeps_every_other_byte() {
        let t = "pool: \"20\" # keep\r\nnext: 1\r\n";
        let s = t.find("20").unwrap();
        assert_eq!(
            splice(t, &[(s, s + 2, "15")]),
            "pool: \"15\" # keep\r\nnext: 1\r\n"
        );
    }
}
