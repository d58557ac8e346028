//! `{slot}` placeholders in inline answers (interim).
pub fn fill(template: &str, values: &[(String, String)]) -> String {
    let mut out = template.to_string();
    for (k, v) in values {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}
