//! Kubernetes objects found in the inputs, indexed by kind, namespace and name.

use std::collections::HashMap;

use base64::Engine as _;

use crate::input::LoadedFile;
use crate::parse::{Node, Value};
use crate::source::{FileId, Span};

/// One Kubernetes object (a document with `apiVersion` and `kind`).
#[derive(Debug)]
pub struct Object<'a> {
    /// `kind`.
    pub kind: &'a str,
    /// `apiVersion`.
    pub api_version: &'a str,
    /// `metadata.name` (empty when absent).
    pub name: &'a str,
    /// `metadata.namespace`, `default` when absent.
    pub namespace: &'a str,
    /// The whole object.
    pub node: &'a Node,
    /// The file it is in.
    pub file: FileId,
    /// Span of `metadata.name`, else of `kind`.
    pub name_span: Span,
}

impl Object<'_> {
    /// `namespace/Kind/name`.
    pub fn id(&self) -> String {
        format!("{}/{}/{}", self.namespace, self.kind, self.name)
    }

    /// The API group (`apps`, `postgresql.cnpg.io`, empty for core).
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or("")
    }
}

/// One value of a ConfigMap or Secret key.
#[derive(Clone, Debug)]
pub struct DataValue {
    /// Decoded text (`None` when base64 did not decode to UTF-8).
    pub text: Option<String>,
    /// Where the value is written.
    pub span: Span,
    /// The node itself, when the text is written literally (ConfigMap `data`, Secret
    /// `stringData`), so mounted files can point into it.
    pub literal: Option<Node>,
}

/// A ConfigMap or Secret's keys.
#[derive(Debug, Default)]
pub struct Data {
    /// Keys in source order (`stringData` after `data`, as the API server merges them).
    pub entries: Vec<(String, DataValue)>,
    /// Whether this is a Secret.
    pub secret: bool,
    /// Span of the object's name.
    pub span: Span,
}

impl Data {
    /// The value of `key` (the last one when repeated).
    pub fn get(&self, key: &str) -> Option<&DataValue> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

/// All objects of a run with lookup tables.
#[derive(Debug, Default)]
pub struct Index<'a> {
    /// Every object, in input order.
    pub objects: Vec<Object<'a>>,
    /// ConfigMaps by namespace, then name.
    pub config_maps: HashMap<&'a str, HashMap<&'a str, Data>>,
    /// Secrets by namespace, then name.
    pub secrets: HashMap<&'a str, HashMap<&'a str, Data>>,
    /// Spans of Secret values, to be masked in output.
    pub secret_spans: Vec<Span>,
    /// Objects of kind `Service` (any API group) by namespace, in input order, as indexes
    /// into `objects`.
    services: HashMap<&'a str, Vec<usize>>,
    /// The first core-group Service of each name, by namespace.
    core_services: HashMap<&'a str, HashMap<&'a str, usize>>,
    /// Config files embedded in ConfigMaps/Secrets, parsed once however many containers
    /// mount them (see [`super::mounts::mounted`]).
    pub embedded: super::mounts::EmbeddedCache,
}

impl<'a> Index<'a> {
    /// The ConfigMap (or Secret, when `secret`) `name` in `ns`.
    pub fn data(&self, ns: &str, name: &str, secret: bool) -> Option<&Data> {
        let table = if secret {
            &self.secrets
        } else {
            &self.config_maps
        };
        table.get(ns)?.get(name)
    }

    /// Objects of kind `Service` (of any API group) in `ns`, in input order.
    pub fn services_in<'s>(&'s self, ns: &str) -> impl Iterator<Item = &'s Object<'a>> + 's {
        self.services
            .get(ns)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(|&i| &self.objects[i])
    }

    /// The first core-group (`v1`) Service `name` in `ns`.
    pub fn service(&self, ns: &str, name: &str) -> Option<&Object<'a>> {
        let i = *self.core_services.get(ns)?.get(name)?;
        Some(&self.objects[i])
    }
}

