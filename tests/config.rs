//! Configuration layering: defaults, file, environment (wins), `*_FILE` secrets, and errors
//! that name the offending key and file.

use deskbot::config::{Config, Sources};
use std::path::PathBuf;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn no_config_at_all_means_sqlite_in_the_working_directory() {
    let cfg = Config::load_from(&Sources::default(), &[]).unwrap();
    assert_eq!(cfg.database_url(), "sqlite:./deskbot.db");
    assert_eq!(cfg.intents_dir, PathBuf::from("intents"));
    assert!(cfg.queue_names().iter().any(|q| q.as_str() == "identity"));
    let cfg =
        Config::load_from(&Sources { data_dir: Some("/var/lib/deskbot".into()), file: None }, &[]).unwrap();
    assert_eq!(cfg.database_url(), "sqlite:/var/lib/deskbot/deskbot.db");
}

#[test]
fn environment_overrides_the_file_and_unrelated_variables_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let file =
        write(&dir, "deskbot.toml", "intents_dir = \"from-file\"\n[http]\nlisten = \"0.0.0.0:9000\"\n");
    let vars = env(&[
        ("DESKBOT_INTENTS_DIR", "from-env"),
        ("DESKBOT_DATABASE_URL", "sqlite:/tmp/other.db"),
        ("DESKBOT_ENGINE__MAX_KB_OFFERS", "5"),
        ("DESKBOT_TEST_POSTGRES_URL", "postgres://ignored"),
        ("HOME", "/root"),
    ]);
    let cfg = Config::load_from(&Sources { file: Some(file), data_dir: None }, &vars).unwrap();
    assert_eq!(cfg.intents_dir, PathBuf::from("from-env"));
    assert_eq!(cfg.database_url(), "sqlite:/tmp/other.db");
    assert_eq!(cfg.http.listen, "0.0.0.0:9000");
    assert_eq!(cfg.engine.max_kb_offers, 5);
}

#[test]
fn secrets_can_come_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let secret = write(&dir, "db-url", "sqlite:/secret/path.db\n");
    let vars = env(&[("DESKBOT_DATABASE_URL_FILE", secret.to_str().unwrap())]);
    let cfg = Config::load_from(&Sources::default(), &vars).unwrap();
    assert_eq!(cfg.database_url(), "sqlite:/secret/path.db");
    let vars = env(&[("DESKBOT_DATABASE_URL_FILE", "/nonexistent/secret")]);
    let err = Config::load_from(&Sources::default(), &vars).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/secret") && err.contains("DESKBOT_DATABASE_URL_FILE"), "{err}");
}

#[test]
fn unknown_keys_are_errors_naming_the_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "deskbot.toml", "[http]\nlisen = \"0.0.0.0:1\"\n");
    let err = Config::load_from(&Sources { file: Some(file.clone()), data_dir: None }, &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("lisen"), "{err}");
    // The file is named (figment may show it relative to the working directory).
    let dir_name = dir.path().file_name().unwrap().to_str().unwrap();
    assert!(err.contains(&format!("{dir_name}/deskbot.toml")), "{err}");
}

#[test]
fn invalid_values_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    for (text, needle) in [
        ("default_queue = \"nowhere\"\n", "nowhere"),
        ("[matcher]\nthreshold = 3.0\n", "threshold"),
        ("[[queue]]\nname = \"Bad Name\"\n", "Bad Name"),
        ("[redact]\nrules = [{ name = \"x\", pattern = \"(\" }]\n", "redact rule"),
    ] {
        let file = write(&dir, "deskbot.toml", text);
        let err =
            Config::load_from(&Sources { file: Some(file), data_dir: None }, &[]).unwrap_err().to_string();
        assert!(err.contains(needle), "{text}: {err}");
    }
    let err = Config::load_from(&Sources { file: Some("/nope/deskbot.toml".into()), data_dir: None }, &[])
        .unwrap_err();
    assert!(err.to_string().contains("does not exist"));
}

#[test]
fn the_example_config_parses_and_its_commented_queue_is_valid() {
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deskbot.example.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plain = write(&dir, "deskbot.toml", &example);
    Config::load_from(&Sources { file: Some(plain), data_dir: None }, &[]).unwrap();
    // Uncomment the documented queue, SLA, hours and webhook blocks: they must load too.
    let uncommented: String = example
        .lines()
        .map(|l| if l.starts_with("# ") && !l.starts_with("# #") { &l[2..] } else { l })
        .collect::<Vec<_>>()
        .join("\n");
    let secret = write(&dir, "secret", "s3cret");
    let uncommented = uncommented
        .replace("/run/secrets/deskbot-webhook", secret.to_str().unwrap())
        .replace("/run/secrets/deskbot-idp-webhook", secret.to_str().unwrap());
    let full = write(&dir, "full.toml", &uncommented);
    let err = Config::load_from(&Sources { file: Some(full), data_dir: None }, &[]);
    let cfg = err.unwrap();
    let q = cfg.queues().into_iter().find(|q| q.name.as_str() == "service-desk").unwrap();
    assert!(q.sla.is_some() && q.hours.is_some());
    // The ticket system's webhook and the identity provider's (request fulfilment).
    let names: Vec<&str> = cfg.webhook.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["itsm", "idp"]);
}

const DISCORD_KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

