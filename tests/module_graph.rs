//! The module graph of `src/` has no import cycles: every `crate::X` path in a file of top-level
//! module `Y` is an edge Y → X, and the graph of those edges must be acyclic, so layers import
//! downward only (see the layering in `src/lib.rs`). Doc comments and `//` comments are ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module → modules it uses → one place each edge is written (file:line).
type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("read src").flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file belongs to (`src/store/sql.rs` → `store`); `None` for the crate
/// roots.
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

fn graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut g = Graph::new();
    for file in files {
        let Some(from) = top_module(src, &file) else { continue };
        let text = std::fs::read_to_string(&file).expect("read source");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let mut rest = code;
            while let Some(i) = rest.find("crate::") {
                // `deskbot::crate::` cannot occur; skip `$crate::` in macros.
                let before = &rest[..i];
                rest = &rest[i + "crate::".len()..];
                if before.ends_with('$') || before.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let to: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if to.is_empty() || to == from {
                    continue;
                }
                g.entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| format!("{}:{}", file.display(), n + 1));
            }
        }
    }
    g
}

/// One cycle, if there is any: a path of modules that leads back to its start.
fn find_cycle(g: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        g: &Graph,
        n: &str,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(n) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = path.iter().position(|p| p == n).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(n.to_string(), Mark::Open);
        path.push(n.to_string());
        for next in g.get(n).map(|e| e.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
            if let Some(c) = visit(g, &next, marks, path) {
                return Some(c);
            }
        }
        path.pop();
        marks.insert(n.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    let nodes: BTreeSet<String> = g.keys().cloned().collect();
    for n in nodes {
        if let Some(c) = visit(g, &n, &mut marks, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[test]
fn src_has_no_module_import_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = graph(&src);
    assert!(g.len() > 10, "expected to find the crate's modules under {}", src.display());
    if let Some(cycle) = find_cycle(&g) {
        let edges: Vec<String> =
            cycle.windows(2).map(|w| format!("  {} -> {}  ({})", w[0], w[1], g[&w[0]][&w[1]])).collect();
        panic!("import cycle between top-level modules:\n{}", edges.join("\n"));
    }
}

#[test]
fn the_checker_finds_a_planted_cycle() {
    let mut g = Graph::new();
    g.entry("a".into()).or_default().insert("b".into(), "a.rs:1".into());
    g.entry("b".into()).or_default().insert("c".into(), "b.rs:1".into());
    assert_eq!(find_cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into(), "c.rs:1".into());
    assert_eq!(find_cycle(&g).map(|c| c.len()), Some(4));
}
