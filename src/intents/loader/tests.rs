//! Loader diagnostics: each kind of problem, at the right `file:line:col`.
use super::*;
use std::fs;

const INTENT: &str = r#"[[intent]]
id = "vpn_issue"
description = "VPN trouble"
examples = ["vpn not connecting", "cannot reach the vpn"]
answer = "kb:vpn"
queue = "network"
"#;

const ARTICLE: &str = "+++\nid = \"vpn\"\ntitle = \"Connect to the VPN\"\n+++\nOpen the VPN app.\n";

fn queues() -> Vec<QueueName> {
    ["network", "identity", "hardware"].iter().filter_map(|q| QueueName::parse(q).ok()).collect()
}

/// A valid directory, then `files` written over it (relative path, contents).
fn dir_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let base: [(&str, &[u8]); 3] = [
        ("network.toml", INTENT.as_bytes()),
        ("kb/vpn.md", ARTICLE.as_bytes()),
        ("tests/network.toml", b"[[case]]\ntext = \"vpn down\"\nintent = \"vpn_issue\"\n"),
    ];
    for (name, text) in base.iter().chain(files) {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(path, text).expect("write");
    }
    dir
}

fn problems(dir: &Path) -> Vec<String> {
    let prefix = format!("{}/", dir.display());
    check(dir, &queues()).0.iter().map(|d| d.to_string().replace(&prefix, "")).collect()
}

fn intent_with(extra: &str) -> String {
    format!(
        "[[intent]]\nid = \"other\"\nexamples = [\"x\"]\nanswer = \"Try again.\"\nqueue = \"network\"\n{extra}"
    )
}

#[test]
fn valid_directory_loads_with_everything_in_it() {
    let dir = dir_with(&[]);
    let catalog = load_catalog(dir.path(), &queues(), &LoadOptions::default()).map_err(|d| d.to_string());
    let counts = catalog.as_ref().map(|c| (c.intents.len(), c.articles.len(), c.cases.len()));
    assert_eq!(counts, Ok((1, 1, 1)));
}

#[test]
fn each_problem_is_reported_at_its_line_and_column() {
    let big = vec![b'#'; (MAX_FILE_BYTES + 1) as usize];
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("a.toml", b"[[intent]]\nid = \"x\n".to_vec(), "a.toml:2:"),
        (
            "a.toml",
            intent_with("colour = \"red\"\n").into_bytes(),
            "a.toml:6:1: unknown field `colour`, expected one of",
        ),
        (
            "a.toml",
            intent_with("patterns = ['(?i)(unclosed']\n").into_bytes(),
            "a.toml:6:13: bad regex in `patterns`: unclosed group",
        ),
        (
            "z.toml",
            INTENT.as_bytes().to_vec(),
            "z.toml:2:6: duplicate intent id `vpn_issue` (first defined at network.toml:1)",
        ),
        (
            "a.toml",
            intent_with("").replace("Try again.", "kb:vnp").into_bytes(),
            "a.toml:4:10: answer points at missing article `vnp` (did you mean `vpn`?)",
        ),
        (
            "a.toml",
            intent_with("").replace("\"network\"", "\"netwrk\"").into_bytes(),
            "a.toml:5:9: unknown queue `netwrk` (known: hardware, identity, network)",
        ),
        (
            "a.toml",
            intent_with("priority = \"asap\"\n").into_bytes(),
            "a.toml:6:12: unknown priority `asap` (known: low, normal, high, urgent)",
        ),
        (
            "a.toml",
            intent_with("file = \"sometimes\"\n").into_bytes(),
            "a.toml:6:8: file must be \"always\" or \"on_request\", not `sometimes`",
        ),
        (
            "a.toml",
            intent_with("file = \"always\"\n[[intent.slot]]\nname = \"device\"\nask = \"Which?\"\n")
                .into_bytes(),
            "a.toml:6:8: file = \"always\" files the ticket at once, so it cannot ask",
        ),
        (
            "a.toml",
            intent_with("threshold = 1.5\n").into_bytes(),
            "a.toml:6:13: threshold must be between 0 and 1, not 1.5",
        ),
        (
            "a.toml",
            intent_with("").replace("[\"x\"]", "[]").into_bytes(),
            "a.toml:3:12: intent `other` has no examples",
        ),
        (
            "a.toml",
            intent_with("").replace("\"other\"", "\"\"").into_bytes(),
            "a.toml:2:6: intent id is empty",
        ),
        (
            "a.toml",
            intent_with("[[intent.slot]]\nname = \"device\"\n").into_bytes(),
            "a.toml:6:1: slot `device` has no `ask`",
        ),
        (
            "a.toml",
            intent_with("[[intent.slot]]\nname = \"d\"\nask = \"?\"\npattern = '['\n").into_bytes(),
            "a.toml:9:11: bad regex in `pattern`: unclosed character class",
        ),
        (
            "tests/t.toml",
            b"[[case]]\ntext = \"hi\"\nintent = \"vpn_isue\"\n".to_vec(),
            "tests/t.toml:3:10: test case names unknown intent `vpn_isue` (did you mean `vpn_issue`?)",
        ),
        ("a.toml", b"[[intent]]\nid = \"\xff\"\n".to_vec(), "a.toml:2:7: file is not valid UTF-8"),
        ("big.toml", big, "big.toml: file is 1048577 bytes, over the 1 MiB limit"),
        (
            "kb/x.md",
            ARTICLE.replace("Connect", "Other").into_bytes(),
            "kb/x.md:2:6: duplicate article id `vpn` (first defined at kb/vpn.md:2)",
        ),
        (
            "kb/bad.md",
            b"+++\nid = \"x\"\ntitle = \"T\"\ntags = \"net\"\n+++\n".to_vec(),
            "kb/bad.md:4:8: invalid type: string \"net\", expected a sequence",
        ),
        ("a.toml", b"out_of_scope = [\"\"]\n".to_vec(), "a.toml:1:17: empty message in `out_of_scope`"),
        (
            "a.toml",
            intent_with("").replace("\"other\"", "\"none\"").into_bytes(),
            "a.toml:2:6: intent id `none` is reserved",
        ),
    ];
    for (file, text, want) in cases {
        let dir = dir_with(&[(file, &text)]);
        let got = problems(dir.path());
        assert!(got.iter().any(|g| g.starts_with(want)), "{file}: want {want:?}, got {got:#?}");
    }
}

