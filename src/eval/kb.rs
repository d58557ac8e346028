//! `deskbot kb eval`: run `{"query","article"}` cases through KB search and report P@1, MRR
//! (over the top [`RANK_DEPTH`]), recall@3, latency per single search and the misses. With
//! `folds > 1` the cases are split into folds and each fold is searched on an index built with
//! the example questions minus that fold's queries, so indexed examples never grade themselves.
use crate::embed::Embedder;
use crate::import::ImportError;
use crate::import::kb::{ExamplePair, attach_examples};
use crate::intents::eval::percentile;
use crate::kb::{Article, build_index_embedded, parse_article};
use crate::text::diagnostics::Diagnostics;
use crate::text::spans::file_diag;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

/// How deep the ranking is read for MRR.
pub const RANK_DEPTH: usize = 10;
const WORST: usize = 10;

#[derive(Debug, Clone, Serialize)]
pub struct KbEvalReport {
    pub cases: usize,
    pub p_at_1: f64,
    pub mrr: f64,
    pub recall_at_3: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub folds: usize,
    pub examples: usize,
    pub misses: Vec<KbMiss>,
    pub confusions: Vec<KbConfusion>,
}

/// A case whose article was not ranked first.
#[derive(Debug, Clone, Serialize)]
pub struct KbMiss {
    pub query: String,
    pub expected: String,
    pub got: Option<String>,
    /// 1-based rank of the expected article, if it was in the top [`RANK_DEPTH`].
    pub rank: Option<usize>,
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct KbConfusion {
    pub expected: String,
    pub got: String,
    pub count: usize,
}

/// Articles of `dir/kb` when it exists, else of `dir` itself (`*.md`, sorted).
pub fn load_articles(dir: &std::path::Path) -> Result<Vec<Article>, Diagnostics> {
    let kb = dir.join("kb");
    let dir = if kb.is_dir() { kb } else { dir.to_path_buf() };
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| Diagnostics(vec![file_diag(&dir, format!("cannot list directory: {e}"))]))?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    let mut articles = Vec::with_capacity(files.len());
    let mut problems = Vec::new();
    for f in files {
        match std::fs::read_to_string(&f) {
            Ok(text) => match parse_article(&f, &text) {
                Ok(a) => articles.push(a),
                Err(Diagnostics(d)) => problems.extend(d),
            },
            Err(e) => problems.push(file_diag(&f, format!("cannot read: {e}"))),
        }
    }
    if !problems.is_empty() {
        return Err(Diagnostics(problems));
    }
    if articles.is_empty() {
        return Err(Diagnostics(vec![file_diag(&dir, "no *.md articles here")]));
    }
    Ok(articles)
}

/// P@1, MRR and recall@3 of 1-based ranks (`None`: not found).
pub fn rank_metrics(ranks: &[Option<usize>]) -> (f64, f64, f64) {
    if ranks.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let n = ranks.len() as f64;
    let p1 = ranks.iter().filter(|r| **r == Some(1)).count() as f64 / n;
    let mrr = ranks.iter().map(|r| r.map_or(0.0, |r| 1.0 / r as f64)).sum::<f64>() / n;
    let r3 = ranks.iter().filter(|r| r.is_some_and(|r| r <= 3)).count() as f64 / n;
    (p1, mrr, r3)
}

/// Evaluate `cases` against `articles` with `examples` attached as example questions.
pub fn evaluate_kb(
    articles: &[Article],
    cases: &[ExamplePair],
    examples: &[ExamplePair],
    folds: usize,
    min_score: Option<f32>,
) -> Result<KbEvalReport, ImportError> {
    evaluate_kb_with(articles, cases, examples, folds, min_score, None)
}

