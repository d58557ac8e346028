//! Clustering the unanswered questions: two questions are alike when their stemmed content
//! words overlap (Jaccard similarity of the word sets) by at least [`SIMILAR`]. Greedy and
//! deterministic: questions are taken oldest first; each joins the first cluster whose first
//! question is alike, or starts a new one. Each cluster names the intent or article it came
//! closest to: the one it was given (for "not solved"), else the matcher's and KB search's
//! best candidates.

use crate::intents::Catalog;
use crate::store::{CaseKind, CaseRecord};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// How alike two questions must be (0–1) to share a cluster.
pub const SIMILAR: f64 = 0.5;
/// Example questions kept per cluster.
const EXAMPLES: usize = 3;

/// What a cluster came closest to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Closest {
    /// `intent` or `article`.
    pub kind: &'static str,
    pub id: String,
    /// The intent's description or the article's title.
    pub name: String,
}

/// A group of similar unanswered questions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cluster {
    /// How many questions (no match or not solved) it holds.
    pub count: u64,
    pub no_match: u64,
    pub not_solved: u64,
    /// Up to three of its questions, the first one first.
    pub examples: Vec<String>,
    pub closest: Vec<Closest>,
}

fn words(text: &str) -> BTreeSet<String> {
    crate::text::terms(text).into_iter().collect()
}

/// Jaccard similarity of two word sets (1.0 for two empty sets).
pub fn similarity(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 1.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

/// One unanswered question, or `n` of them with the same wording, kind, intent and article
/// (what the report rollups keep), in the order they were asked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Asked<'a> {
    pub kind: CaseKind,
    pub intent: Option<&'a str>,
    pub article: Option<&'a str>,
    pub query: &'a str,
    pub n: u64,
}

impl<'a> Asked<'a> {
    pub fn one(e: &'a CaseRecord) -> Self {
        Asked {
            kind: e.kind,
            intent: e.intent.as_deref(),
            article: e.article.as_deref(),
            query: &e.query,
            n: 1,
        }
    }
}

/// Cluster the unanswered questions among `events` (no match and not solved), biggest first.
/// Questions with the same wording always land in the same cluster, so `n` of them in one
/// [`Asked`] cluster exactly as `n` separate ones would.
pub fn cluster(events: &[Asked], catalog: Option<&Catalog>) -> Vec<Cluster> {
    struct Building<'a, 'b> {
        seed: BTreeSet<String>,
        members: Vec<&'b Asked<'a>>,
    }
    let mut groups: Vec<Building> = Vec::new();
    for e in events.iter().filter(|e| matches!(e.kind, CaseKind::NoMatch | CaseKind::NotSolved)) {
        let w = words(e.query);
        match groups.iter_mut().find(|g| similarity(&g.seed, &w) >= SIMILAR) {
            Some(g) => g.members.push(e),
            None => groups.push(Building { seed: w, members: vec![e] }),
        }
    }
    let mut out: Vec<Cluster> = groups
        .into_iter()
        .map(|g| {
            let mut examples: Vec<String> = Vec::new();
            for m in &g.members {
                if examples.len() < EXAMPLES && !examples.iter().any(|x| x == m.query) {
                    examples.push(m.query.to_string());
                }
            }
            let count = |k| g.members.iter().filter(|m| m.kind == k).map(|m| m.n).sum::<u64>();
            Cluster {
                count: g.members.iter().map(|m| m.n).sum(),
                no_match: count(CaseKind::NoMatch),
                not_solved: count(CaseKind::NotSolved),
                closest: closest(&g.members, catalog),
                examples,
            }
        })
        .collect();
    // Stable: equal sizes keep first-seen order.
    out.sort_by_key(|c| std::cmp::Reverse(c.count));
    out
}

fn closest(members: &[&Asked], catalog: Option<&Catalog>) -> Vec<Closest> {
    let name_of = |kind: &'static str, id: &str| -> String {
        let found = catalog.and_then(|c| match kind {
            "intent" => c.intent(id).map(|i| i.description.clone()),
            _ => c.article(id).map(|a| a.title.clone()),
        });
        found.unwrap_or_else(|| id.to_string())
    };
    // What the employees were given and said did not solve it, most often first.
    let mut given: BTreeMap<(&'static str, &str), u64> = BTreeMap::new();
    for m in members {
        if let Some(i) = m.intent {
            *given.entry(("intent", i)).or_default() += m.n;
        }
        if let Some(a) = m.article {
            *given.entry(("article", a)).or_default() += m.n;
        }
    }
    if !given.is_empty() {
        let mut v: Vec<_> = given.into_iter().collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.1));
        return v
            .into_iter()
            .take(2)
            .map(|((kind, id), _)| Closest { kind, id: id.to_string(), name: name_of(kind, id) })
            .collect();
    }
    let (Some(catalog), Some(first)) = (catalog, members.first()) else { return Vec::new() };
    let mut out = Vec::new();
    let m = catalog.classify(first.query);
    if let Some(intent) =
        m.ranked.first().filter(|(_, s)| *s > 0.0).and_then(|(i, _)| catalog.intents.get(*i))
    {
        out.push(Closest { kind: "intent", id: intent.id.clone(), name: intent.description.clone() });
    }
    if let Some(a) = catalog.search_kb(first.query, 1).first().and_then(|h| catalog.articles.get(h.article)) {
        out.push(Closest { kind: "article", id: a.id.clone(), name: a.title.clone() });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Platform, QueueName, UserRef};

    fn ev(kind: CaseKind, query: &str, article: Option<&str>) -> CaseRecord {
        CaseRecord {
            conversation: "c".into(),
            user: UserRef::new(Platform::Console, "u"),
            kind,
            intent: None,
            article: article.map(str::to_string),
            queue: QueueName::parse("service-desk").unwrap(),
            query: query.into(),
            at: 0,
        }
    }

    #[test]
    fn similar_questions_share_a_cluster_and_name_what_they_were_given() {
        let events = [
            ev(CaseKind::NoMatch, "the coffee machine is broken", None),
            ev(CaseKind::Answered, "vpn down", None),
            ev(CaseKind::NoMatch, "coffee machine broken again", None),
            ev(CaseKind::NotSolved, "projector in room 4 shows nothing", Some("projector")),
            ev(CaseKind::NoMatch, "Coffee machine is broken!", None),
        ];
        let refs: Vec<Asked> = events.iter().map(Asked::one).collect();
        let got = cluster(&refs, None);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].count, 3);
        assert_eq!(got[0].no_match, 3);
        assert_eq!(
            got[0].examples,
            ["the coffee machine is broken", "coffee machine broken again", "Coffee machine is broken!"]
        );
        assert_eq!(got[1].count, 1);
        assert_eq!(got[1].not_solved, 1);
        assert_eq!(
            got[1].closest,
            [Closest { kind: "article", id: "projector".into(), name: "projector".into() }]
        );
    }

    #[test]
    fn jaccard_similarity_of_word_sets() {
        let a = words("printer jammed");
        let b = words("the printer is jammed again");
        assert!((similarity(&a, &b) - 2.0 / 3.0).abs() < 1e-9, "{a:?} {b:?}");
        assert_eq!(similarity(&words("vpn"), &words("printer")), 0.0);
    }
}
