//! Helpers the stacks share: command-line words and flags, integers from the environment,
//! `${VAR:default}` placeholders, durations and CPU-count defaults.

use super::{Arg, Ctx, Setting, SettingKind};
use crate::model::mounts::ConfigFile;
use crate::parse::Format;
use crate::report::Fact;
use crate::source::Span;

/// Why a number is unknown, and where.
pub type Unknown = (Span, String);

/// A number read from configuration, or why it could not be.
pub type Num = Result<Fact, Unknown>;

/// One whitespace-separated word of a container's command line.
#[derive(Clone, Copy, Debug)]
pub struct Word<'a> {
    /// The word, without surrounding shell quotes.
    pub text: &'a str,
    /// The `command`/`args` entry it is part of.
    pub span: Span,
}

/// Every word of `command` and `args` (an entry such as `sh -c "gunicorn -w 4 app"` is split).
pub fn words(args: &[Arg]) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    for a in args {
        for w in a.text.split_whitespace() {
            out.push(Word {
                text: w.trim_matches(['"', '\'']),
                span: a.span,
            });
        }
    }
    out
}

/// Shell words that end one command and start another.
fn is_separator(w: &str) -> bool {
    matches!(w, "&&" | "||" | ";" | "|" | "&")
}

/// The file name of a program word: `/usr/local/bin/gunicorn` → `gunicorn`.
pub fn base(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// Index of the first word that runs one of `names` (by file name).
pub fn program(words: &[Word], names: &[&str]) -> Option<usize> {
    words.iter().position(|w| names.contains(&base(w.text)))
}

/// The value of a flag in the command that starts at word `from` (up to the next shell
/// separator). Accepts `--name value`, `--name=value`, `-n value` and `-n4` (attached values
/// only when numeric, so `-config` is not `-c onfig`); the last occurrence wins, as in every
/// argument parser these servers use.
pub fn flag(words: &[Word], from: usize, names: &[&str]) -> Option<(String, Span)> {
    let mut found = None;
    let mut i = from + 1;
    while i < words.len() {
        let w = words[i].text;
        if is_separator(w) || w.ends_with(';') {
            break;
        }
        for n in names {
            if w == *n {
                if let Some(v) = words.get(i + 1).filter(|v| !is_separator(v.text)) {
                    found = Some((v.text.to_string(), v.span));
                }
            } else if let Some(rest) = w.strip_prefix(n) {
                let short = !n.starts_with("--");
                if let Some(v) = rest.strip_prefix('=') {
                    found = Some((v.to_string(), words[i].span));
                } else if short
                    && rest.starts_with(|c: char| c.is_ascii_digit())
                    && !w.starts_with("--")
                {
                    found = Some((rest.to_string(), words[i].span));
                }
            }
        }
        i += 1;
    }
    found
}

/// Whether a flag without a value (`-B`, `--beat`) is given in the command starting at `from`.
pub fn has_flag(words: &[Word], from: usize, names: &[&str]) -> bool {
    words[from + 1..]
        .iter()
        .take_while(|w| !is_separator(w.text))
        .any(|w| names.contains(&w.text))
}

/// A decimal integer as an application reads it from env or args (`"010"` is ten).
pub fn dec(text: &str) -> Option<i64> {
    let t = text.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// An integer read from some text at `span`, or why it is not one.
pub fn int_at(text: &str, span: Span, what: &str) -> Result<Fact, (Span, String)> {
    dec(text)
        .map(|v| Fact::at(v, span))
        .ok_or_else(|| (span, format!("{what} is `{}`, not a number", text.trim())))
}

/// The integer in environment variable `name`: `None` when the variable is not set, an error
/// when its value is unknown (set at run time) or not a number.
pub fn env_int(ctx: &Ctx, name: &str) -> Option<Result<Fact, (Span, String)>> {
    let v = ctx.env.get(name)?;
    Some(match &v.value {
        Some(text) => int_at(text, v.span, &format!("`{name}`")),
        None => Err((
            v.span,
            format!(
                "`{name}` is not known from the repository ({})",
                v.unknown_reason.as_deref().unwrap_or("set at run time")
            ),
        )),
    })
}

/// The value and span of an environment variable whose value is known.
pub fn env_str<'a>(ctx: &'a Ctx, name: &str) -> Option<(&'a str, Span)> {
    let v = ctx.env.get(name)?;
    Some((v.value.as_deref()?, v.span))
}

/// Expands `${NAME}` and `${NAME:default}` (MicroProfile/Micronaut/Spring placeholders, and
/// php-fpm's `${NAME}`) with `lookup`. When the whole value is one placeholder whose value
/// came from `lookup`, also returns where that value is written.
pub fn placeholders(
    value: &str,
    lookup: &dyn Fn(&str) -> Option<(String, Span)>,
) -> (String, Option<Span>) {
    expand(value, lookup, 0)
}

fn expand(
    value: &str,
    lookup: &dyn Fn(&str) -> Option<(String, Span)>,
    depth: usize,
) -> (String, Option<Span>) {
    if depth > 8 || !value.contains("${") {
        return (value.to_string(), None);
    }
    let t = value.trim();
    let whole = t.starts_with("${") && closing(t, 2) == Some(t.len() - 1);
    let mut out = String::new();
    let mut rest = value;
    let mut winner = None;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let Some(end) = closing(rest, i + 2) else {
            out.push_str(&rest[i..]);
            rest = "";
            break;
        };
        let body = &rest[i + 2..end];
        let (name, default) = match outer_colon(body) {
            Some(c) => (&body[..c], Some(&body[c + 1..])),
            None => (body, None),
        };
        match (lookup(name), default) {
            (Some((v, s)), _) => {
                out.push_str(&v);
                winner = Some(s);
            }
            (None, Some(d)) => {
                let (d, w) = expand(d, lookup, depth + 1);
                out.push_str(&d);
                winner = w;
            }
            (None, None) => out.push_str(&rest[i..=end]),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    (out, if whole { winner } else { None })
}

fn outer_colon(body: &str) -> Option<usize> {
    let mut depth = 0i32;
    for (i, b) in body.bytes().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' => depth -= 1,
            b':' if depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

fn closing(s: &str, from: usize) -> Option<usize> {
    let mut depth = 1;
    for (i, c) in s[from..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(from + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// A duration in milliseconds: a bare number is `bare_ms` each; `500ms`, `5s`, `2m`, `1h`,
/// `1d` and ISO-8601 `PT5S` / `PT1M30S` are understood (case-insensitive).
pub fn duration_ms(text: &str, bare_ms: i64) -> Option<i64> {
    let t = text.trim().to_ascii_lowercase();
    if let Some(n) = dec(&t) {
        return n.checked_mul(bare_ms);
    }
    if let Some(iso) = t.strip_prefix("pt") {
        let mut total = 0f64;
        let mut num = String::new();
        for c in iso.chars() {
            match c {
                '0'..='9' | '.' => num.push(c),
                'h' | 'm' | 's' => {
                    let n: f64 = num.parse().ok()?;
                    num.clear();
                    total += n * match c {
                        'h' => 3_600_000.0,
                        'm' => 60_000.0,
                        _ => 1000.0,
                    };
                }
                _ => return None,
            }
        }
        return num.is_empty().then_some(total as i64);
    }
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let n = dec(&t[..split])?;
    let unit = match &t[split..] {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit)
}

/// A setting read from `text` at `span`, when it is an integer.
pub fn setting(kind: SettingKind, value: i64, span: Span, what: &str) -> Setting {
    Setting {
        kind,
        value: Fact::at(value, span),
        what: what.to_string(),
    }
}

/// The `CpuDependentDefault` marker. `value` is the default as far as it can be computed: from
/// the declared node CPUs it is placed at `at` (the DSN or command that lacks an explicit
/// size, where the fix goes); without them it stays a documented lower bound.
pub fn cpu_dependent(value: Fact, what: &str, at: Option<Span>) -> Setting {
    let value = match (value.span(), at) {
        (Some(_), Some(at)) => Fact::at(value.value, at),
        _ => value,
    };
    Setting {
        kind: SettingKind::CpuDependentDefault,
        value,
        what: what.to_string(),
    }
}

/// The largest of several facts (the first on ties).
pub fn max_fact(facts: impl IntoIterator<Item = Fact>) -> Option<Fact> {
    facts
        .into_iter()
        .fold(None, |best: Option<Fact>, f| match best {
            Some(b) if b.value >= f.value => Some(b),
            _ => Some(f),
        })
}

/// Canonical form of a property name for relaxed comparison: lower case, without `.`, `-`, `_`.
pub fn canon(key: &str) -> String {
    canon_chars(key).collect()
}

/// The characters of [`canon`]`(key)`, for comparing without building it.
pub fn canon_chars(key: &str) -> impl Iterator<Item = char> + '_ {
    key.chars()
        .filter(|c| !matches!(c, '.' | '-' | '_'))
        .flat_map(char::to_lowercase)
}

/// One property or environment entry in a layer of configuration sources.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Property name as written (`quarkus.datasource.jdbc.max-size`) or env name.
    pub key: String,
    /// Whether `key` is an environment variable name (`QUARKUS_DATASOURCE_JDBC_MAX_SIZE`).
    pub env: bool,
    /// The value as written; `None` for an env var whose value is not in the repository.
    pub value: Option<String>,
    /// Where the value is written.
    pub span: Span,
    /// Where it came from, for messages (`env QUARKUS_…`, `application.properties`).
    pub source: String,
}

/// Entries from `-Dkey=value` words in the JVM option variables and the command line, in the
/// order the JVM applies them (the last wins).
pub fn system_properties(ctx: &Ctx) -> Vec<Entry> {
    let mut texts: Vec<(&str, Span)> = Vec::new();
    for name in [
        "JAVA_TOOL_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "JAVA_OPTS",
        "JAVA_OPTS_APPEND",
    ] {
        if let Some((t, s)) = env_str(ctx, name) {
            texts.push((t, s));
        }
    }
    texts.extend(ctx.args.iter().map(|a| (a.text.as_str(), a.span)));
    let mut out = Vec::new();
    for (text, span) in texts {
        for w in text.split_whitespace() {
            if let Some(kv) = w.trim_matches(['"', '\'']).strip_prefix("-D")
                && let Some((k, v)) = kv.split_once('=')
            {
                out.push(Entry {
                    key: k.to_string(),
                    env: false,
                    value: Some(v.to_string()),
                    span,
                    source: format!("system property `-D{k}`"),
                });
            }
        }
    }
    out
}

/// Entries of the container environment.
pub fn env_entries(ctx: &Ctx) -> Vec<Entry> {
    ctx.env
        .vars
        .iter()
        .map(|v| Entry {
            key: v.name.clone(),
            env: true,
            value: v.value.clone(),
            span: v.span,
            source: format!("env {}", v.name),
        })
        .collect()
}

/// Scalar entries of a config file (dotted keys for YAML/JSON/TOML); `.env` keys are env names.
pub fn file_entries(f: &ConfigFile) -> Vec<Entry> {
    let mut out = Vec::new();
    for d in f.docs.iter() {
        d.any_leaf(&mut |k, n| {
            out.extend(file_entry(f, k, n));
            false
        });
    }
    out
}

/// Whether some entry of `f`, as [`file_entries`] lists them, has a key for which
/// `pred(key, env)` holds — without building the entries. Every detector asks this of every
/// workload's config files, most of which are not its stack's, so it stops at the first
/// match and allocates nothing per entry.
pub fn any_entry_key(f: &ConfigFile, pred: &dyn Fn(&str, bool) -> bool) -> bool {
    let env = f.format == Format::Dotenv;
    f.docs
        .iter()
        .any(|d| d.any_leaf(&mut |k, n| n.as_str().is_some() && pred(k, env)))
}

/// The last entry of `files` (file order, then entry order) whose key satisfies
/// `pred(key, env)`, built only for the entries that match.
pub fn last_file_entry(files: &[ConfigFile], pred: &dyn Fn(&str, bool) -> bool) -> Option<Entry> {
    let mut last = None;
    for f in files {
        let env = f.format == Format::Dotenv;
        for d in f.docs.iter() {
            d.any_leaf(&mut |k, n| {
                if pred(k, env) {
                    last = file_entry(f, k, n).or(last.take());
                }
                false
            });
        }
    }
    last
}

/// The entry for the scalar `node` at key path `key` of `f`; `None` for a null.
fn file_entry(f: &ConfigFile, key: &str, node: &crate::parse::Node) -> Option<Entry> {
    Some(Entry {
        key: key.to_string(),
        env: f.format == Format::Dotenv,
        value: Some(node.as_str()?.to_string()),
        span: node.span,
        source: format!("`{}`", f.name),
    })
}

/// The text of an entry with `${…}` placeholders expanded, and where the winning value is
/// written; an error when the value is not in the repository.
pub fn entry_text(
    e: &Entry,
    lookup: &dyn Fn(&str) -> Option<(String, Span)>,
) -> Result<(String, Span), (Span, String)> {
    let Some(v) = &e.value else {
        return Err((
            e.span,
            format!("{} is not known from the repository", e.source),
        ));
    };
    let (text, winner) = placeholders(v, lookup);
    Ok((text, winner.unwrap_or(e.span)))
}

/// The integer value of an entry (placeholders expanded), or why it has none.
pub fn entry_int(
    e: &Entry,
    lookup: &dyn Fn(&str) -> Option<(String, Span)>,
) -> Result<Fact, (Span, String)> {
    let (text, span) = entry_text(e, lookup)?;
    int_at(&text, span, &e.source)
}

/// The first match of any candidate name, searching layers from highest precedence down and,
/// within a layer, candidates in order (profile-specific first) and entries from last to first.
pub fn lookup<'a>(
    layers: &'a [Vec<Entry>],
    candidates: &[String],
    matches: &dyn Fn(&Entry, &str) -> bool,
) -> Option<&'a Entry> {
    for layer in layers {
        for c in candidates {
            if let Some(e) = layer.iter().rev().find(|e| matches(e, c)) {
                return Some(e);
            }
        }
    }
    None
}

#[cfg(test)]
pub mod test {
    //! A small container builder for the stacks' unit tests.

    use super::super::{Arg, Ctx};
    use crate::model::env::{Env, EnvVar};
    use crate::model::mounts::ConfigFile;
    use crate::parse::{self, Format, Limits};
    use crate::report::Fact;
    use crate::source::{FileId, Span};

    /// A container under construction; every value keeps a span into a text of its own.
    #[derive(Default)]
    pub struct Fx {
        env: Env,
        env_text: String,
        args: Vec<Arg>,
        args_text: String,
        files: Vec<ConfigFile>,
        file_texts: Vec<String>,
        image: String,
        node_cpus: Option<Fact>,
    }

    impl Fx {
        /// An empty container.
        pub fn new() -> Fx {
            Fx::default()
        }

        /// Adds an env var with a known value.
        pub fn env(mut self, name: &str, value: &str) -> Fx {
            let start = self.env_text.len() + name.len() + 1;
            self.env_text.push_str(&format!("{name}={value}\n"));
            let span = Span::new(FileId(0), start, start + value.len());
            self.env.vars.push(EnvVar {
                name: name.into(),
                value: Some(value.into()),
                span,
                decl: span,
                secret: false,
                unknown_reason: None,
                secret_name: None,
            });
            self
        }

        /// Adds an env var whose value is not in the repository.
        pub fn env_unknown(mut self, name: &str) -> Fx {
            let start = self.env_text.len();
            self.env_text.push_str(&format!("{name}\n"));
            let span = Span::new(FileId(0), start, start + name.len());
            self.env.vars.push(EnvVar {
                name: name.into(),
                value: None,
                span,
                decl: span,
                secret: true,
                unknown_reason: Some("Secret `x` is not in the repository".into()),
                secret_name: Some("x".into()),
            });
            self
        }

        /// Adds `command`/`args` entries.
        pub fn args(mut self, args: &[&str]) -> Fx {
            for a in args {
                let start = self.args_text.len();
                self.args_text.push_str(a);
                self.args_text.push('\n');
                self.args.push(Arg {
                    text: a.to_string(),
                    span: Span::new(FileId(1), start, start + a.len()),
                });
            }
            self
        }

        /// Adds a mounted config file.
        pub fn file(self, name: &str, text: &str) -> Fx {
            self.file_at(name, text, true)
        }

        /// Adds a config file, mounted or attached.
        pub fn file_at(mut self, name: &str, text: &str, mounted: bool) -> Fx {
            let id = FileId(2 + self.files.len() as u32);
            let format = Format::from_path(name).expect("a known format");
            let parsed = parse::parse(format, id, text, &Limits::default());
            assert!(parsed.error.is_none(), "{name}: {:?}", parsed.error);
            self.files.push(ConfigFile {
                name: name.rsplit('/').next().unwrap().into(),
                path: name.into(),
                mounted,
                format,
                docs: parsed.docs.into(),
            });
            self.file_texts.push(text.into());
            self
        }

        /// Sets the image.
        pub fn image(mut self, image: &str) -> Fx {
            self.image = image.into();
            self
        }

        /// Declares node CPUs (as `nodes.cpus` in poolguard.yaml would).
        pub fn cpus(mut self, n: i64) -> Fx {
            self.node_cpus = Some(Fact::at(n, Span::new(FileId(99), 0, 2)));
            self
        }

        /// The stack context.
        pub fn ctx(&self) -> Ctx<'_> {
            Ctx {
                env: &self.env,
                args: &self.args,
                files: &self.files,
                image: &self.image,
                node_cpus: self.node_cpus.clone(),
            }
        }

        /// The text a span covers.
        pub fn text(&self, span: Span) -> &str {
            let t = match span.file.0 {
                0 => &self.env_text,
                1 => &self.args_text,
                99 => return "<nodes.cpus>",
                n => &self.file_texts[n as usize - 2],
            };
            &t[span.start as usize..span.end as usize]
        }

        /// The text a fact was read from (`default: …` for documented defaults).
        pub fn origin(&self, f: &Fact) -> String {
            match f.span() {
                Some(s) => self.text(s).to_string(),
                None => format!("default: {f:?}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test::Fx;
    use super::*;

    #[test]
    fn any_entry_key_agrees_with_file_entries() {
        use crate::model::mounts::ConfigFile;
        use crate::parse::{self, Format, Limits};
        let yaml = "a:\n  b: 1\n  c: [x, {d: 2}, ~]\n\"\": {e: 3}\nf: ~\nmicronaut:\n  g: 4\n---\n- 5\n---\n'%prod':\n  quarkus.h: 6\n";
        let file = ConfigFile {
            name: "application.yml".into(),
            path: "/config/application.yml".into(),
            mounted: true,
            format: Format::Yaml,
            docs: parse::parse(
                Format::Yaml,
                crate::source::FileId(0),
                yaml,
                &Limits::default(),
            )
            .docs
            .into(),
        };
        let keys: Vec<String> = file_entries(&file).into_iter().map(|e| e.key).collect();
        assert_eq!(
            keys,
            [
                "a.b",
                "a.c[0]",
                "a.c[1].d",
                "e",
                "micronaut.g",
                "[0]",
                "%prod.quarkus.h"
            ]
        );
        for want in &keys {
            assert!(any_entry_key(&file, &|k, env| !env && k == want), "{want}");
        }
        for absent in ["a", "a.c", "a.c[2]", "f", ".e", "micronaut"] {
            assert!(!any_entry_key(&file, &|k, _| k == absent), "{absent}");
        }
    }

    #[test]
    fn flags_in_every_form_and_the_last_wins() {
        let fx = Fx::new().args(&[
            "sh",
            "-c",
            "gunicorn -w 2 --workers=3 -w4 app && celery -c 9",
        ]);
        let ctx = fx.ctx();
        let w = words(ctx.args);
        let g = program(&w, &["gunicorn"]).unwrap();
        assert_eq!(flag(&w, g, &["-w", "--workers"]).unwrap().0, "4");
        // The shell's own `-c` is before the program; celery's is after the separator.
        assert_eq!(flag(&w, g, &["-c"]), None);
        let c = program(&w, &["celery"]).unwrap();
        assert_eq!(flag(&w, c, &["-c"]).unwrap().0, "9");
        assert!(!has_flag(&w, g, &["-B"]));
        let fx = Fx::new().args(&["tool", "-config", "x.yml", "-c3"]);
        let ctx = fx.ctx();
        let w = words(ctx.args);
        assert_eq!(flag(&w, 0, &["-c"]).unwrap().0, "3");
    }

    #[test]
    fn placeholders_resolve_from_lookup_or_default() {
        let s = Span::default();
        let look = |n: &str| (n == "POOL").then(|| ("30".to_string(), s));
        assert_eq!(placeholders("${POOL:20}", &look), ("30".into(), Some(s)));
        assert_eq!(placeholders("${MISSING:20}", &look).0, "20");
        assert_eq!(placeholders("${A:${POOL:1}}", &look).0, "30");
        assert_eq!(placeholders("x${NOPE}", &look).0, "x${NOPE}");
    }

    #[test]
    fn durations_in_quarkus_and_iso_forms() {
        assert_eq!(duration_ms("5", 1000), Some(5000));
        assert_eq!(duration_ms("500ms", 1000), Some(500));
        assert_eq!(duration_ms("5S", 1000), Some(5000));
        assert_eq!(duration_ms("PT1M30S", 1000), Some(90_000));
        assert_eq!(duration_ms("0", 1000), Some(0));
        assert_eq!(duration_ms("soon", 1000), None);
        assert_eq!(dec("010"), Some(10));
        assert_eq!(dec("-1"), Some(-1));
        assert_eq!(dec("1e3"), None);
    }
}
