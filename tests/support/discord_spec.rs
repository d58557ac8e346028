//! Checks REST traffic against Discord's official OpenAPI spec (`tests/fixtures/specs/discord/`,
//! JSON Schema 2020-12): each request body deskbot sent and each answer the fake gave, for the
//! routes the spec describes.

use super::fake_discord::Call;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = std::env::var("DESKBOT_DISCORD_SPEC").unwrap_or_else(|_| {
            format!("{}/tests/fixtures/specs/discord/openapi.json", env!("CARGO_MANIFEST_DIR"))
        });
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("Discord's OpenAPI spec is needed at {path} (or DESKBOT_DISCORD_SPEC): {e}")
        });
        serde_json::from_str(&text).expect("the spec is JSON")
    })
}

/// A validator for `schema`, whose `$ref`s point into the spec document.
fn validator(schema: &Value) -> jsonschema::Validator {
    let mut root = json!({ "components": spec()["components"].clone() });
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root["allOf"] = json!([schema]);
    jsonschema::draft202012::new(&root).expect("spec schemas compile")
}

fn validate(
    cache: &mut HashMap<String, jsonschema::Validator>,
    key: String,
    schema: &Value,
    v: &Value,
) -> Vec<String> {
    let val = cache.entry(key).or_insert_with(|| validator(schema));
    val.iter_errors(v).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

/// The spec's path template matching a concrete path (`/channels/1/messages`).
fn template(path: &str) -> Option<&'static str> {
    let segs: Vec<&str> = path.split('/').collect();
    spec()["paths"]
        .as_object()?
        .keys()
        .find(|t| {
            let ts: Vec<&str> = t.split('/').collect();
            ts.len() == segs.len()
                && ts.iter().zip(&segs).all(|(a, b)| (a.starts_with('{') && a.ends_with('}')) || a == b)
        })
        .map(String::as_str)
}

pub fn check(calls: &[Call]) -> Vec<String> {
    static CACHE: OnceLock<Mutex<HashMap<String, jsonschema::Validator>>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    let mut problems = Vec::new();
    for c in calls {
        let path = c.path.trim_start_matches("/api/v10");
        let Some(t) = template(path) else {
            problems.push(format!("{} {path}: not a route in Discord's spec", c.method));
            continue;
        };
        let method = c.method.to_lowercase();
        let Some(op) = spec()["paths"][t].get(&method) else {
            problems.push(format!("{} {t}: method not in Discord's spec", c.method));
            continue;
        };
        if let Some(schema) = op.pointer("/requestBody/content/application~1json/schema")
            && !c.body.is_null()
        {
            for e in validate(&mut cache, format!("req {method} {t}"), schema, &c.body) {
                problems.push(format!("request {} {path}: {e}", c.method));
            }
        }
        let status = c.status.to_string();
        let class = format!("{}XX", &status[..1]);
        let resp = op["responses"].get(&status).or_else(|| op["responses"].get(&class));
        match resp {
            None => problems.push(format!("{} {t}: status {status} not documented", c.method)),
            Some(r) => {
                if let Some(schema) = r.pointer("/content/application~1json/schema")
                    && c.status < 300
                {
                    for e in validate(&mut cache, format!("resp {method} {t} {status}"), schema, &c.response)
                    {
                        problems.push(format!("response {} {path}: {e}", c.method));
                    }
                }
            }
        }
    }
    problems
}
