//! Semantic checks of intents and test files, after TOML parsing: empty or duplicate ids,
//! regexes that do not compile, `kb:` answers naming missing articles, unknown queues and
//! priorities, slots without a question, test cases naming unknown intents. Each problem is
//! placed at the `line:col` of the value at fault.
use super::format::{CaseDef, IntentDef, IntentFile, NONE_INTENT, SlotDef, TestFile};
use super::spans::{SourceMap, near_names, regex_error_text};
use super::{Answer, Diagnostic, FileWhen, Intent, Slot, TestCase};
use crate::domain::{Priority, QueueName};
use crate::kb::article::valid_id;
use regex::Regex;
use std::collections::HashMap;
use toml::Spanned;

pub struct Validator<'q> {
    known_queues: &'q [QueueName],
    article_ids: Vec<String>,
    intents: Vec<Intent>,
    /// Intent id → where it was first defined (`file:line`).
    defined_at: HashMap<String, String>,
    out_of_scope: Vec<String>,
    cases: Vec<TestCase>,
    diags: Vec<Diagnostic>,
}

impl<'q> Validator<'q> {
    pub fn new(known_queues: &'q [QueueName], article_ids: Vec<String>) -> Self {
        Self {
            known_queues,
            article_ids,
            intents: Vec::new(),
            defined_at: HashMap::new(),
            out_of_scope: Vec::new(),
            cases: Vec::new(),
            diags: Vec::new(),
        }
    }

    pub fn finish(self) -> (Vec<Intent>, Vec<String>, Vec<TestCase>, Vec<Diagnostic>) {
        (self.intents, self.out_of_scope, self.cases, self.diags)
    }

    /// A request-catalog item id test cases may name.
    pub fn known_item(&mut self, id: &str, source: &std::path::Path) {
        self.defined_at.entry(id.to_string()).or_insert_with(|| source.display().to_string());
    }

