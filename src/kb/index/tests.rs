//! KB search on a few hand-made articles.
use super::*;
use std::path::PathBuf;

fn article(id: &str, title: &str, tags: &[&str], examples: &[&str], body: &str) -> Article {
    Article {
        id: id.into(),
        title: title.into(),
        tags: tags.iter().map(|s| s.to_string()).collect(),
        examples: examples.iter().map(|s| s.to_string()).collect(),
        body: body.into(),
        source: PathBuf::from(format!("kb/{id}.md")),
    }
}

fn articles() -> Vec<Article> {
    vec![
        article(
            "vpn",
            "Connect to the VPN",
            &["network", "remote"],
            &["vpn keeps disconnecting", "how do I connect to the vpn"],
            "Open the Company VPN client and click Connect. Working from home needs the VPN for internal sites.",
        ),
        article(
            "laptop-fault",
            "Laptop hardware faults",
            &["hardware"],
            &["laptop won't turn on", "spilled coffee on my laptop"],
            "If you spilled coffee or water on the keyboard, switch the laptop off and unplug it.",
        ),
        article(
            "printer",
            "Printer problems",
            &["printing"],
            &["printer is jammed", "paper jam"],
            "Open the front panel and remove the jammed paper. Floor printers are named by floor.",
        ),
    ]
}

#[test]
fn finds_relevant_articles_and_offers_nothing_for_off_topic_questions() {
    let arts = articles();
    let index = build_index(&arts);
    let offered = |q: &str| -> Vec<&str> {
        index
            .search(q, 3)
            .iter()
            .filter(|h| h.score >= index.min_score())
            .map(|h| arts[h.article].id.as_str())
            .collect()
    };
    for (query, want) in [
        ("how do I connect to the vpn from home", Some("vpn")),
        ("vpn connection keeps disconnecting", Some("vpn")),
        ("paper stuck in the printer on floor 2", Some("printer")),
        ("I spilled tea on my laptop", Some("laptop-fault")),
        ("the coffee machine on floor 3 is leaking", None),
        ("what's for lunch", None),
        ("", None),
    ] {
        let got = offered(query);
        match want {
            Some(id) => assert_eq!(got.first().copied(), Some(id), "{query:?}: {got:?}"),
            None => assert!(got.is_empty(), "{query:?} offered {got:?}"),
        }
    }
}

#[test]
fn hits_are_best_first_capped_at_k_and_scores_in_range() {
    let arts = articles();
    let index = build_index_with(&arts, Some(0.5));
    assert_eq!(index.min_score(), 0.5);
    let hits = index.search("laptop printer vpn", 2);
    assert_eq!(hits.len(), 2);
    assert!(hits[0].score >= hits[1].score);
    assert!(hits.iter().all(|h| (0.0..=1.0).contains(&h.score)));
    assert!(build_index(&[]).search("vpn", 3).is_empty());
}
