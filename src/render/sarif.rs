//! `--format sarif`: a SARIF 2.1.0 log (OASIS), for GitHub code scanning and other viewers.
//!
//! One run. `tool.driver.rules` describes every built-in rule (summary, the *What it checks*
//! section, the full docs as help, the default level), followed by any other rule id a finding
//! carries (custom policies), so every result's `ruleIndex` points into
//! it. Each result has the primary location, one related location per label of the factor chain
//! (ids 1, 2, … in reading order), a partial fingerprint and a property bag with the database,
//! workload, suggested fix, notes and help.
//!
//! Locations use the same numbers as `--format json`: 1-based lines, 1-based columns counted in
//! characters (`columnKind: unicodeCodePoints`), end column exclusive. Paths relative to the
//! working directory become relative URIs against `%SRCROOT%` (forward slashes,
//! percent-encoded); absolute ones become `file://` URIs.
//!
//! The fingerprint (`partialFingerprints["poolguard/v1"]`) hashes rule, path, database and
//! workload with FNV-1a, not the line or the message, so a finding keeps its identity when lines
//! move or the numbers in its message change; findings that share all four get `:1`, `:2`, … in
//! report order, as GitHub does for its own line hashes.
//!
//! Suppressed findings are left out (their count is in the run's property bag): the report does
//! not say whether a suppression lives in the source or in `poolguard.yaml`, which SARIF's
//! `suppressions[].kind` would need.
//!
//! The document is built from hand-written `#[derive(Serialize)]` structs: field order is key
//! order, and absent optional members are left out rather than written as `null` (SARIF gives
//! `null` no meaning for most properties).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::position;
use crate::diag::{Diagnostic, Label, Severity, Suggestion};
use crate::redact::redact;
use crate::report::Report;
use crate::rules::{RULES, Rule};
use crate::source::SourceDb;

/// The `$schema` of the log: the OASIS 2.1.0 schema (errata 01), the one the log validates
/// against.
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The base id relative artifact URIs are resolved against: the directory poolguard ran in.
pub const SRCROOT: &str = "%SRCROOT%";

/// The key of poolguard's entry in `partialFingerprints`; the suffix is bumped if the inputs of
/// the hash ever change, so old and new fingerprints are never compared.
pub const FINGERPRINT_KEY: &str = "poolguard/v1";

/// Where users learn about the tool: the package's `repository`, else its `homepage`. Left out
/// of the log while `Cargo.toml` declares neither (SARIF requires an absolute URI here).
const INFORMATION_URI: Option<&str> = match option_env!("CARGO_PKG_REPOSITORY") {
    Some(uri) if !uri.is_empty() => Some(uri),
    _ => match option_env!("CARGO_PKG_HOMEPAGE") {
        Some(uri) if !uri.is_empty() => Some(uri),
        _ => None,
    },
};