    /// Intent ids read so far, with where each was defined (`file:line`).
    pub fn defined_ids(&self) -> Vec<(String, String)> {
        self.defined_at.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    pub fn intent_file(&mut self, map: &SourceMap<'_>) {
        let file: IntentFile = match toml::from_str(map.text) {
            Ok(f) => f,
            Err(e) => return self.diags.push(map.toml_error(&e, 0)),
        };
        for msg in file.out_of_scope {
            match non_empty(&msg) {
                Some(text) => self.out_of_scope.push(text.to_string()),
                None => self.diags.push(map.at(&msg.span(), "empty message in `out_of_scope`")),
            }
        }
        for def in file.intent {
            let span = def.span();
            if let Some(intent) = self.intent(map, span, def.into_inner()) {
                self.intents.push(intent);
            }
        }
    }

    pub fn test_file(&mut self, map: &SourceMap<'_>) {
        let file: TestFile = match toml::from_str(map.text) {
            Ok(f) => f,
            Err(e) => return self.diags.push(map.toml_error(&e, 0)),
        };
        for case in file.case {
            let CaseDef { text, intent } = case.into_inner();
            if non_empty(&text).is_none() {
                self.diags.push(map.at(&text.span(), "test case text is empty"));
                continue;
            }
            let wanted = intent.get_ref().trim();
            let intent_id = if wanted == NONE_INTENT {
                None
            } else if self.defined_at.contains_key(wanted) {
                Some(wanted.to_string())
            } else {
                let near = near_names(wanted, self.intents.iter().map(|i| i.id.as_str()));
                let hint = if near.is_empty() {
                    "use an intent id or \"none\"".to_string()
                } else {
                    format!("did you mean {}?", quoted(&near))
                };
                self.diags.push(
                    map.at(&intent.span(), format!("test case names unknown intent `{wanted}` ({hint})")),
                );
                continue;
            };
            let (line, _) = map.line_col(text.span().start);
            let source = format!("{}:{line}", map.path.display());
            self.cases.push(TestCase { text: text.into_inner(), intent: intent_id, source });
        }
    }

    fn intent(
        &mut self,
        map: &SourceMap<'_>,
        span: std::ops::Range<usize>,
        def: IntentDef,
    ) -> Option<Intent> {
        let before = self.diags.len();
        let id = def.id.get_ref().trim().to_string();
        if id.is_empty() {
            self.diags.push(map.at(&def.id.span(), "intent id is empty"));
        } else if !valid_id(&id) {
            let msg = format!("intent id `{id}` may only hold lowercase letters, digits, `-` and `_`");
            self.diags.push(map.at(&def.id.span(), msg));
        } else if id == NONE_INTENT {
            self.diags
                .push(map.at(&def.id.span(), "intent id `none` is reserved (it means \"go to a person\")"));
        } else if let Some(first) = self.defined_at.get(&id) {
            self.diags.push(
                map.at(&def.id.span(), format!("duplicate intent id `{id}` (first defined at {first})")),
            );
        } else {
            let (line, _) = map.line_col(span.start);
            self.defined_at.insert(id.clone(), format!("{}:{line}", map.path.display()));
        }
        if def.examples.get_ref().is_empty() {
            let msg = format!("intent `{id}` has no examples: add a few messages people would write");
            self.diags.push(map.at(&def.examples.span(), msg));
        }
        for ex in def.examples.get_ref() {
            if non_empty(ex).is_none() {
                self.diags.push(map.at(&ex.span(), "empty example"));
            }
        }
        for p in &def.patterns {
            self.regex(map, p, "patterns");
        }
        let answer = self.answer(map, &def.answer);
        let queue = self.queue(map, &def.queue);
        let priority = match &def.priority {
            None => Some(Priority::default()),
            Some(p) => {
                p.get_ref().parse::<Priority>().map_err(|e| self.diags.push(map.at(&p.span(), e))).ok()
            }
        };
        let threshold = def.threshold.as_ref().map(|t| *t.get_ref());
        if let Some(t) = &def.threshold
            && !(0.0..=1.0).contains(t.get_ref())
        {
            let msg = format!("threshold must be between 0 and 1, not {}", t.get_ref());
            self.diags.push(map.at(&t.span(), msg));
        }
        let mut slots: Vec<Slot> = Vec::new();
        for s in def.slot {
            let span = s.span();
            if let Some(slot) = self.slot(map, span, s.into_inner(), &slots) {
                slots.push(slot);
            }
        }
        let file = match &def.file {
            None => FileWhen::default(),
            Some(f) => f.get_ref().parse::<FileWhen>().unwrap_or_else(|e| {
                self.diags.push(map.at(&f.span(), e));
                FileWhen::default()
            }),
        };
        if let Some(f) = &def.file
            && file == FileWhen::Always
            && !slots.is_empty()
        {
            let msg = "file = \"always\" files the ticket at once, so it cannot ask `[[intent.slot]]` \
                       questions: remove the slots or the setting";
            self.diags.push(map.at(&f.span(), msg));
        }
        if self.diags.len() > before {
            return None;
        }
        Some(Intent {
            id,
            description: def.description,
            examples: def.examples.into_inner().into_iter().map(Spanned::into_inner).collect(),
            patterns: def.patterns.into_iter().map(Spanned::into_inner).collect(),
            answer: answer?,
            queue: queue?,
            priority: priority?,
            slots,
            threshold,
            file,
            source: map.path.to_path_buf(),
        })
    }

    fn regex(&mut self, map: &SourceMap<'_>, p: &Spanned<String>, key: &str) -> Option<Regex> {
        Regex::new(p.get_ref())
            .map_err(|e| {
                self.diags.push(map.at(&p.span(), format!("bad regex in `{key}`: {}", regex_error_text(&e))))
            })
            .ok()
    }

    fn answer(&mut self, map: &SourceMap<'_>, answer: &Spanned<String>) -> Option<Answer> {
        let text = answer.get_ref().trim();
        let Some(article) = text.strip_prefix("kb:").map(str::trim) else {
            if text.is_empty() {
                self.diags
                    .push(map.at(&answer.span(), "answer is empty: use `kb:ARTICLE-ID` or write the reply"));
                return None;
            }
            return Some(Answer::Text(text.to_string()));
        };
        if self.article_ids.iter().any(|a| a == article) {
            return Some(Answer::Article(article.to_string()));
        }
        let msg = if article.is_empty() {
            "answer `kb:` names no article".to_string()
        } else if self.article_ids.is_empty() {
            format!("answer points at missing article `{article}` (there are no articles in kb/)")
        } else {
            let near = near_names(article, self.article_ids.iter().map(String::as_str));
            let hint = if near.is_empty() {
                "no article id is close".to_string()
            } else {
                format!("did you mean {}?", quoted(&near))
            };
            format!("answer points at missing article `{article}` ({hint})")
        };
        self.diags.push(map.at(&answer.span(), msg));
        None
    }

    fn queue(&mut self, map: &SourceMap<'_>, queue: &Spanned<String>) -> Option<QueueName> {
        let name = queue.get_ref().trim();
        let parsed = QueueName::parse(name).map_err(|e| self.diags.push(map.at(&queue.span(), e))).ok()?;
        if self.known_queues.is_empty() || self.known_queues.contains(&parsed) {
            return Some(parsed);
        }
        let mut known: Vec<&str> = self.known_queues.iter().map(QueueName::as_str).collect();
        known.sort_unstable();
        let msg = format!("unknown queue `{name}` (known: {})", known.join(", "));
        self.diags.push(map.at(&queue.span(), msg));
        None
    }

    fn slot(
        &mut self,
        map: &SourceMap<'_>,
        span: std::ops::Range<usize>,
        s: SlotDef,
        earlier: &[Slot],
    ) -> Option<Slot> {
        let name = s.name.get_ref().trim().to_string();
        let name_ok = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-');
        if !name_ok {
            let msg = format!(
                "slot name `{name}` must be a word (letters, digits, `_`, `-`): it is used as {{{name}}}"
            );
            self.diags.push(map.at(&s.name.span(), msg));
        } else if earlier.iter().any(|e| e.name == name) {
            self.diags.push(map.at(&s.name.span(), format!("duplicate slot `{name}` in this intent")));
        }
        let ask = match &s.ask {
            Some(a) if non_empty(a).is_some() => Some(a.get_ref().trim().to_string()),
            Some(a) => {
                self.diags.push(map.at(&a.span(), format!("slot `{name}` has an empty `ask`")));
                None
            }
            None => {
                let msg = format!(
                    "slot `{name}` has no `ask`: add the question the bot asks, e.g. ask = \"Which laptop is it?\""
                );
                self.diags.push(map.at(&span, msg));
                None
            }
        };
        let pattern = match &s.pattern {
            Some(p) => Some(self.regex(map, p, "pattern")?),
            None => None,
        };
        Some(Slot { name, ask: ask?, pattern, hint: s.hint })
    }
}

fn non_empty(s: &Spanned<String>) -> Option<&str> {
    Some(s.get_ref().trim()).filter(|t| !t.is_empty())
}

fn quoted(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}
