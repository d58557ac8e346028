use super::RedactRule;
use super::*;
use std::collections::BTreeMap;

fn redactor(ip_addresses: bool) -> Redactor {
    Redactor::new(&RedactConfig {
        enabled: true,
        rules: vec![RedactRule { name: "employee-id".into(), pattern: r"\bE\d{6}\b".into() }],
        ip_addresses,
    })
}

#[test]
fn redacts_pii_and_keeps_the_rest() {
    let r = redactor(false);
    let table = [
        ("mail me at jane.doe@example.com please", "mail me at [email] please"),
        ("card 4111 1111 1111 1111 was charged", "card [card] was charged"),
        ("order 1234567890123 is late", "order 1234567890123 is late"),
        ("my password is hunter2 ok", "my password is [secret] ok"),
        ("my password is expired", "my password is expired"),
        ("token xoxb-1234567890-abcdefghij leaked", "token [token] leaked"),
        ("call me on +44 20 7946 0958", "call me on [phone]"),
        ("ssn 123-45-6789", "ssn [ssn]"),
        ("ring 555-123-4567 now", "ring [phone] now"),
        ("since 2024-01-15 it fails", "since 2024-01-15 it fails"),
        ("I am E123456", "I am [employee-id]"),
        ("my vpn keeps dropping", "my vpn keeps dropping"),
        ("laptop LT-01234 broke", "laptop LT-01234 broke"),
        ("iban DE89 3704 0044 0532 0130 00 OK", "iban [iban] OK"),
        ("iban DE00 3704 0044 0532 0130 00", "iban DE00 3704 0044 0532 0130 00"),
        ("server 10.0.0.1 is down", "server 10.0.0.1 is down"),
    ];
    for (input, want) in table {
        assert_eq!(r.redact(input), want, "{input}");
    }
    assert_eq!(redactor(true).redact("server 10.0.0.1 is down"), "server [ip] is down");
    assert_eq!(Redactor::disabled().redact("a@b.co"), "a@b.co");
}

/// Placeholders (`[card]`, …) in a text, counted by type.
fn placeholders(text: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let re = Regex::new(r"\[(secret|token|email|iban|card|ssn|ip|phone|employee-id)\]")
        .unwrap_or_else(|_| unreachable!());
    for c in re.captures_iter(text) {
        *out.entry(c[1].to_string()).or_insert(0) += 1;
    }
    out
}

#[test]
fn corpus_precision_and_recall_are_at_least_98_percent() {
    let corpus = include_str!("../../tests/fixtures/redaction_corpus.tsv");
    let r = redactor(true);
    let (mut tp, mut fp, mut fn_, mut lines, mut exact) = (0usize, 0usize, 0usize, 0usize, 0usize);
    let mut misses = Vec::new();
    for (n, line) in corpus.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (input, want) = line.split_once('\t').unwrap_or_else(|| panic!("line {}: no tab", n + 1));
        lines += 1;
        let got = r.redact(input);
        if got == want {
            exact += 1;
        } else {
            misses.push(format!("  line {}: {input:?}\n    want {want:?}\n    got  {got:?}", n + 1));
        }
        let (w, g) = (placeholders(want), placeholders(&got));
        for k in w.keys().chain(g.keys()).collect::<std::collections::BTreeSet<_>>() {
            let (a, b) = (w.get(k).copied().unwrap_or(0), g.get(k).copied().unwrap_or(0));
            tp += a.min(b);
            fn_ += a.saturating_sub(b);
            fp += b.saturating_sub(a);
        }
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / (tp + fn_).max(1) as f64;
    println!(
        "redaction corpus: {lines} lines, {exact} exact; precision {precision:.4} ({tp} TP, {fp} FP), recall {recall:.4} ({fn_} FN)"
    );
    for m in &misses {
        println!("{m}");
    }
    assert!(lines >= 200, "the corpus needs at least 200 lines, has {lines}");
    assert!(precision >= 0.98, "precision {precision:.4} < 0.98");
    assert!(recall >= 0.98, "recall {recall:.4} < 0.98");
}
