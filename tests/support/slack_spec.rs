//! Checks against Slack's published Web API spec (`tests/fixtures/specs/slack/`, Swagger 2.0 with
//! draft-4 schemas): every successful answer the fake gave must validate against the method's
//! response schema, and every parameter deskbot sent must be one the method takes, with the
//! required ones present.
#![allow(dead_code)]

use super::fake_slack::Call;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = std::env::var("DESKBOT_SLACK_OPENAPI").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/specs/slack/slack_web_openapi_v2.json")
                .to_string()
        });
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("Slack's OpenAPI spec is needed at {path} (or DESKBOT_SLACK_OPENAPI): {e}")
        });
        serde_json::from_str(&text).expect("the spec is JSON")
    })
}

fn operation(method: &str) -> Option<&'static Value> {
    let path = spec()["paths"].get(format!("/{method}"))?;
    path.get("post").or_else(|| path.get("get"))
}

fn validate(method: &str, response: &Value) -> Vec<String> {
    static CACHE: OnceLock<Mutex<HashMap<String, jsonschema::Validator>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap();
    if !cache.contains_key(method) {
        let Some(op) = operation(method) else { return Vec::new() };
        let mut schema = op["responses"]["200"]["schema"].clone();
        schema["definitions"] = spec()["definitions"].clone();
        let v = jsonschema::draft4::new(&schema).unwrap_or_else(|e| panic!("schema of {method}: {e}"));
        cache.insert(method.to_string(), v);
    }
    cache[method].iter_errors(response).map(|e| format!("{method}: {} at {}", e, e.instance_path())).collect()
}

/// Parameters Slack added after this spec was published (message metadata, 2022:
/// docs.slack.dev/messaging/message-metadata; `include_all_metadata` on conversations.history
/// and conversations.replies).
fn newer_than_spec(method: &str, param: &str) -> bool {
    matches!(
        (method, param),
        ("chat.postMessage", "metadata")
            | ("conversations.history", "include_all_metadata")
            | ("conversations.replies", "include_all_metadata")
    )
}

/// Panic with every mismatch between the recorded calls and Slack's spec.
pub fn assert_calls_match_spec(calls: &[Call]) {
    let mut problems = Vec::new();
    let mut checked = 0;
    for c in calls {
        let Some(op) = operation(&c.method) else { continue };
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let known: Vec<&str> = params.iter().filter_map(|p| p["name"].as_str()).collect();
        if let Some(sent) = c.params.as_object() {
            for k in sent.keys().filter(|k| *k != "token") {
                if !known.contains(&k.as_str()) && !newer_than_spec(&c.method, k) {
                    problems
                        .push(format!("{}: deskbot sent `{k}`, which the method does not take", c.method));
                }
            }
        }
        for p in &params {
            let name = p["name"].as_str().unwrap_or("");
            if p["required"] == true && name != "token" && c.params.get(name).is_none() {
                problems.push(format!("{}: required `{name}` missing", c.method));
            }
        }
        // Messages with metadata (and empty listings) are newer than the spec's message schema.
        let newer = c.params.get("include_all_metadata").is_some();
        if c.status == 200 && c.response["ok"] == true && !newer {
            problems.extend(validate(&c.method, &c.response));
            checked += 1;
        }
    }
    assert!(problems.is_empty(), "calls that do not match Slack's spec:\n{}", problems.join("\n"));
    assert!(checked > 0, "no successful call was checked");
}
