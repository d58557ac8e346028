//! Line-based inputs: JSON lines (one object per line, empty lines skipped) and CSV with a
//! `text,intent` header. Each record keeps its line so later problems can point at it.
use super::{Format, ImportError, intent_id, read_input};
use serde::de::DeserializeOwned;
use std::path::Path;

/// One labelled message. `intent == None` means "no intent: goes to a person".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labelled {
    pub text: String,
    pub intent: Option<String>,
    /// `file:line` it came from.
    pub source: String,
}

/// Read labelled messages from one file in `format`.
pub fn read_labelled(format: Format, path: &Path) -> Result<Vec<Labelled>, ImportError> {
    match format {
        Format::Jsonl => read_jsonl_labelled(path),
        Format::Csv => read_csv_labelled(path),
        Format::Rasa => super::rasa::read_rasa(path),
    }
}

#[derive(serde::Deserialize)]
struct TextIntent {
    text: Option<String>,
    intent: Option<String>,
}

fn read_jsonl_labelled(path: &Path) -> Result<Vec<Labelled>, ImportError> {
    read_jsonl::<TextIntent>(path)?
        .into_iter()
        .map(|(line, r)| {
            let text = required(path, line, r.text, "text")?;
            let intent = required(path, line, r.intent, "intent")?;
            labelled(path, line, text, &intent)
        })
        .collect()
}

fn read_csv_labelled(path: &Path) -> Result<Vec<Labelled>, ImportError> {
    let data = read_input(path)?;
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(data.as_bytes());
    let headers = reader.headers().map_err(|e| csv_error(path, &data, &e))?.clone();
    let mut text_col = None;
    let mut intent_col = None;
    for (i, h) in headers.iter().enumerate() {
        match h.trim().trim_start_matches('\u{feff}') {
            "text" => text_col = Some(i),
            "intent" => intent_col = Some(i),
            other => {
                let msg = format!("unknown column `{other}`: the header must be `text,intent`");
                return Err(ImportError::at(path, 1, msg));
            }
        }
    }
    let (Some(text_col), Some(intent_col)) = (text_col, intent_col) else {
        return Err(ImportError::at(path, 1, "the header must name the columns `text` and `intent`"));
    };
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, &data, &e))?;
        let line = record.position().map_or(0, |p| line_at(&data, p.byte()));
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let text = record.get(text_col).unwrap_or_default().to_string();
        let intent = record.get(intent_col).unwrap_or_default();
        if intent.trim().is_empty() {
            return Err(ImportError::at(path, line, "missing `intent`"));
        }
        out.push(labelled(path, line, text, intent)?);
    }
    Ok(out)
}

/// 1-based line of a byte offset (the csv crate's own line count skips empty lines).
fn line_at(data: &str, byte: u64) -> usize {
    let at = usize::try_from(byte).unwrap_or(usize::MAX).min(data.len());
    let rest = data.get(at..).unwrap_or_default();
    let end = at + rest.len() - rest.trim_start_matches(['\r', '\n']).len();
    data.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

fn csv_error(path: &Path, data: &str, e: &csv::Error) -> ImportError {
    let line = e.position().map_or(0, |p| line_at(data, p.byte()));
    let msg = match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("row has {len} fields, the header has {expected_len}: quote text that holds commas")
        }
        _ => format!("bad CSV: {e}"),
    };
    ImportError::at(path, line, msg)
}

/// A labelled message with its label turned into an intent id; empty text is an error.
pub(crate) fn labelled(path: &Path, line: usize, text: String, label: &str) -> Result<Labelled, ImportError> {
    let text = text.trim().to_string();
    if text.is_empty() {
        return Err(ImportError::at(path, line, "empty `text`"));
    }
    let intent = intent_id(label).map_err(|m| ImportError::at(path, line, m))?;
    Ok(Labelled { text, intent, source: format!("{}:{line}", path.display()) })
}

/// A field every line must have.
pub(crate) fn required(
    path: &Path,
    line: usize,
    v: Option<String>,
    field: &str,
) -> Result<String, ImportError> {
    match v {
        Some(v) if !v.trim().is_empty() => Ok(v),
        Some(_) => Err(ImportError::at(path, line, format!("empty `{field}`"))),
        None => Err(ImportError::at(path, line, format!("missing field `{field}`"))),
    }
}

