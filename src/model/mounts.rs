//! Service config files a container sees: ConfigMap/Secret volumes (parsed from the
//! object's value, with spans pointing into the manifest) and repository files attached by
//! annotation or config.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::objects::{Data, Index};
use crate::diag::{Diagnostic, Severity};
use crate::input::LoadedFile;
use crate::parse::{self, Format, Limits, Node, Value};
use crate::source::{SourceDb, Span};

/// Parsed embedded config files by (value span, format, file name as mounted): a ConfigMap
/// shared by many workloads is parsed, and its problems reported, once. Each entry is filled
/// by exactly one thread, so the diagnostics do not depend on which workload came first.
pub type EmbeddedCache = Mutex<HashMap<(Span, Format, String), Arc<OnceLock<Option<Docs>>>>>;

/// Parsed documents, shared between the containers that see the same file.
pub type Docs = Arc<Vec<Node>>;

/// A config file visible to a container.
#[derive(Clone, Debug)]
pub struct ConfigFile {
    /// File name (`application-prod.yml`).
    pub name: String,
    /// Where the container sees it, or the repository path for attached files.
    pub path: String,
    /// Whether it is mounted into the container (outranks files packaged with the app).
    pub mounted: bool,
    /// Format.
    pub format: Format,
    /// Parsed documents, spans in real files.
    pub docs: Docs,
}

/// Mounted config files of a container, by mount path order.
pub fn mounted(
    container: &Node,
    pod_spec: &Node,
    ns: &str,
    idx: &Index,
    db: &SourceDb,
    diags: &mut Vec<Diagnostic>,
) -> Vec<ConfigFile> {
    let mut out = Vec::new();
    let volumes = pod_spec
        .get("volumes")
        .and_then(Node::as_seq)
        .unwrap_or(&[]);
    for vm in container
        .get("volumeMounts")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
    {
        let Some(vname) = vm.get("name").and_then(Node::as_str) else {
            continue;
        };
        let mount_path = vm.get("mountPath").and_then(Node::as_str).unwrap_or("");
        let sub_path = vm.get("subPath").and_then(Node::as_str);
        let Some(vol) = volumes
            .iter()
            .find(|v| v.get("name").and_then(Node::as_str) == Some(vname))
        else {
            continue;
        };
        let mut sources: Vec<(&Node, bool)> = Vec::new();
        if let Some(cm) = vol.get("configMap") {
            sources.push((cm, false));
        }
        if let Some(s) = vol.get("secret") {
            sources.push((s, true));
        }
        for p in vol
            .path(&["projected", "sources"])
            .and_then(Node::as_seq)
            .unwrap_or(&[])
        {
            if let Some(cm) = p.get("configMap") {
                sources.push((cm, false));
            }
            if let Some(s) = p.get("secret") {
                sources.push((s, true));
            }
        }
        for (src, secret) in sources {
            let name_key = if secret && src.get("secretName").is_some() {
                "secretName"
            } else {
                "name"
            };
            let Some(obj) = src.get(name_key).and_then(Node::as_str) else {
                continue;
            };
            let Some(data) = idx.data(ns, obj, secret) else {
                continue;
            };
            for (key, file_name) in projected_keys(src, data) {
                let path = match sub_path {
                    Some(sp) if sp == file_name => mount_path.to_string(),
                    Some(_) => continue,
                    None => format!("{}/{}", mount_path.trim_end_matches('/'), file_name),
                };
                let name = path.rsplit('/').next().unwrap_or(&path).to_string();
                let Some(format) = Format::from_path(&name) else {
                    continue;
                };
                let Some(value) = data.get(&key) else {
                    continue;
                };
                let Some(text) = &value.text else { continue };
                let slot = idx
                    .embedded
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry((value.span, format, name.clone()))
                    .or_default()
                    .clone();
                let parsed = slot.get_or_init(|| {
                    parse_embedded(
                        text,
                        value.literal.as_ref(),
                        value.span,
                        format,
                        db,
                        diags,
                        &name,
                    )
                    .map(Arc::new)
                });
                let Some(docs) = parsed.clone() else {
                    continue;
                };
                out.push(ConfigFile {
                    name,
                    path,
                    mounted: true,
                    format,
                    docs,
                });
            }
        }
    }
    out
}

/// (key, file name) pairs a ConfigMap/Secret volume source projects.
fn projected_keys(src: &Node, data: &Data) -> Vec<(String, String)> {
    match src.get("items").and_then(Node::as_seq) {
        Some(items) => items
            .iter()
            .filter_map(|i| {
                let key = i.get("key")?.as_str()?.to_string();
                let path = i
                    .get("path")
                    .and_then(Node::as_str)
                    .unwrap_or(&key)
                    .to_string();
                Some((key, path))
            })
            .collect(),
        None => data
            .entries
            .iter()
            .map(|(k, _)| (k.clone(), k.clone()))
            .collect(),
    }
}