/// [`evaluate_kb`] with hybrid ranking when `model` is given.
pub fn evaluate_kb_with(
    articles: &[Article],
    cases: &[ExamplePair],
    examples: &[ExamplePair],
    folds: usize,
    min_score: Option<f32>,
    model: Option<&Arc<Embedder>>,
) -> Result<KbEvalReport, ImportError> {
    let folds = folds.max(1);
    let mut ranks = Vec::with_capacity(cases.len());
    let mut latencies = Vec::with_capacity(cases.len());
    let mut misses = Vec::new();
    let mut attached = 0;
    for fold in 0..folds {
        let in_fold: Vec<&ExamplePair> =
            cases.iter().enumerate().filter(|(i, _)| i % folds == fold).map(|(_, c)| c).collect();
        let held_out: HashSet<(String, &str)> = if folds > 1 {
            in_fold.iter().map(|c| (c.query.to_lowercase(), c.article.as_str())).collect()
        } else {
            HashSet::new()
        };
        let train: Vec<ExamplePair> = examples
            .iter()
            .filter(|e| !held_out.contains(&(e.query.to_lowercase(), e.article.as_str())))
            .cloned()
            .collect();
        let mut arts = articles.to_vec();
        attached += attach_examples(&mut arts, &train, &[])?;
        let index = build_index_embedded(&arts, min_score, model);
        for case in in_fold {
            let want = arts
                .iter()
                .position(|a| a.id == case.article || a.id == crate::import::article_id(&case.article));
            let Some(want) = want else {
                let (file, line) = case.source.rsplit_once(':').unwrap_or((&case.source, "0"));
                let msg = format!("unknown article `{}`", case.article);
                return Err(ImportError::at(std::path::Path::new(file), line.parse().unwrap_or(0), msg));
            };
            let start = Instant::now();
            let hits = index.search(&case.query, RANK_DEPTH);
            latencies.push(u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX));
            let rank = hits.iter().position(|h| h.article == want).map(|r| r + 1);
            ranks.push(rank);
            if rank != Some(1) {
                misses.push(KbMiss {
                    query: case.query.clone(),
                    expected: arts[want].id.clone(),
                    got: hits.first().and_then(|h| arts.get(h.article)).map(|a| a.id.clone()),
                    rank,
                    source: case.source.clone(),
                });
            }
        }
    }
    latencies.sort_unstable();
    let (p_at_1, mrr, recall_at_3) = rank_metrics(&ranks);
    let mut pairs: BTreeMap<(String, String), usize> = BTreeMap::new();
    for m in &misses {
        let got = m.got.clone().unwrap_or_else(|| "(nothing)".to_string());
        *pairs.entry((m.expected.clone(), got)).or_insert(0) += 1;
    }
    let mut confusions: Vec<KbConfusion> =
        pairs.into_iter().map(|((expected, got), count)| KbConfusion { expected, got, count }).collect();
    confusions.sort_by_key(|c| std::cmp::Reverse(c.count));
    confusions.truncate(WORST);
    Ok(KbEvalReport {
        cases: ranks.len(),
        p_at_1,
        mrr,
        recall_at_3,
        p50_us: percentile(&latencies, 50),
        p99_us: percentile(&latencies, 99),
        folds,
        examples: attached / folds,
        misses,
        confusions,
    })
}

impl KbEvalReport {
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "cases:       {}", self.cases);
        if self.folds > 1 {
            let _ = writeln!(
                s,
                "held out:    {} folds (about {} examples indexed per fold)",
                self.folds, self.examples
            );
        } else {
            let _ = writeln!(s, "examples:    {} indexed", self.examples);
        }
        let _ = writeln!(s, "P@1:         {:.3}", self.p_at_1);
        let _ = writeln!(s, "MRR@{RANK_DEPTH}:      {:.3}", self.mrr);
        let _ = writeln!(s, "recall@3:    {:.3}", self.recall_at_3);
        let _ = writeln!(s, "latency:     p50 {} µs, p99 {} µs", self.p50_us, self.p99_us);
        if !self.confusions.is_empty() {
            let _ = writeln!(s, "\nworst confusions (expected → ranked first):");
            for c in &self.confusions {
                let _ = writeln!(s, "  {:>3} × {} → {}", c.count, c.expected, c.got);
            }
        }
        if !self.misses.is_empty() {
            let _ = writeln!(s, "\nmisses ({}):", self.misses.len());
            for m in &self.misses {
                let rank = m.rank.map_or_else(|| format!("not in top {RANK_DEPTH}"), |r| format!("rank {r}"));
                let got = m.got.as_deref().unwrap_or("(nothing)");
                let _ = writeln!(
                    s,
                    "  {}: {:?}\n      expected {} ({rank}), got {got}",
                    m.source, m.query, m.expected
                );
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_metrics_on_a_hand_computed_example() {
        // Ranks 1, 2, 4, missing: P@1 = 1/4, MRR = (1 + 1/2 + 1/4 + 0)/4 = 0.4375, R@3 = 2/4.
        let (p1, mrr, r3) = rank_metrics(&[Some(1), Some(2), Some(4), None]);
        assert_eq!((p1, mrr, r3), (0.25, 0.4375, 0.5));
        assert_eq!(rank_metrics(&[]), (0.0, 0.0, 0.0));
    }

    #[test]
    fn folds_never_index_the_query_being_graded() {
        let art = |id: &str, title: &str| Article {
            id: id.into(),
            title: title.into(),
            tags: vec![],
            examples: vec![],
            body: String::new(),
            source: "x.md".into(),
        };
        let arts = [art("mail", "Email quota"), art("vpn", "Remote access")];
        let pair =
            |q: &str, a: &str| ExamplePair { query: q.into(), article: a.into(), source: "c.jsonl:1".into() };
        let cases = [pair("zebra unicorn", "vpn"), pair("mailbox full", "mail")];
        let leaky = evaluate_kb(&arts, &cases, &cases, 1, None).map(|r| r.p_at_1).map_err(|e| e.to_string());
        let held = evaluate_kb(&arts, &cases, &cases, 2, None).map(|r| r.p_at_1).map_err(|e| e.to_string());
        assert_eq!((leaky, held), (Ok(1.0), Ok(0.5)));
    }
}
