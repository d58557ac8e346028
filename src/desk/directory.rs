//! The people directory: who is whose manager, read from an HR export (`[directory] source =
//! "csv:PATH"`, columns `person, email, manager, department`). `person` is the chat identity
//! (`slack:U0123`, `discord:1234…`, `console:alice`); `manager` names the manager by their
//! `person` or their `email`. Pure parsing here; `service::directory` re-reads the file when
//! it changes and keeps the last good version when an edit does not parse.

use crate::domain::UserRef;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// `[directory]` in deskbot.toml.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryConfig {
    /// `csv:PATH` (relative paths are relative to the working directory).
    #[serde(default)]
    pub source: Option<String>,
}

impl DirectoryConfig {
    /// The CSV file the source names, or an error naming the accepted forms.
    pub fn csv_path(&self) -> Result<Option<std::path::PathBuf>, String> {
        match self.source.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(s) => match s.strip_prefix("csv:") {
                Some(p) if !p.trim().is_empty() => Ok(Some(std::path::PathBuf::from(p.trim()))),
                _ => Err(format!("[directory] source `{s}` must be \"csv:PATH\" (an HR export)")),
            },
        }
    }
}

/// One person of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub person: UserRef,
    pub email: String,
    /// The manager as written (a `person` or an `email`).
    pub manager: String,
    pub department: String,
}

#[derive(Debug, Deserialize)]
struct Row {
    person: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    manager: String,
    #[serde(default)]
    department: String,
}

/// The directory at one moment.
#[derive(Debug, Default, Clone)]
pub struct Directory {
    people: Vec<Person>,
    by_person: HashMap<UserRef, usize>,
    by_email: HashMap<String, usize>,
}

impl Directory {
    /// Parse the CSV; every bad row is reported as `line N: problem`.
    pub fn parse_csv(text: &str) -> Result<Directory, Vec<String>> {
        let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
        let mut d = Directory::default();
        let mut problems = Vec::new();
        match reader.headers() {
            Ok(h) if h.iter().any(|c| c == "person") => {}
            Ok(_) => {
                return Err(vec![
                    "line 1: the header must name the columns person, email, manager, department".into(),
                ]);
            }
            Err(e) => return Err(vec![format!("line 1: {e}")]),
        }
        for (i, row) in reader.deserialize::<Row>().enumerate() {
            let line = i + 2;
            let row = match row {
                Ok(r) => r,
                Err(e) => {
                    problems.push(format!("line {line}: {e}"));
                    continue;
                }
            };
            let person = match row.person.parse::<UserRef>() {
                Ok(p) => p,
                Err(e) => {
                    problems.push(format!(
                        "line {line}: person `{}`: {e} (write PLATFORM:ID, e.g. slack:U0123)",
                        row.person
                    ));
                    continue;
                }
            };
            if d.by_person.contains_key(&person) {
                problems.push(format!("line {line}: {person} is listed twice"));
                continue;
            }
            let at = d.people.len();
            d.by_person.insert(person.clone(), at);
            if !row.email.is_empty() {
                d.by_email.insert(row.email.to_ascii_lowercase(), at);
            }
            d.people.push(Person {
                person,
                email: row.email,
                manager: row.manager,
                department: row.department,
            });
        }
        if problems.is_empty() { Ok(d) } else { Err(problems) }
    }

    pub fn len(&self) -> usize {
        self.people.len()
    }

    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }

    pub fn person(&self, who: &UserRef) -> Option<&Person> {
        self.by_person.get(who).and_then(|i| self.people.get(*i))
    }

    /// The chat identity of `who`'s manager, when the directory lists both.
    pub fn manager_of(&self, who: &UserRef) -> Option<UserRef> {
        let m = self.person(who)?.manager.trim();
        if m.is_empty() {
            return None;
        }
        if let Some(i) = self.by_email.get(&m.to_ascii_lowercase()) {
            return self.people.get(*i).map(|p| p.person.clone());
        }
        m.parse::<UserRef>().ok().filter(|u| u != who)
    }

    /// The people whose manager is `who` (for access reviews).
    pub fn reports_of(&self, who: &UserRef) -> Vec<UserRef> {
        self.people
            .iter()
            .filter(|p| self.manager_of(&p.person).as_ref() == Some(who))
            .map(|p| p.person.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managers_are_found_by_email_or_identity() {
        let csv = "person,email,manager,department\n\
                   console:alice,alice@example.com,bob@example.com,Finance\n\
                   console:bob,bob@example.com,slack:U9,Finance\n\
                   slack:U9,carol@example.com,,Board\n";
        let d = Directory::parse_csv(csv).unwrap();
        let u = |s: &str| s.parse::<UserRef>().unwrap();
        assert_eq!(d.manager_of(&u("console:alice")), Some(u("console:bob")));
        assert_eq!(d.manager_of(&u("console:bob")), Some(u("slack:U9")));
        assert_eq!(d.manager_of(&u("slack:U9")), None);
        assert_eq!(d.manager_of(&u("console:nobody")), None);
        assert_eq!(d.reports_of(&u("console:bob")), vec![u("console:alice")]);
    }

    #[test]
    fn bad_rows_name_their_line() {
        let csv = "person,email,manager,department\nalice,a@x,b@x,F\nconsole:b,b@x,,F\nconsole:b,c@x,,F\n";
        let problems = Directory::parse_csv(csv).unwrap_err();
        assert!(problems[0].starts_with("line 2: person `alice`"), "{problems:?}");
        assert!(problems[1].starts_with("line 4: console:b is listed twice"), "{problems:?}");
        let no_header = Directory::parse_csv("who,mail\nx,y\n").unwrap_err();
        assert!(no_header[0].contains("person, email, manager, department"));
    }
}
