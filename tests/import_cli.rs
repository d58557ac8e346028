//! `deskbot intents import` / `kb import` and the evaluation commands end to end: import small
//! JSON-lines and Rasa fixtures into a temporary directory, check it, and run the evaluations
//! with `--json`, reading back the keys other tooling depends on.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import").join(name)
}

fn deskbot(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deskbot"))
        .args(args)
        .current_dir(dir)
        .env("DESKBOT_HOT_RELOAD", "false")
        .env_remove("DESKBOT_INTENTS_DIR")
        .env_remove("DESKBOT_DATABASE_URL")
        .env_remove("DESKBOT_CONFIG")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json_of(out: &Output) -> serde_json::Value {
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stdout: {stdout}\nstderr: {}", text(&out.stderr));
    assert_eq!(stdout.trim().lines().count(), 1, "one JSON object expected: {stdout}");
    serde_json::from_str(stdout.trim()).unwrap()
}

#[test]
fn imported_jsonl_and_rasa_pass_check_and_evaluate_as_json() {
    for (format, input) in [("jsonl", "labelled.jsonl"), ("rasa", "rasa_nlu.yml")] {
        let tmp = tempfile::tempdir().unwrap();
        let out_dir = tmp.path().join("imported");
        let out = out_dir.to_str().unwrap();
        let input = fixture(input);
        let imported = deskbot(
            tmp.path(),
            &["intents", "import", "--format", format, input.to_str().unwrap(), "--out", out],
        );
        assert_eq!(imported.status.code(), Some(0), "{format}: {}", text(&imported.stderr));

        let check = deskbot(tmp.path(), &["intents", "check", "--dir", out]);
        assert_eq!(check.status.code(), Some(0), "{format}: {}{}", text(&check.stdout), text(&check.stderr));

        let oos = std::fs::read_to_string(out_dir.join("out_of_scope.toml")).unwrap();
        assert!(oos.contains("out_of_scope") && oos.contains("tell me a joke"), "{oos}");
        if format == "rasa" {
            let vpn = std::fs::read_to_string(out_dir.join("vpn_help.toml")).unwrap();
            assert!(
                vpn.contains("the GlobalProtect client will not connect") && !vpn.contains("](app)"),
                "{vpn}"
            );
            assert!(out_dir.join("printer_jam.toml").exists());
        }

        let cases = fixture("cases.jsonl");
        let args = ["intents", "test", "--intents", out, "--cases", cases.to_str().unwrap(), "--json"];
        let v = json_of(&deskbot(tmp.path(), &args));
        for key in
            ["cases", "in_scope_accuracy", "oos_recall", "oos_precision", "threshold", "p50_us", "p99_us"]
        {
            assert!(v.get(key).is_some(), "{format}: no `{key}` in {v}");
        }
        assert_eq!(v["cases"], 3);
    }
}

#[test]
fn kb_import_and_eval_report_ranking_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("kbout");
    let (arts, cases) = (fixture("articles.jsonl"), fixture("kb_cases.jsonl"));
    let (arts, cases, out) = (arts.to_str().unwrap(), cases.to_str().unwrap(), out.to_str().unwrap());
    let imported =
        deskbot(tmp.path(), &["kb", "import", "--format", "jsonl", arts, "--out", out, "--examples", cases]);
    assert_eq!(imported.status.code(), Some(0), "{}", text(&imported.stderr));
    assert!(tmp.path().join("kbout/kb/vpn-setup.md").exists());
    let check = deskbot(tmp.path(), &["intents", "check", "--dir", out]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stdout));

    let v = json_of(&deskbot(tmp.path(), &["kb", "eval", "--kb", out, "--cases", cases, "--json"]));
    for key in ["cases", "p_at_1", "mrr", "recall_at_3", "p50_us", "p99_us"] {
        assert!(v.get(key).is_some(), "no `{key}` in {v}");
    }
    assert_eq!((v["cases"].as_u64(), v["p_at_1"].as_f64()), (Some(3), Some(1.0)));
}

#[test]
fn malformed_input_is_reported_at_file_and_line_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"text\": \"ok\", \"intent\": \"a\"}\n\n{\"text\": \"no label\"}\n").unwrap();
    let out =
        deskbot(tmp.path(), &["intents", "import", "--format", "jsonl", bad.to_str().unwrap(), "--out", "o"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("bad.jsonl:3: missing field `intent`"), "{stderr}");

    let csv = tmp.path().join("bad.csv");
    std::fs::write(&csv, "text,label\nhello,greet\n").unwrap();
    let out =
        deskbot(tmp.path(), &["intents", "import", "--format", "csv", csv.to_str().unwrap(), "--out", "o"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("bad.csv:1: unknown column `label`"), "{}", text(&out.stderr));
}