#[test]
fn environment_names_and_files_fill_the_discord_table() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, format!("{}\n", DISCORD_KEY)).unwrap();
    let sources = Sources { file: None, data_dir: Some(dir.path().into()) };
    let cfg = Config::load_from(
        &sources,
        &env(&[
            ("DESKBOT_DISCORD_TOKEN", "abc"),
            ("DESKBOT_DISCORD_APPLICATION_ID", "1234"),
            ("DESKBOT_DISCORD_PUBLIC_KEY_FILE", key.to_str().unwrap()),
            ("DESKBOT_DISCORD_API_URL", "http://127.0.0.1:9"),
        ]),
    )
    .unwrap();
    let d = cfg.discord.unwrap();
    assert_eq!(d.token.as_deref(), Some("abc"));
    assert_eq!(d.application_id.as_deref(), Some("1234"));
    assert_eq!(d.public_key, Some(DISCORD_KEY.to_string()));
    assert!(d.register_commands);
    let err = Config::load_from(&sources, &env(&[("DESKBOT_DISCORD_TOKEN", "abc")])).unwrap_err();
    assert!(err.to_string().contains("DESKBOT_DISCORD_APPLICATION_ID"), "{err}");
    assert!(Config::load_from(&sources, &[]).unwrap().discord.is_none());
}

fn load_reports(env: &[(&str, &str)]) -> Result<Config, String> {
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::load_from(&Sources { file: None, data_dir: None }, &env).map_err(|e| e.to_string())
}

#[test]
fn reports_token_comes_from_the_environment_and_never_shows_in_debug_output() {
    let token = "a-long-reports-token-1234";
    let cfg = load_reports(&[("DESKBOT_REPORTS_TOKEN", token)]).unwrap();
    assert_eq!(cfg.reports.token.as_deref(), Some(token));
    assert!(!format!("{cfg:?}").contains(token), "the token leaks through Debug");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), format!("{token}\n")).unwrap();
    let path = file.path().to_str().unwrap();
    assert_eq!(
        load_reports(&[("DESKBOT_REPORTS_TOKEN_FILE", path)]).unwrap().reports.token.as_deref(),
        Some(token)
    );
    let proxied = load_reports(&[("DESKBOT_REPORTS__USER_HEADER", "X-Forwarded-User")]).unwrap();
    assert_eq!(proxied.reports.user_header.as_deref(), Some("X-Forwarded-User"));
}

#[test]
fn weak_tokens_bad_headers_and_bad_testers_are_refused() {
    assert!(load_reports(&[("DESKBOT_REPORTS_TOKEN", "short")]).unwrap_err().contains("at least 16"));
    assert!(
        load_reports(&[("DESKBOT_REPORTS_USER_HEADER", "bad header")]).unwrap_err().contains("user_header")
    );
    let mut cfg = Config::default();
    cfg.reports.testers = vec!["nobody".into()];
    assert!(cfg.reports.validate().unwrap_err().contains("reports.testers"));
    cfg.reports.testers = vec!["slack:U1".into(), "console:qa".into()];
    assert_eq!(cfg.reports.tester_refs().unwrap().len(), 2);
    assert!(load_reports(&[("DESKBOT_REPORTS__SESSION_HOURS", "0")]).unwrap_err().contains("session_hours"));
    let proxies = |p: &str| load_reports(&[("DESKBOT_HTTP__TRUSTED_PROXIES", p)]);
    assert!(proxies("[\"10.0.0.0/33\"]").unwrap_err().contains("trusted_proxies"));
    assert!(proxies("[\"proxy.local\"]").unwrap_err().contains("trusted_proxies"));
    let ok = proxies("[\"10.0.0.0/8\", \"::1\"]").unwrap();
    assert_eq!(ok.http.proxy_networks().unwrap().len(), 2);
    assert!(
        load_reports(&[("DESKBOT_HTTP__ADMIN_LISTEN", "127.0.0.1:8080")])
            .unwrap_err()
            .contains("admin_listen"),
        "the admin listener cannot be the public one"
    );
}

#[test]
fn the_company_sign_in_comes_from_the_environment_with_its_secret_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let secret = write(&dir, "oidc-secret", "s3cret-client-value\n");
    let vars = env(&[
        ("DESKBOT_PORTAL__OIDC__ISSUER", "https://login.example.com/tenant/v2.0"),
        ("DESKBOT_PORTAL__OIDC__CLIENT_ID", "deskbot-portal"),
        ("DESKBOT_PORTAL__OIDC__CLIENT_SECRET_FILE", secret.to_str().unwrap()),
    ]);
    let cfg = Config::load_from(&Sources::default(), &vars).unwrap();
    let oidc = cfg.portal.oidc.as_ref().expect("[portal.oidc] from the environment");
    assert_eq!(oidc.issuer, "https://login.example.com/tenant/v2.0");
    assert_eq!(oidc.client_id, "deskbot-portal");
    assert_eq!(oidc.client_secret.as_deref(), Some("s3cret-client-value"));
    assert!(!format!("{cfg:?}").contains("s3cret"), "the secret never shows in Debug output");

    // An issuer that is not a URL is refused, naming the key.
    let bad = env(&[("DESKBOT_PORTAL__OIDC__ISSUER", "not a url"), ("DESKBOT_PORTAL__OIDC__CLIENT_ID", "x")]);
    let err = Config::load_from(&Sources::default(), &bad).unwrap_err().to_string();
    assert!(err.contains("portal.oidc.issuer"), "{err}");
}