/// Renders the SARIF log, pretty-printed with a 2-space indent and a trailing newline. SARIF
/// has no colour, so `_color` is ignored.
pub fn render(report: &Report, db: &SourceDb, _color: bool) -> String {
    let mut rules: Vec<Descriptor<'_>> = RULES.iter().map(|r| descriptor(r)).collect();
    let mut index: HashMap<&str, usize> =
        RULES.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let mut seen: HashMap<u64, usize> = HashMap::new();
    let mut results = Vec::with_capacity(report.findings.len());
    for d in &report.findings {
        let rule_index = *index.entry(d.rule.as_str()).or_insert_with(|| {
            rules.push(other_descriptor(d));
            rules.len() - 1
        });
        let uri = location_uri(position(db, d.primary.span).path);
        let hash = fingerprint(
            &d.rule,
            uri.as_ref().map_or("", |u| u.uri.as_str()),
            d.database.as_deref().unwrap_or(""),
            d.workload.as_deref().unwrap_or(""),
        );
        let occurrence = seen.entry(hash).or_insert(0);
        *occurrence += 1;
        let mut r = result(d, db, rule_index, format!("{hash:016x}:{occurrence}"));
        if let Some(base) = &report.base {
            r.baseline_state = Some(if base.is_new(d, db) {
                "new"
            } else {
                "unchanged"
            });
        }
        results.push(r);
    }
    let log = Log {
        schema: SCHEMA_URI,
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: "poolguard",
                    version: env!("CARGO_PKG_VERSION"),
                    semantic_version: env!("CARGO_PKG_VERSION"),
                    information_uri: INFORMATION_URI,
                    rules,
                },
            },
            original_uri_base_ids: BTreeMap::from([(
                SRCROOT,
                BaseLocation {
                    description: Text {
                        text: Cow::Borrowed(
                            "The directory poolguard ran in; result paths are relative to it.",
                        ),
                    },
                },
            )]),
            column_kind: "unicodeCodePoints",
            results,
            properties: RunProperties {
                files_checked: report.files,
                suppressed_findings: report.suppressed.len(),
            },
        }],
    };
    // Serializing plain structs of strings and integers cannot fail.
    let mut out = serde_json::to_string_pretty(&log).expect("SARIF log serializes");
    out.push('\n');
    out
}

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool<'a>,
    original_uri_base_ids: BTreeMap<&'static str, BaseLocation>,
    column_kind: &'static str,
    results: Vec<SarifResult<'a>>,
    properties: RunProperties,
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    information_uri: Option<&'static str>,
    rules: Vec<Descriptor<'a>>,
}

/// An `originalUriBaseIds` entry. The absolute URI is left out: it differs per machine and
/// checkout, and consumers (GitHub, VS Code) resolve `%SRCROOT%` to the repository root.
#[derive(Serialize)]
struct BaseLocation {
    description: Text<'static>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunProperties {
    files_checked: usize,
    suppressed_findings: usize,
}

/// A `reportingDescriptor`: one rule's metadata.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor<'a> {
    id: Cow<'a, str>,
    name: String,
    short_description: Text<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    full_description: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<MultiformatText<'a>>,
    default_configuration: Configuration,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

/// A `message` or a plain `multiformatMessageString`.
#[derive(Serialize)]
struct Text<'a> {
    text: Cow<'a, str>,
}

#[derive(Serialize)]
struct MultiformatText<'a> {
    text: Cow<'a, str>,
    markdown: Cow<'a, str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: Cow<'a, str>,
    rule_index: usize,
    level: &'static str,
    message: Text<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<Location<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<Location<'a>>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    /// With `--base`: `new` or `unchanged` against the base revision (SARIF §3.27.24).
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline_state: Option<&'static str>,
    properties: ResultProperties<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    physical_location: Option<PhysicalLocation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Text<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
    start_column: usize,
    end_line: usize,
    end_column: usize,
}

#[derive(Serialize)]
struct ResultProperties<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    workload: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    suggestion: Option<SuggestionJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<Cow<'a, str>>,
}

/// `{"pool_max": N}`, `{"max_surge": N}` or `{"processes": N}`, as in the JSON output.
#[derive(Default, Serialize)]
struct SuggestionJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    pool_max: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_surge: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    processes: Option<i64>,
}

/// SARIF's name for a severity.
fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// The metadata of a built-in rule.
fn descriptor(rule: &'static Rule) -> Descriptor<'static> {
    Descriptor {
        id: redact(rule.id),
        name: pascal_case(rule.id),
        short_description: Text {
            text: redact(rule.summary),
        },
        full_description: doc_section(rule.docs, "What it checks").map(|text| Text {
            text: Cow::Owned(redact(&text).into_owned()),
        }),
        help: Some(MultiformatText {
            text: redact(rule.docs),
            markdown: redact(rule.docs),
        }),
        default_configuration: Configuration {
            level: level(rule.severity),
        },
    }
}

/// Minimal metadata for a rule id that is not built in (custom policies): the
/// id stands in for the description, the first finding's severity for the default level.
fn other_descriptor(d: &Diagnostic) -> Descriptor<'_> {
    Descriptor {
        id: redact(&d.rule),
        name: pascal_case(&d.rule),
        short_description: Text {
            text: redact(&d.rule),
        },
        full_description: None,
        help: None,
        default_configuration: Configuration {
            level: level(d.severity),
        },
    }
}