/// Collects the objects of every YAML/JSON document (unpacking `List` kinds).
pub fn index(files: &[LoadedFile]) -> Index<'_> {
    let mut idx = Index::default();
    for f in files {
        for doc in &f.docs {
            collect(doc, f.file, &mut idx.objects);
        }
    }
    for (i, o) in idx.objects.iter().enumerate() {
        if o.kind == "Service" {
            idx.services.entry(o.namespace).or_default().push(i);
            if o.group().is_empty() {
                idx.core_services
                    .entry(o.namespace)
                    .or_default()
                    .entry(o.name)
                    .or_insert(i);
            }
        }
        match (o.group(), o.kind) {
            ("", "ConfigMap") => {
                let data = read_data(o, false, &mut idx.secret_spans);
                idx.config_maps
                    .entry(o.namespace)
                    .or_default()
                    .insert(o.name, data);
            }
            ("", "Secret") => {
                let data = read_data(o, true, &mut idx.secret_spans);
                idx.secrets
                    .entry(o.namespace)
                    .or_default()
                    .insert(o.name, data);
            }
            _ => {}
        }
    }
    idx
}

fn collect<'a>(doc: &'a Node, file: FileId, out: &mut Vec<Object<'a>>) {
    let (Some(kind), Some(api_version)) = (
        doc.get("kind").and_then(Node::as_str),
        doc.get("apiVersion").and_then(Node::as_str),
    ) else {
        return;
    };
    if kind.ends_with("List")
        && let Some(items) = doc.get("items").and_then(Node::as_seq)
    {
        for item in items {
            collect(item, file, out);
        }
        return;
    }
    let meta = doc.get("metadata");
    let name_node = meta.and_then(|m| m.get("name"));
    let name = name_node.and_then(Node::as_str).unwrap_or("");
    let namespace = meta
        .and_then(|m| m.get("namespace"))
        .and_then(Node::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("default");
    let name_span = name_node
        .or_else(|| doc.get("kind"))
        .map(|n| n.span)
        .unwrap_or(doc.span);
    out.push(Object {
        kind,
        api_version,
        name,
        namespace,
        node: doc,
        file,
        name_span,
    });
}

fn read_data(o: &Object, secret: bool, secret_spans: &mut Vec<Span>) -> Data {
    let mut data = Data {
        secret,
        span: o.name_span,
        ..Data::default()
    };
    let encoded = if secret { "data" } else { "binaryData" };
    if let Some(m) = o.node.get("data").and_then(Node::as_map)
        && !secret
    {
        for (k, v) in m {
            data.entries.push((
                k.as_str().unwrap_or("").to_string(),
                DataValue {
                    text: v.as_str().map(str::to_string).or(Some(String::new())),
                    span: v.span,
                    literal: Some(v.clone()),
                },
            ));
        }
    }
    if let Some(m) = o.node.get(encoded).and_then(Node::as_map) {
        for (k, v) in m {
            let text = v.as_str().and_then(|s| {
                let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
                base64::engine::general_purpose::STANDARD
                    .decode(clean)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
            });
            if secret {
                secret_spans.push(v.span);
            }
            data.entries.push((
                k.as_str().unwrap_or("").to_string(),
                DataValue {
                    text,
                    span: v.span,
                    literal: None,
                },
            ));
        }
    }
    if secret && let Some(m) = o.node.get("stringData").and_then(Node::as_map) {
        for (k, v) in m {
            secret_spans.push(v.span);
            data.entries.push((
                k.as_str().unwrap_or("").to_string(),
                DataValue {
                    text: v.as_str().map(str::to_string).or(Some(String::new())),
                    span: v.span,
                    literal: Some(v.clone()),
                },
            ));
        }
    }
    data
}

/// String map (labels, annotations, selectors) of a node.
pub fn string_map(node: Option<&Node>) -> Vec<(&str, &Node)> {
    node.and_then(Node::as_map)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str()?, v)))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether every `selector` pair is among `labels`.
pub fn selects(selector: &[(&str, &Node)], labels: &[(&str, &Node)]) -> bool {
    !selector.is_empty()
        && selector.iter().all(|(k, v)| {
            labels
                .iter()
                .any(|(lk, lv)| lk == k && lv.as_str() == v.as_str())
        })
}

/// Whether a node is a mapping (helps skip malformed specs).
pub fn is_map(node: &Node) -> bool {
    matches!(node.value, Value::Map(_))
}