/// Every non-empty line of a JSON-lines file as `T`, with its 1-based line number.
pub fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<(usize, T)>, ImportError> {
    let data = read_input(path)?;
    let mut out = Vec::new();
    for (i, raw) in data.lines().enumerate() {
        let line = raw.trim().trim_start_matches('\u{feff}');
        if line.is_empty() {
            continue;
        }
        let value: T = serde_json::from_str(line).map_err(|e| {
            let what = if e.is_data() { "unexpected value" } else { "not a JSON object" };
            ImportError::at(path, i + 1, format!("{what}: {e}"))
        })?;
        out.push((i + 1, value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, body: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap_or_else(|e| panic!("write: {e}"));
        (dir, path)
    }

    fn err(format: Format, name: &str, body: &str) -> String {
        let (_d, path) = file(name, body);
        match read_labelled(format, &path) {
            Ok(v) => panic!("expected an error, got {v:?}"),
            Err(e) => format!(
                "{}:{}: {}",
                path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
                e.line,
                e.message
            ),
        }
    }

    #[test]
    fn jsonl_skips_empty_lines_and_maps_none_to_out_of_scope() {
        let body = "{\"text\": \"reset my password\", \"intent\": \"password_reset\"}\n\n  \n{\"text\": \"what's for lunch\", \"intent\": \"none\"}\n";
        let (_d, path) = file("a.jsonl", body);
        let got = read_labelled(Format::Jsonl, &path).map_err(|e| e.to_string());
        let got = got.map(|v| v.into_iter().map(|l| (l.text, l.intent)).collect::<Vec<_>>());
        assert_eq!(
            got,
            Ok(vec![
                ("reset my password".into(), Some("password_reset".into())),
                ("what's for lunch".into(), None)
            ])
        );
    }

    #[test]
    fn bad_lines_are_reported_at_file_and_line() {
        let ok = "{\"text\": \"a\", \"intent\": \"x\"}\n";
        for (body, want) in [
            (format!("{ok}\n{{not json\n"), "a.jsonl:3: not a JSON object"),
            (format!("{ok}{{\"text\": \"b\"}}\n"), "a.jsonl:2: missing field `intent`"),
            ("{\"intent\": \"x\"}\n".to_string(), "a.jsonl:1: missing field `text`"),
            (format!("{ok}{{\"text\": \" \", \"intent\": \"x\"}}\n"), "a.jsonl:2: empty `text`"),
            ("{\"text\": 3, \"intent\": \"x\"}\n".to_string(), "a.jsonl:1: unexpected value"),
            ("[1, 2]\n".to_string(), "a.jsonl:1: unexpected value"),
        ] {
            let got = err(Format::Jsonl, "a.jsonl", &body);
            assert!(got.starts_with(want), "{body:?}: got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn csv_reads_quoted_fields_in_any_column_order() {
        let (_d, path) = file("a.csv", "intent,text\nvpn,\"vpn drops, again\"\n\nnone,\"lunch?\"\n");
        let got = read_labelled(Format::Csv, &path).map_err(|e| e.to_string());
        let got = got.map(|v| {
            v.into_iter()
                .map(|l| (l.text, l.intent, l.source.rsplit(':').next().unwrap_or_default().to_string()))
                .collect::<Vec<_>>()
        });
        assert_eq!(
            got,
            Ok(vec![
                ("vpn drops, again".into(), Some("vpn".into()), "2".into()),
                ("lunch?".into(), None, "4".into())
            ])
        );
    }

    #[test]
    fn csv_refuses_unknown_columns_and_ragged_rows() {
        for (body, want) in [
            ("text,intent,lang\na,b,en\n", "a.csv:1: unknown column `lang`"),
            ("text\na\n", "a.csv:1: the header must name the columns `text` and `intent`"),
            ("text,intent\na,b\nc\n", "a.csv:3: row has 1 fields"),
            ("text,intent\na,\n", "a.csv:2: missing `intent`"),
        ] {
            let got = err(Format::Csv, "a.csv", body);
            assert!(got.starts_with(want), "{body:?}: got {got:?}, want {want:?}");
        }
    }
}
