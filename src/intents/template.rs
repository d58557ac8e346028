//! `{slot}` placeholders in inline answers (stub).
pub fn fill(template: &str, _values: &[(String, String)]) -> String {
    template.to_string()
}
