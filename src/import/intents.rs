//! Writing imported labelled messages as an intents directory: one `<intent>.toml` per intent
//! (id, description, examples, a placeholder answer, the default queue, normal priority) and
//! `out_of_scope.toml` holding the "goes to a person" messages as a top-level `out_of_scope`.
use super::{ImportError, Labelled};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Queue imported intents route to until an admin picks a better one.
pub const DEFAULT_QUEUE: &str = "service-desk";
/// File the out-of-scope messages go to.
pub const OUT_OF_SCOPE_FILE: &str = "out_of_scope.toml";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub intents: usize,
    pub examples: usize,
    pub out_of_scope: usize,
    /// Exact repeats within one intent, dropped.
    pub duplicates: usize,
    pub files: Vec<PathBuf>,
}

#[derive(Serialize)]
struct IntentFile<'a> {
    intent: Vec<IntentOut<'a>>,
}

#[derive(Serialize)]
struct IntentOut<'a> {
    id: &'a str,
    description: String,
    examples: &'a [String],
    answer: String,
    queue: &'static str,
    priority: &'static str,
}

#[derive(Serialize)]
struct OutOfScopeFile<'a> {
    out_of_scope: &'a [String],
}

/// Group `records` by intent (first-seen order) and write them under `out`.
pub fn write_intents(records: &[Labelled], out: &Path) -> Result<ImportSummary, ImportError> {
    let mut order: Vec<&str> = Vec::new();
    let mut groups: HashMap<&str, (Vec<String>, HashSet<&str>, &str)> = HashMap::new();
    let mut oos: Vec<String> = Vec::new();
    let mut oos_seen: HashSet<&str> = HashSet::new();
    let mut duplicates = 0;
    for r in records {
        let fresh = match &r.intent {
            None => {
                oos_seen.insert(r.text.as_str()) && {
                    oos.push(r.text.clone());
                    true
                }
            }
            Some(id) => {
                let (examples, seen, _) = groups.entry(id.as_str()).or_insert_with(|| {
                    order.push(id.as_str());
                    (Vec::new(), HashSet::new(), r.source.as_str())
                });
                seen.insert(r.text.as_str()) && {
                    examples.push(r.text.clone());
                    true
                }
            }
        };
        duplicates += usize::from(!fresh);
    }
    std::fs::create_dir_all(out)
        .map_err(|e| ImportError::file(out, format!("cannot create directory: {e}")))?;
    let mut files = Vec::new();
    let mut examples_total = 0;
    for id in &order {
        let Some((examples, _, first)) = groups.get(id) else { continue };
        examples_total += examples.len();
        let file = IntentFile {
            intent: vec![IntentOut {
                id,
                description: format!("Imported from {first} ({} examples)", examples.len()),
                examples,
                answer: format!(
                    "TODO: write the answer for `{id}` in this file (imported placeholder), \
                     or point it at an article with kb:ARTICLE-ID."
                ),
                queue: DEFAULT_QUEUE,
                priority: "normal",
            }],
        };
        files.push(write_toml(&out.join(format!("{id}.toml")), &file)?);
    }
    if !oos.is_empty() {
        files.push(write_toml(&out.join(OUT_OF_SCOPE_FILE), &OutOfScopeFile { out_of_scope: &oos })?);
    }
    Ok(ImportSummary {
        intents: order.len(),
        examples: examples_total,
        out_of_scope: oos.len(),
        duplicates,
        files,
    })
}

fn write_toml(path: &Path, value: &impl Serialize) -> Result<PathBuf, ImportError> {
    let header = "# Written by `deskbot intents import`. Edit freely: write a real answer, pick a queue.\n";
    let body =
        toml::to_string_pretty(value).map_err(|e| ImportError::file(path, format!("cannot encode: {e}")))?;
    std::fs::write(path, format!("{header}{body}"))
        .map_err(|e| ImportError::file(path, format!("cannot write: {e}")))?;
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intents::load_sources;

    fn rec(text: &str, intent: Option<&str>) -> Labelled {
        Labelled { text: text.into(), intent: intent.map(str::to_string), source: "in.jsonl:1".into() }
    }

    #[test]
    fn written_directory_loads_with_out_of_scope_and_without_repeats() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let records = [
            rec("vpn drops \"again\"", Some("vpn")),
            rec("vpn drops \"again\"", Some("vpn")),
            rec("reset password", Some("password_reset")),
            rec("lunch?", None),
            rec("tell me a joke", None),
        ];
        let summary = write_intents(&records, dir.path()).map_err(|e| e.to_string());
        assert_eq!(
            summary.as_ref().map(|s| (s.intents, s.examples, s.out_of_scope, s.duplicates)),
            Ok((2, 2, 2, 1))
        );
        let queues = crate::desk::queues::default_queues().into_iter().map(|q| q.name).collect::<Vec<_>>();
        let src = load_sources(dir.path(), &queues).map_err(|d| d.to_string());
        let src = src.map(|s| (s.intents.iter().map(|i| i.id.clone()).collect::<Vec<_>>(), s.out_of_scope));
        assert_eq!(
            src,
            Ok((vec!["password_reset".into(), "vpn".into()], vec!["lunch?".into(), "tell me a joke".into()]))
        );
    }
}