#[test]
fn every_problem_is_collected_not_just_the_first() {
    let bad = intent_with("priority = \"asap\"\npatterns = ['(']\n").replace("\"network\"", "\"netwrk\"");
    let dir = dir_with(&[("a.toml", bad.as_bytes()), ("b.toml", b"not toml at all")]);
    let got = problems(dir.path());
    assert_eq!(got.len(), 4, "{got:#?}");
    assert!(got[0].starts_with("a.toml:5:9: unknown queue"), "{got:#?}");
    assert!(got[3].starts_with("b.toml:1:"), "sorted by file: {got:#?}");
}

#[test]
fn missing_directory_gives_one_clear_diagnostic() {
    let got = problems(Path::new("/nonexistent/intents"));
    assert_eq!(
        got,
        [
            "/nonexistent/intents: intents directory not found (expected *.toml intents, kb/*.md articles, tests/*.toml cases)"
        ]
    );
}

#[test]
fn out_of_scope_lists_and_test_cases_are_loaded() {
    let dir = dir_with(&[
        ("misc.toml", b"out_of_scope = [\"the coffee machine is leaking\", \"what's for lunch\"]\n"),
        ("tests/more.toml", b"[[case]]\ntext = \"lunch?\"\nintent = \"none\"\n"),
    ]);
    let src = load_sources(dir.path(), &queues()).map_err(|d| d.to_string());
    let got = src
        .as_ref()
        .map(|s| (s.out_of_scope.len(), s.cases.iter().map(|c| c.intent.clone()).collect::<Vec<_>>()));
    assert_eq!(got, Ok((2, vec![None, Some("vpn_issue".to_string())])));
}

#[test]
fn empty_known_queues_skips_the_queue_check() {
    let dir = dir_with(&[("a.toml", intent_with("").replace("\"network\"", "\"anything\"").as_bytes())]);
    assert!(check(dir.path(), &[]).0.is_empty());
}

#[test]
fn an_intent_may_ask_to_be_filed_at_once() {
    let dir = dir_with(&[("a.toml", intent_with("file = \"always\"\n").as_bytes())]);
    let src = load_sources(dir.path(), &queues()).map_err(|d| d.to_string());
    let file =
        |id: &str| src.as_ref().ok().and_then(|s| s.intents.iter().find(|i| i.id == id).map(|i| i.file));
    assert_eq!(file("other"), Some(crate::intents::FileWhen::Always));
    assert_eq!(file("vpn_issue"), Some(crate::intents::FileWhen::OnRequest), "the default");
}

#[test]
fn an_intent_may_set_its_own_threshold() {
    let dir = dir_with(&[("a.toml", intent_with("threshold = 0.8\n").as_bytes())]);
    let src = load_sources(dir.path(), &queues()).map_err(|d| d.to_string());
    let other = src.as_ref().map(|s| s.intents.iter().find(|i| i.id == "other").map(|i| i.threshold));
    assert_eq!(other, Ok(Some(Some(0.8))));
}