fn result<'a>(
    d: &'a Diagnostic,
    db: &'a SourceDb,
    rule_index: usize,
    fingerprint: String,
) -> SarifResult<'a> {
    let primary = physical_location(db, &d.primary);
    let locations = match primary {
        Some(physical) => vec![Location {
            id: None,
            physical_location: Some(physical),
            message: (!d.primary.message.is_empty()).then(|| Text {
                text: redact(&d.primary.message),
            }),
        }],
        None => Vec::new(),
    };
    let related_locations = d
        .related
        .iter()
        .enumerate()
        .map(|(i, label)| Location {
            id: Some(i + 1),
            physical_location: physical_location(db, label),
            message: Some(Text {
                text: redact(&label.message),
            }),
        })
        .collect();
    SarifResult {
        rule_id: redact(&d.rule),
        rule_index,
        level: level(d.severity),
        message: Text {
            text: redact(&d.message),
        },
        locations,
        related_locations,
        partial_fingerprints: BTreeMap::from([(FINGERPRINT_KEY, fingerprint)]),
        baseline_state: None,
        properties: ResultProperties {
            database: d.database.as_deref().map(redact),
            workload: d.workload.as_deref().map(redact),
            suggestion: d.suggestion.as_ref().map(|s| match *s {
                Suggestion::PoolMax(n) => SuggestionJson {
                    pool_max: Some(n),
                    ..SuggestionJson::default()
                },
                Suggestion::MaxSurge(n) => SuggestionJson {
                    max_surge: Some(n),
                    ..SuggestionJson::default()
                },
                Suggestion::Processes(n) => SuggestionJson {
                    processes: Some(n),
                    ..SuggestionJson::default()
                },
            }),
            notes: d.notes.iter().map(|n| redact(n)).collect(),
            help: d.help.as_deref().map(redact),
        },
    }
}

/// The file and region of a label, or `None` when its span names no file.
fn physical_location(db: &SourceDb, label: &Label) -> Option<PhysicalLocation> {
    let at = position(db, label.span);
    Some(PhysicalLocation {
        artifact_location: location_uri(at.path)?,
        region: Region {
            start_line: at.line,
            start_column: at.column,
            end_line: at.end_line,
            end_column: at.end_column,
        },
    })
}

/// The artifact location of a displayed path: a relative URI against [`SRCROOT`], or a
/// `file://` URI for an absolute path. `None` for the empty path of a span without a file.
fn location_uri(path: &str) -> Option<ArtifactLocation> {
    if path.is_empty() {
        return None;
    }
    let path = redact(path).replace('\\', "/");
    let bytes = path.as_bytes();
    let drive =
        bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && bytes[2] == b'/';
    Some(if drive {
        // `C:/x` → `file:///C:/x`: the drive colon stays literal.
        ArtifactLocation {
            uri: format!("file:///{}{}", &path[..2], encode_path(&path[2..])),
            uri_base_id: None,
        }
    } else if path.starts_with('/') {
        ArtifactLocation {
            uri: format!("file://{}", encode_path(&path)),
            uri_base_id: None,
        }
    } else {
        ArtifactLocation {
            uri: encode_path(&path),
            uri_base_id: Some(SRCROOT),
        }
    })
}

/// Percent-encodes everything in `path` but unreserved characters, sub-delimiters, `@` and `/`
/// (RFC 3986 `pchar` less `:`, which would read as a scheme in a relative reference's first
/// segment). Non-ASCII characters are encoded as their UTF-8 bytes.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'/'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'@'
            );
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// FNV-1a (64-bit) over `rule`, `uri`, `database` and `workload`, each followed by a 0xFF byte
/// (which never occurs in UTF-8, so the fields cannot run into each other).
pub fn fingerprint(rule: &str, uri: &str, database: &str, workload: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for field in [rule, uri, database, workload] {
        for &b in field.as_bytes().iter().chain(&[0xFF]) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

/// `rollout-capacity-exceeded` → `RolloutCapacityExceeded`.
fn pascal_case(id: &str) -> String {
    id.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect::<String>()
            })
        })
        .collect()
}

