//! Matcher behaviour on a small hand-made catalog.
use super::*;
use crate::domain::{Priority, QueueName};
use crate::intents::Answer;

fn intent(id: &str, examples: &[&str], patterns: &[&str]) -> Intent {
    Intent {
        id: id.to_string(),
        description: String::new(),
        examples: examples.iter().map(|s| s.to_string()).collect(),
        patterns: patterns.iter().map(|s| s.to_string()).collect(),
        answer: Answer::Text("ok".into()),
        queue: QueueName::parse("general").unwrap_or_else(|e| panic!("{e}")),
        priority: Priority::Normal,
        slots: Vec::new(),
        threshold: None,
        file: Default::default(),
        source: "test.toml".into(),
    }
}

fn catalog() -> Vec<Intent> {
    vec![
        intent(
            "password_reset",
            &["I forgot my password", "reset my password", "my password expired", "need a new password"],
            &[],
        ),
        intent(
            "vpn_problem",
            &["vpn will not connect", "vpn keeps dropping", "cannot reach the vpn from home", "vpn error"],
            &[],
        ),
        intent(
            "printer_problem",
            &["printer is jammed", "the printer will not print", "printer out of toner", "paper jam"],
            &[],
        ),
        intent(
            "ticket_status",
            &["status of my ticket", "any update on my request"],
            &[r"(?i)\b(?P<ticket>INC\d{5,})\b"],
        ),
    ]
}

