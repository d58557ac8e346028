//! The auditor's questions the database alone does not answer, on SQLite and PostgreSQL:
//! - 📖 KB drafts are files holding a ticket's title and a requester's quoted words: their names
//!   and the log lines about them carry no words, they are readable by their owner only, `person
//!   export` includes them, `person erase` and the retention purge delete them.
//! - A ticket left in a queue since removed from the config is still purged (the global periods).

mod support;

#[path = "support/pgdb.rs"]
mod pgdb;

#[path = "support/canary.rs"]
mod canary;

#[path = "support/desk.rs"]
mod desk;

use desk::Desk;
use deskbot::compliance::key::AuditKey;
use deskbot::compliance::{person, retention};
use deskbot::domain::InboundKind;
use deskbot::domain::{Address, Platform, TicketNumber, UserRef};
use std::io::Write;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::{Mutex, Once};

const DAY: i64 = 86_400_000;
const VICTIM: &str = "UCANARYFILES3";
const NAME: &str = "Zebulon Fennimore";
/// The request, which becomes the ticket's title.
const TITLE: &str = "cnrytitle-71b oncology badge reader rejects me";
/// What the agent's 📖 drafts from: the requester's words, quoted with their name.
const QUOTED: &str = "cnryquote-5d2 my chemotherapy schedule is on that laptop";

fn marks() -> [&'static str; 8] {
    [VICTIM, "Zebulon", "Fennimore", "cnrytitle", "oncology", "badge", "cnryquote", "chemotherapy"]
}

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::new("info,deskbot=debug");
        tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_writer(|| Capture).init();
    });
}

fn config(drafts: &std::path::Path) -> String {
    let mut c = format!(
        "[retention]\ntranscripts_days = 30\nclosed_tickets_days = 30\n\n[desk]\nkb_drafts_dir = \"{}\"\n\n\
         [[queue]]\nname = \"service-desk\"\nchannel = {{ test = \"agents\" }}\nagents = [\"test:kim\"]\n",
        drafts.display()
    );
    for q in ["identity", "network", "hardware", "software", "access", "security", "facilities"] {
        c.push_str(&format!(
            "\n[[queue]]\nname = \"{q}\"\nchannel = {{ test = \"agents\" }}\nagents = [\"test:kim\"]\n"
        ));
    }
    c
}

/// The desk, and the directory its 📖 drafts are written to.
struct Files {
    desk: Desk,
    drafts: tempfile::TempDir,
}

impl Deref for Files {
    type Target = Desk;
    fn deref(&self) -> &Desk {
        &self.desk
    }
}

impl Files {
    async fn sqlite() -> Files {
        capture_logs();
        let drafts = tempfile::tempdir().unwrap();
        let desk = Desk::sqlite(&config(drafts.path())).await;
        Files { desk, drafts }
    }

    async fn postgres() -> Option<Files> {
        capture_logs();
        let drafts = tempfile::tempdir().unwrap();
        let desk = Desk::postgres("files", &config(drafts.path())).await?;
        Some(Files { desk, drafts })
    }

    /// What `user` sends is handled, and what is due delivered.
    async fn send_delivered(
        &self,
        user: &str,
        name: &str,
        to: Address,
        conversation: &str,
        kind: InboundKind,
    ) {
        self.send(user, name, to, conversation, kind).await;
        self.deliver().await;
    }

    /// Kim files a ticket from the victim's message in a public channel.
    async fn file(&self) -> TicketNumber {
        let to = Address::new(Platform::Test, "general").in_thread("t-500");
        let kind = InboundKind::FileTicket {
            text: TITLE.into(),
            author: UserRef::new(Platform::Test, VICTIM),
            author_name: Some(NAME.into()),
            note: None,
        };
        self.send_delivered("kim", "Kim", to, "test:general:t-500", kind).await;
        let all = self.tickets().await;
        assert_eq!(all.len(), 1, "filed: {:?}", self.chan.all());
        all[0]
    }

    /// Kim, in ticket `n`'s thread.
    async fn thread(&self, n: TicketNumber, kind: InboundKind) {
        let card = self.card(n);
        let to = Address::new(Platform::Test, "agents").in_thread(card.clone());
        self.send_delivered("kim", "Kim", to, &format!("test:agents:{card}"), kind).await;
    }

    /// Kim's 📖 on the requester's words relayed into the thread. Returns the draft's path.
    async fn draft(&self, n: TicketNumber) -> PathBuf {
        let text = format!("💬 {NAME}: {QUOTED}");
        let kind = InboundKind::Reaction { emoji: "book".into(), message: "m99".into(), text: Some(text) };
        self.thread(n, kind).await;
        let files: Vec<PathBuf> = self.files();
        assert_eq!(files.len(), 1, "one draft: {files:?}");
        files[0].clone()
    }