/// The body of the `## {heading}` section of rule docs, paragraphs unwrapped into single lines.
fn doc_section(docs: &str, heading: &str) -> Option<String> {
    let marker = format!("## {heading}\n");
    let start = docs.find(&marker)? + marker.len();
    let body = &docs[start..];
    let body = body.find("\n## ").map_or(body, |end| &body[..end]).trim();
    let paragraphs: Vec<String> = body
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect();
    (!paragraphs.is_empty()).then(|| paragraphs.join("\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_fixture::fixture;
    use crate::source::{FileId, Span};
    use serde_json::{Value, json};

    fn parsed() -> Value {
        let (db, report) = fixture();
        let out = render(&report, &db, false);
        assert!(out.ends_with("}\n"), "trailing newline");
        serde_json::from_str(&out).expect("valid JSON")
    }

    #[test]
    fn log_header_and_run() {
        let v = parsed();
        assert_eq!(v["$schema"], json!(SCHEMA_URI));
        assert_eq!(v["version"], json!("2.1.0"));
        let run = &v["runs"][0];
        assert_eq!(run["columnKind"], json!("unicodeCodePoints"));
        assert!(run["originalUriBaseIds"]["%SRCROOT%"]["description"]["text"].is_string());
        assert_eq!(
            run["properties"],
            json!({"filesChecked": 3, "suppressedFindings": 1})
        );
        let driver = &run["tool"]["driver"];
        assert_eq!(driver["name"], json!("poolguard"));
        assert_eq!(driver["version"], json!(env!("CARGO_PKG_VERSION")));
        // Suppressed findings are not results.
        assert_eq!(run["results"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn every_builtin_rule_is_described() {
        let v = parsed();
        let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
        for (i, r) in RULES.iter().enumerate() {
            let d = &rules[i];
            assert_eq!(d["id"], json!(r.id));
            assert_eq!(d["shortDescription"]["text"], json!(r.summary));
            assert_eq!(d["help"]["markdown"], json!(r.docs));
            assert_eq!(d["help"]["text"], json!(r.docs));
            assert_eq!(
                d["defaultConfiguration"]["level"],
                json!(r.severity.as_str())
            );
            let full = d["fullDescription"]["text"].as_str().unwrap();
            assert!(!full.is_empty() && !full.contains("##"), "{full}");
        }
        let capacity = &rules[0];
        assert_eq!(capacity["name"], json!("CapacityExceeded"));
        // The fixture's `unresolved-database` is built in; nothing else was appended.
        assert_eq!(rules.len(), RULES.len());
    }

    #[test]
    fn result_fields_match_the_json_positions() {
        let v = parsed();
        let r = &v["runs"][0]["results"][0];
        let rules = &v["runs"][0]["tool"]["driver"]["rules"];
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], r["ruleId"]);
        assert_eq!(r["ruleId"], json!("rollout-capacity-exceeded"));
        assert_eq!(r["level"], json!("error"));
        assert_eq!(
            r["locations"][0],
            json!({
                "physicalLocation": {
                    "artifactLocation": {"uri": "deploy/auth.yaml", "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": 6, "startColumn": 29, "endLine": 6, "endColumn": 31}
                },
                "message": {"text": "pool size 20"}
            })
        );
        let related = r["relatedLocations"].as_array().unwrap();
        assert_eq!(related.len(), 4);
        assert_eq!(related[0]["id"], json!(1));
        assert_eq!(related[0]["message"]["text"], json!("replicas: 6"));
        assert_eq!(
            related[2]["physicalLocation"]["region"],
            json!({"startLine": 3, "startColumn": 20, "endLine": 3, "endColumn": 25})
        );
        assert_eq!(
            related[3]["physicalLocation"]["artifactLocation"]["uri"],
            json!("deploy/db.yaml")
        );
        assert_eq!(r["properties"]["suggestion"], json!({"pool_max": 15}));
        assert_eq!(r["properties"]["database"], json!("prod/auth-db"));
        assert_eq!(r["properties"]["workload"], json!("prod/Deployment/auth"));
        assert_eq!(
            r["properties"]["help"],
            json!("set the pool size to 15 or less")
        );
        let w = &v["runs"][0]["results"][1];
        assert_eq!(w["level"], json!("warning"));
        assert_eq!(w["properties"]["suggestion"], json!({"max_surge": 1}));
        assert!(w["properties"].get("database").is_none());
        assert!(w["properties"].get("notes").is_none());
    }

    #[test]
    fn secrets_are_masked() {
        let (db, report) = fixture();
        let out = render(&report, &db, false);
        assert!(!out.contains("hunter2"), "{out}");
        assert!(!out.contains("s3cr3t"), "{out}");
        let w = &parsed()["runs"][0]["results"][1];
        assert_eq!(
            w["message"]["text"],
            json!("endpoint postgres://app:****@orders-db/app matches no known database")
        );
        assert_eq!(
            w["relatedLocations"][0]["message"]["text"],
            json!("password=****")
        );
    }

    #[test]
    fn fingerprints_ignore_lines_and_messages() {
        let (db, report) = fixture();
        let before = parsed();
        // The same findings, moved down three lines, with other numbers in the message.
        let mut moved_db = SourceDb::default();
        for (_, f) in db.iter() {
            moved_db.add(f.path.clone(), format!("\n\n\n{}", f.text).into());
        }
        let mut moved = report;
        for d in &mut moved.findings {
            d.primary.span.start += 3;
            d.primary.span.end += 3;
            d.message.push_str(" (now 240)");
        }
        let after: Value = serde_json::from_str(&render(&moved, &moved_db, false)).unwrap();
        for i in 0..2 {
            let fp = |v: &Value| v["runs"][0]["results"][i]["partialFingerprints"].clone();
            assert_eq!(fp(&before), fp(&after));
            assert_ne!(
                before["runs"][0]["results"][i]["locations"][0]["physicalLocation"]["region"]["startLine"],
                after["runs"][0]["results"][i]["locations"][0]["physicalLocation"]["region"]["startLine"]
            );
        }
        let fp = before["runs"][0]["results"][0]["partialFingerprints"][FINGERPRINT_KEY]
            .as_str()
            .unwrap()
            .to_string();
        let hash = fingerprint(
            "rollout-capacity-exceeded",
            "deploy/auth.yaml",
            "prod/auth-db",
            "prod/Deployment/auth",
        );
        assert_eq!(fp, format!("{hash:016x}:1"));
    }

    #[test]
    fn fingerprints_of_look_alike_findings_are_numbered() {
        let mut db = SourceDb::default();
        let id = db.add("a.yaml".into(), "a: 1\na: 2\na: 3\n".into());
        let dup = |start: usize| {
            Diagnostic::new(
                "duplicate-key",
                Severity::Warning,
                Span::new(id, start, start + 1),
                "duplicate key `a`",
            )
        };
        let report = Report {
            files: 1,
            findings: vec![dup(5), dup(10)],
            ..Report::default()
        };
        let v: Value = serde_json::from_str(&render(&report, &db, false)).unwrap();
        let fps: Vec<&str> = (0..2)
            .map(|i| {
                v["runs"][0]["results"][i]["partialFingerprints"][FINGERPRINT_KEY]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert!(fps[0].ends_with(":1") && fps[1].ends_with(":2"), "{fps:?}");
        assert_eq!(fps[0][..16], fps[1][..16]);
    }

    #[test]
    fn fnv1a_known_values() {
        // FNV-1a 64 of the empty input is the offset basis; separators keep fields apart.
        assert_ne!(fingerprint("ab", "", "", ""), fingerprint("a", "b", "", ""));
        assert_eq!(
            fingerprint("", "", "", ""),
            // Four 0xFF bytes hashed from the offset basis.
            {
                let mut h: u64 = 0xcbf2_9ce4_8422_2325;
                for _ in 0..4 {
                    h ^= 0xFF;
                    h = h.wrapping_mul(0x100_0000_01b3);
                }
                h
            }
        );
    }

    #[test]
    fn uris() {
        let rel = |p: &str| location_uri(p).unwrap();
        assert_eq!(
            rel("deploy/auth.yaml"),
            ArtifactLocation {
                uri: "deploy/auth.yaml".into(),
                uri_base_id: Some(SRCROOT)
            }
        );
        assert_eq!(rel("deploy\\a b.yaml").uri, "deploy/a%20b.yaml");
        assert_eq!(rel("z/Zürich #1.yaml").uri, "z/Z%C3%BCrich%20%231.yaml");
        assert_eq!(rel("a:b/c.yaml").uri, "a%3Ab/c.yaml");
        assert_eq!(rel("<stdin>").uri, "%3Cstdin%3E");
        assert_eq!(
            rel("/tmp/x y/a.yaml"),
            ArtifactLocation {
                uri: "file:///tmp/x%20y/a.yaml".into(),
                uri_base_id: None
            }
        );
        assert_eq!(rel("C:\\repo\\a.yaml").uri, "file:///C:/repo/a.yaml");
        assert_eq!(location_uri(""), None);
    }

    #[test]
    fn labels_without_a_file_keep_their_message() {
        let mut db = SourceDb::default();
        let id = db.add("a.yaml".into(), "x: 1\n".into());
        let d = Diagnostic::new(
            "capacity-exceeded",
            Severity::Error,
            Span::new(id, 3, 4),
            "m",
        )
        .related(Span::file_start(FileId(9)), "from a default");
        let report = Report {
            files: 1,
            findings: vec![d],
            ..Report::default()
        };
        let v: Value = serde_json::from_str(&render(&report, &db, false)).unwrap();
        let r = &v["runs"][0]["results"][0];
        assert_eq!(
            r["relatedLocations"][0],
            json!({"id": 1, "message": {"text": "from a default"}})
        );
        // A primary label with an empty message carries no location message.
        assert!(r["locations"][0].get("message").is_none());
    }

    #[test]
    fn other_rules_are_appended_and_indexed() {
        let mut db = SourceDb::default();
        let id = db.add("a.yaml".into(), "x: 1\n".into());
        let span = Span::new(id, 0, 1);
        let report = Report {
            files: 1,
            findings: vec![
                Diagnostic::new("acme-no-hikari", Severity::Warning, span, "unused"),
                Diagnostic::new("capacity-exceeded", Severity::Error, span, "over"),
                Diagnostic::new("acme-no-hikari", Severity::Warning, span, "again"),
            ],
            ..Report::default()
        };
        let v: Value = serde_json::from_str(&render(&report, &db, false)).unwrap();
        let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), RULES.len() + 1);
        let extra = &rules[RULES.len()];
        assert_eq!(extra["id"], json!("acme-no-hikari"));
        assert_eq!(extra["name"], json!("AcmeNoHikari"));
        assert_eq!(extra["defaultConfiguration"]["level"], json!("warning"));
        let indexes: Vec<u64> = (0..3)
            .map(|i| v["runs"][0]["results"][i]["ruleIndex"].as_u64().unwrap())
            .collect();
        assert_eq!(indexes, vec![RULES.len() as u64, 0, RULES.len() as u64]);
    }

    #[test]
    fn doc_sections_are_unwrapped() {
        let docs = "## What it checks\nline one\nline two\n\nsecond para\n\n## Why it matters\nx\n";
        assert_eq!(
            doc_section(docs, "What it checks").as_deref(),
            Some("line one line two\n\nsecond para")
        );
        assert_eq!(doc_section(docs, "Why it matters").as_deref(), Some("x"));
        assert_eq!(doc_section(docs, "How to fix"), None);
        assert_eq!(pascal_case("pod-exceeds-capacity"), "PodExceedsCapacity");
    }
}