fn oos() -> Vec<String> {
    ["the coffee machine is leaking", "what is for lunch", "book me a taxi"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn name(intents: &[Intent], m: &Match) -> Option<String> {
    m.intent.map(|i| intents[i].id.clone())
}

#[test]
fn picks_the_right_intent_and_rejects_out_of_scope() {
    let intents = catalog();
    let matcher = build_matcher(&intents, &oos(), &MatcherOptions::default());
    for (text, want) in [
        ("I forgot my pasword again", Some("password_reset")),
        ("my password has expired", Some("password_reset")),
        ("the VPN won't connect from home", Some("vpn_problem")),
        ("printer jammed again", Some("printer_problem")),
        ("any update on INC0048123?", Some("ticket_status")),
        ("the coffee machine is leaking again", None),
        ("what's for lunch today", None),
        ("tell me a joke", None),
        ("asdfgh", None),
        ("", None),
        ("!!!", None),
    ] {
        let m = matcher.classify(text);
        assert_eq!(name(&intents, &m).as_deref(), want, "{text:?}: {m:?}");
        assert!((0.0..=1.0).contains(&m.confidence), "{text:?}: {m:?}");
    }
}

#[test]
fn a_pattern_hit_wins_with_full_confidence_and_named_captures() {
    let intents = catalog();
    let matcher = build_matcher(&intents, &[], &MatcherOptions::default());
    let m = matcher.classify("printer broken, see INC0012345");
    assert_eq!(name(&intents, &m).as_deref(), Some("ticket_status"));
    assert_eq!(m.confidence, 1.0);
    assert_eq!(m.captures, vec![("ticket".to_string(), "INC0012345".to_string())]);
    assert_eq!(m.ranked.first(), Some(&(3, 1.0)));
}

#[test]
fn ranked_holds_candidates_below_the_threshold_best_first() {
    let intents = catalog();
    let strict =
        build_matcher(&intents, &[], &MatcherOptions { threshold: 0.99, ..MatcherOptions::default() });
    let m = strict.classify("printing trouble");
    assert_eq!(m.intent, None);
    assert_eq!(m.ranked.first().map(|r| r.0), Some(2));
    assert!(m.ranked.windows(2).all(|w| w[0].1 >= w[1].1), "{:?}", m.ranked);
    assert_eq!(strict.threshold(), 0.99);
}

#[test]
fn bad_patterns_are_skipped_and_an_empty_catalog_matches_nothing() {
    let mut intents = catalog();
    intents[0].patterns.push("(unclosed".into());
    let matcher = build_matcher(&intents, &[], &MatcherOptions::default());
    assert_eq!(name(&intents, &matcher.classify("reset my password")).as_deref(), Some("password_reset"));
    let empty = build_matcher(&[], &[], &MatcherOptions::default());
    assert_eq!(empty.classify("anything"), Match::default());
}

#[test]
fn an_intent_threshold_overrides_the_catalog_threshold() {
    let mut intents = catalog();
    let lenient = build_matcher(&intents, &oos(), &MatcherOptions::default());
    let text = "my password expired";
    let m = lenient.classify(text);
    assert_eq!(name(&intents, &m).as_deref(), Some("password_reset"), "{m:?}");
    assert!(m.confidence < 1.0, "{m:?}");
    intents[0].threshold = Some(1.0);
    let strict = build_matcher(&intents, &oos(), &MatcherOptions::default());
    let m = strict.classify(text);
    assert_eq!(m.intent, None, "{m:?}");
    assert_eq!(m.ranked.first().map(|r| r.0), Some(0));
    // Other intents keep the catalog's threshold.
    assert_eq!(name(&intents, &strict.classify("vpn keeps dropping")).as_deref(), Some("vpn_problem"));
}

#[test]
fn close_runners_up_make_a_match_ambiguous_within_the_margin_only() {
    let intents = catalog();
    let text = "printer and vpn both broken";
    let wide = MatcherOptions { threshold: 0.0, ambiguity_margin: 1.0, ..MatcherOptions::default() };
    let m = build_matcher(&intents, &[], &wide).classify(text);
    assert!(m.intent.is_some() && m.ambiguous && m.ranked.len() >= 2, "{m:?}");
    let off = MatcherOptions { threshold: 0.0, ambiguity_margin: 0.0, ..MatcherOptions::default() };
    assert!(!build_matcher(&intents, &[], &off).classify(text).ambiguous);
    // A clear message is not ambiguous at the default margin, nor is a pattern hit.
    let default = build_matcher(&intents, &[], &MatcherOptions::default());
    assert!(!default.classify("I forgot my password").ambiguous);
    let m = build_matcher(&intents, &[], &wide).classify("vpn down, see INC0012345");
    assert!(!m.ambiguous && m.confidence == 1.0, "{m:?}");
}

#[test]
fn the_out_of_scope_class_never_routes_and_verdicts_are_deterministic() {
    let intents = catalog();
    let a = build_matcher(&intents, &oos(), &MatcherOptions::default());
    let b = build_matcher(&intents, &oos(), &MatcherOptions::default());
    for text in ["the coffee machine is leaking", "book me a taxi now", "vpn error", "pasword reset", ""] {
        let (ma, mb) = (a.classify(text), b.classify(text));
        assert_eq!(ma, mb, "{text:?}");
        assert!(ma.ranked.iter().all(|&(i, _)| i < intents.len()), "{text:?}: {ma:?}");
        assert!(ma.intent.is_none_or(|i| i < intents.len()));
    }
}

#[test]
fn explain_shows_scores_the_pattern_and_what_drove_each_candidate() {
    let intents = catalog();
    let matcher = build_matcher(&intents, &oos(), &MatcherOptions::default());
    let e = matcher.explain("my vpn keeps dropping");
    assert_eq!(e.verdict, matcher.classify("my vpn keeps dropping"));
    let top = &e.candidates[0];
    assert_eq!(intents[top.intent].id, "vpn_problem");
    assert!(top.features.iter().any(|(f, w)| f.contains("vpn") && *w > 0.0), "{top:?}");
    assert_eq!(top.nearest.first().map(|n| n.0.as_str()), Some("vpn keeps dropping"));
    assert!(top.pattern.is_none());
    let e = matcher.explain("update on INC0012345 please");
    assert_eq!(e.candidates[0].pattern.as_deref(), Some(r"(?i)\b(?P<ticket>INC\d{5,})\b"));
    assert_eq!(e.candidates[0].score, 1.0);
}