    fn files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.drafts.path()).unwrap().map(|e| e.unwrap().path()).collect()
    }

    /// Resolve `n`, let time pass beyond the retention periods, and run the purge.
    async fn purge_after_resolving(&self, n: TicketNumber, queue_renamed: bool) -> u64 {
        self.thread(n, InboundKind::Message { text: "!resolve".into() }).await;
        if queue_renamed {
            // The queue was removed from the config (or renamed) since.
            self.sql(&format!("UPDATE tickets SET queue = 'retired' WHERE number = {}", n.0)).await;
        }
        self.clock.advance(45 * DAY);
        let now = self.now();
        let cfg = &self.t.app.config;
        let plan = retention::plan(&cfg.retention, &cfg.queue_names(), now, "retention");
        self.t.app.store.purge(&plan, now, true).await.unwrap().tickets_anonymised
    }

    async fn finish(self) {
        self.desk.finish().await;
    }
}

fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

/// The draft: named, logged and written without a word of anyone's; exported; erased.
async fn drafts_carry_no_words_outside_and_go_with_an_erasure(d: Files) {
    let n = d.file().await;
    let path = d.draft(n).await;
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(QUOTED), "the draft holds the answer: {text}");
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    assert_eq!(name, format!("draft-{}-1.md", n.0));
    for m in marks() {
        assert!(!name.to_lowercase().contains(&m.to_lowercase()), "{m} in the file name {name}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the draft is readable by its owner only");
    }
    let logged = logs();
    let lines: Vec<&str> = logged.lines().filter(|l| l.contains("draft")).collect();
    assert!(!lines.is_empty(), "the draft is logged");
    for l in &lines {
        for m in marks() {
            assert!(!l.to_lowercase().contains(&m.to_lowercase()), "{m} logged: {l}");
        }
    }
    // A second 📖 keeps the first draft.
    let kind =
        InboundKind::Reaction { emoji: "book".into(), message: "m98".into(), text: Some("Reseat it".into()) };
    d.thread(n, kind).await;
    assert_eq!(d.files().len(), 2, "{:?}", d.files());

    let user = UserRef::new(Platform::Test, VICTIM);
    let data = person::export(&d.t.app.store, &user, &[]).await.unwrap();
    let drafts = data.records.get(person::KB_DRAFTS).expect("the export lists the drafts");
    assert_eq!(drafts.len(), 2, "{drafts:?}");
    let exported = serde_json::to_string(drafts).unwrap();
    assert!(exported.contains(&path.display().to_string()) && exported.contains(QUOTED), "{exported}");

    let key = AuditKey::from_bytes(b"files-test-key-files-test-key-0123456".to_vec()).unwrap();
    person::erase(&d.t.app.store, &key, &user, &[], "dpo", d.now()).await.unwrap();
    assert!(d.files().is_empty(), "the erasure deleted the drafts: {:?}", d.files());
    d.finish().await;
}

async fn purge_deletes_the_drafts_of_the_tickets_it_anonymises(d: Files) {
    let n = d.file().await;
    let path = d.draft(n).await;
    assert_eq!(d.purge_after_resolving(n, false).await, 1);
    assert!(!path.exists() && d.files().is_empty(), "the purge deleted the draft: {:?}", d.files());
    d.finish().await;
}

async fn purge_reaches_a_queue_no_longer_configured(d: Files) {
    let n = d.file().await;
    let path = d.draft(n).await;
    assert_eq!(d.purge_after_resolving(n, true).await, 1, "the ticket in the removed queue was anonymised");
    let t = d.t.app.store.ticket(n).await.unwrap().unwrap();
    assert_eq!(t.requester.id, "purged", "{t:?}");
    assert!(!t.title.contains("cnrytitle"), "{t:?}");
    assert!(!path.exists(), "and its draft deleted");
    d.finish().await;
}

#[tokio::test]
async fn drafts_carry_no_words_outside_and_go_with_an_erasure_on_sqlite() {
    drafts_carry_no_words_outside_and_go_with_an_erasure(Files::sqlite().await).await;
}

#[tokio::test]
async fn drafts_carry_no_words_outside_and_go_with_an_erasure_on_postgres() {
    let Some(d) = Files::postgres().await else { return };
    drafts_carry_no_words_outside_and_go_with_an_erasure(d).await;
}

#[tokio::test]
async fn purge_deletes_the_drafts_of_the_tickets_it_anonymises_on_sqlite() {
    purge_deletes_the_drafts_of_the_tickets_it_anonymises(Files::sqlite().await).await;
}

#[tokio::test]
async fn purge_deletes_the_drafts_of_the_tickets_it_anonymises_on_postgres() {
    let Some(d) = Files::postgres().await else { return };
    purge_deletes_the_drafts_of_the_tickets_it_anonymises(d).await;
}

#[tokio::test]
async fn purge_reaches_a_queue_no_longer_configured_on_sqlite() {
    purge_reaches_a_queue_no_longer_configured(Files::sqlite().await).await;
}

#[tokio::test]
async fn purge_reaches_a_queue_no_longer_configured_on_postgres() {
    let Some(d) = Files::postgres().await else { return };
    purge_reaches_a_queue_no_longer_configured(d).await;
}
