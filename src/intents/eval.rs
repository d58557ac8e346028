//! Running test cases (interim).
use super::{Catalog, TestCase};
#[derive(serde::Serialize)]
pub struct EvalReport {
    pub cases: usize,
}
impl EvalReport {
    pub fn render_text(&self) -> String {
        format!("{} cases\n", self.cases)
    }
}
pub fn evaluate(_c: &Catalog, cases: &[TestCase]) -> EvalReport {
    EvalReport { cases: cases.len() }
}