/// Parses text embedded in a manifest value and moves its spans into the manifest. When the
/// value is a literal block (`|`) the mapping is exact line by line; otherwise every span
/// becomes the whole value's span.
pub fn parse_embedded(
    text: &str,
    literal: Option<&Node>,
    outer: Span,
    format: Format,
    db: &SourceDb,
    diags: &mut Vec<Diagnostic>,
    name: &str,
) -> Option<Vec<Node>> {
    let parsed = parse::parse(format, outer.file, text, &Limits::default());
    let map = literal.and_then(|l| LineMap::new(db.get(outer.file).text.as_ref(), l.span, text));
    let fix = |s: Span| match &map {
        Some(m) => m.map(s),
        None => outer,
    };
    // Only files poolguard reads for their settings are its business; a broken fluent.conf or
    // a templated config.yaml in someone else's ConfigMap is not.
    let ours = crate::walk::is_service_config_name(name);
    if !ours && (parsed.error.is_some() || !parsed.duplicates.is_empty()) {
        return parsed.error.is_none().then_some(parsed.docs);
    }
    for d in &parsed.duplicates {
        diags.push(
            Diagnostic::new(
                "duplicate-key",
                Severity::Warning,
                fix(d.span),
                format!(
                    "key `{}` is repeated in mounted `{name}`; the later value silently wins",
                    d.key
                ),
            )
            .with_label("this value wins")
            .related(fix(d.first), "first written here"),
        );
    }
    if let Some(e) = &parsed.error {
        diags.push(
            Diagnostic::new(
                "invalid-file",
                Severity::Error,
                fix(e.span),
                format!("mounted `{name}` cannot be parsed: {}", e.message),
            )
            .with_label("here"),
        );
        return None;
    }
    let mut docs = parsed.docs;
    for d in &mut docs {
        remap(d, &fix);
    }
    Some(docs)
}

fn remap(node: &mut Node, fix: &dyn Fn(Span) -> Span) {
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        n.span = fix(n.span);
        match &mut n.value {
            Value::Scalar(_) => {}
            Value::Seq(items) => stack.extend(items.iter_mut()),
            Value::Map(entries) => {
                for (k, v) in entries.iter_mut() {
                    stack.push(k);
                    stack.push(v);
                }
            }
        }
    }
}

/// Maps offsets in a block scalar's content to offsets in the manifest.
struct LineMap {
    file: crate::source::FileId,
    /// (inner line start, outer line start) for every inner line.
    lines: Vec<(u32, u32)>,
}

impl LineMap {
    fn new(outer_text: &str, span: Span, inner: &str) -> Option<LineMap> {
        let start = span.start as usize;
        let line_begin = outer_text[..start].rfind('\n').map_or(0, |i| i + 1);
        let indent = start - line_begin;
        if !outer_text[line_begin..start].bytes().all(|b| b == b' ') {
            return None;
        }
        let mut lines = Vec::new();
        let mut outer_pos = line_begin;
        let mut inner_pos = 0usize;
        for line in inner.split_inclusive('\n') {
            let content = line.trim_end_matches(['\n', '\r']);
            let outer_line_end = outer_text[outer_pos..]
                .find('\n')
                .map_or(outer_text.len(), |i| outer_pos + i);
            let outer_line = outer_text[outer_pos..outer_line_end].trim_end_matches('\r');
            if content.is_empty() {
                if !outer_line.trim().is_empty() {
                    return None;
                }
            } else if outer_line.get(indent..) != Some(content) {
                return None;
            }
            lines.push((inner_pos as u32, (outer_pos + indent) as u32));
            inner_pos += line.len();
            outer_pos = (outer_line_end + 1).min(outer_text.len());
        }
        Some(LineMap {
            file: span.file,
            lines,
        })
    }

    fn map(&self, s: Span) -> Span {
        let f = |o: u32| -> u32 {
            let i = match self.lines.binary_search_by_key(&o, |&(inner, _)| inner) {
                Ok(i) => i,
                Err(0) => 0,
                Err(i) => i - 1,
            };
            let (inner, outer) = self.lines.get(i).copied().unwrap_or((0, 0));
            outer + (o - inner.min(o))
        };
        Span {
            file: self.file,
            start: f(s.start),
            end: f(s.end),
        }
    }
}

/// Repository files attached to a workload, matched by path relative to `root`.
pub fn attached(
    paths: &[(String, Span)],
    root: &std::path::Path,
    files: &[LoadedFile],
    diags: &mut Vec<Diagnostic>,
    workload: &str,
) -> Vec<ConfigFile> {
    let mut out = Vec::new();
    for (p, span) in paths {
        let want = std::path::absolute(root.join(p)).unwrap_or_else(|_| root.join(p));
        match files.iter().find(|f| f.abs == want) {
            Some(f) => out.push(ConfigFile {
                name: p.rsplit('/').next().unwrap_or(p).to_string(),
                path: p.clone(),
                mounted: false,
                format: f.format,
                docs: Arc::new(f.docs.clone()),
            }),
            None => diags.push(
                Diagnostic::new(
                    "unresolved-pool-size",
                    Severity::Warning,
                    *span,
                    format!(
                        "config `{p}` attached to {workload} was not found among the scanned files"
                    ),
                )
                .with_label("no such file")
                .workload(workload),
            ),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_lines_map_into_the_manifest() {
        let outer = "data:\n  application.yml: |\n    spring:\n      x: 1\n";
        let start = outer.find("spring").unwrap();
        let span = Span::new(crate::source::FileId(0), start, outer.len());
        let inner = "spring:\n  x: 1\n";
        let m = LineMap::new(outer, span, inner).unwrap();
        let one = inner.find('1').unwrap();
        let s = m.map(Span::new(crate::source::FileId(0), one, one + 1));
        assert_eq!(&outer[s.start as usize..s.end as usize], "1");
    }
}
