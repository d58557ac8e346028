//! The files in `deploy/` are checked without a container engine: every manifest parses as
//! YAML and has the shape we rely on (probes on /readyz and /healthz, Secret references, a
//! PodDisruptionBudget, compose with PostgreSQL and env-file secrets), the intents ConfigMap
//! is a catalog deskbot accepts, the systemd unit is hardened, and the Dockerfile's build
//! steps are the ones the README's "Deploy" section tells people to run; the portal is exposed over
//! TLS by the ingress and its address is `http.public_url`.

use deskbot::config::{Config, Sources};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn yaml(rel: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not valid YAML: {e}"))
}

fn k8s_docs() -> Vec<Yaml> {
    ["configmap", "deployment", "service", "pdb", "secret.example", "ingress"]
        .iter()
        .flat_map(|f| yaml(&format!("deploy/k8s/{f}.yaml")))
        .collect()
}

fn of_kind(docs: &[Yaml], kind: &str) -> Vec<Yaml> {
    docs.iter().filter(|d| d["kind"].as_str() == Some(kind)).cloned().collect()
}

/// The README's "Deploy" section.
fn readme_deploy() -> String {
    let readme = read("README.md");
    let start = readme.find("\n## Deploy\n").expect("README has a Deploy section");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map(|i| i + 3).unwrap_or(rest.len());
    rest[..end].to_string()
}

#[test]
fn kubernetes_manifests_parse_and_name_themselves() {
    let docs = k8s_docs();
    assert!(docs.len() >= 6, "{} documents", docs.len());
    for d in &docs {
        assert!(d["apiVersion"].as_str().is_some(), "apiVersion missing in {d:?}");
        assert!(d["kind"].as_str().is_some(), "kind missing in {d:?}");
        assert!(d["metadata"]["name"].as_str().is_some(), "metadata.name missing in {d:?}");
    }
    let kustomization = &yaml("deploy/k8s/kustomization.yaml")[0];
    for r in kustomization["resources"].as_vec().expect("resources") {
        let file = r.as_str().expect("a file name");
        assert!(repo().join("deploy/k8s").join(file).exists(), "kustomization lists missing {file}");
    }
}

#[test]
fn deployment_probes_health_reads_secrets_and_is_covered_by_service_and_pdb() {
    let docs = k8s_docs();
    let deployment = &of_kind(&docs, "Deployment")[0];
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    let pod = &deployment["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(c["readinessProbe"]["httpGet"]["path"].as_str(), Some("/readyz"));
    assert_eq!(c["livenessProbe"]["httpGet"]["path"].as_str(), Some("/healthz"));
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"].as_bool(), Some(false));
    let env = c["env"].as_vec().expect("env");
    let secret_refs: Vec<&str> =
        env.iter().filter_map(|e| e["valueFrom"]["secretKeyRef"]["name"].as_str()).collect();
    assert!(secret_refs.contains(&"deskbot-secrets"), "{secret_refs:?}");
    let secret = &of_kind(&docs, "Secret")[0];
    assert_eq!(secret["metadata"]["name"].as_str(), Some("deskbot-secrets"));
    assert!(!secret["stringData"]["database-url"].is_badvalue());

    let matches = |selector: &Yaml| {
        selector.as_hash().expect("selector").iter().all(|(k, v)| &labels[k.as_str().unwrap_or("")] == v)
    };
    assert!(matches(&of_kind(&docs, "Service")[0]["spec"]["selector"]));
    let pdb = &of_kind(&docs, "PodDisruptionBudget")[0];
    assert!(matches(&pdb["spec"]["selector"]["matchLabels"]));
    assert!(pdb["spec"]["minAvailable"].as_i64().is_some());
}

#[test]
fn configmaps_hold_a_valid_config_and_intents_catalog() {
    let docs = k8s_docs();
    let maps: BTreeMap<String, Yaml> = of_kind(&docs, "ConfigMap")
        .into_iter()
        .map(|m| (m["metadata"]["name"].as_str().unwrap_or_default().to_string(), m))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("deskbot.toml");
    std::fs::write(&toml, maps["deskbot-config"]["data"]["deskbot.toml"].as_str().unwrap()).unwrap();
    let config =
        Config::load_from(&Sources { file: Some(toml), data_dir: None }, &[]).expect("config parses");

    // Lay the intents out the way the Deployment's volume items do.
    let deployment = &of_kind(&docs, "Deployment")[0];
    let volumes = deployment["spec"]["template"]["spec"]["volumes"].as_vec().unwrap();
    let intents_volume =
        volumes.iter().find(|v| v["configMap"]["name"].as_str() == Some("deskbot-intents")).unwrap();
    let data = &maps["deskbot-intents"]["data"];
    let root = dir.path().join("intents");
    for item in intents_volume["configMap"]["items"].as_vec().unwrap() {
        let path = root.join(item["path"].as_str().unwrap());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, data[item["key"].as_str().unwrap()].as_str().expect("key exists")).unwrap();
    }
    let catalog =
        deskbot::intents::load_catalog(&root, &config.queue_names(), &deskbot::app::load_options(&config))
            .unwrap_or_else(|d| panic!("the intents ConfigMap is not a valid catalog:\n{d}"));
    assert!(!catalog.intents.is_empty() && !catalog.articles.is_empty());
}

#[test]
fn compose_runs_deskbot_on_postgres_with_env_file_secrets() {
    let compose = &yaml("deploy/compose.yaml")[0];
    let deskbot = &compose["services"]["deskbot"];
    let postgres = &compose["services"]["postgres"];
    assert!(postgres["image"].as_str().unwrap_or_default().starts_with("postgres:"));
    assert_eq!(deskbot["build"]["dockerfile"].as_str(), Some("deploy/Dockerfile"));
    assert_eq!(deskbot["env_file"][0].as_str(), Some("deskbot.env"));
    assert_eq!(postgres["env_file"][0].as_str(), Some("postgres.env"));
    assert_eq!(deskbot["depends_on"]["postgres"]["condition"].as_str(), Some("service_healthy"));
    assert!(!compose["volumes"]["pgdata"].is_badvalue());
    for example in ["deploy/deskbot.env.example", "deploy/postgres.env.example"] {
        assert!(repo().join(example).exists(), "{example}");
    }
    assert!(read("deploy/deskbot.env.example").contains("DESKBOT_DATABASE_URL=postgres://"));
}

/// `--scale deskbot=2` as the README promises: the replicas publish no host port (two cannot
/// bind one), one proxy publishes it and reaches every replica by the service's name, and the
/// replicas share everything that must be one: the database (one env file) and the data
/// volume holding the audit key.
#[test]
fn compose_scales_deskbot_behind_one_published_port() {
    let compose = &yaml("deploy/compose.yaml")[0];
    let deskbot = &compose["services"]["deskbot"];
    let proxy = &compose["services"]["proxy"];
    assert!(deskbot["ports"].is_badvalue(), "a fixed host port lets only one replica start");
    assert!(deskbot["container_name"].is_badvalue(), "a fixed name lets only one replica start");
    assert_eq!(deskbot["expose"][0].as_str(), Some("8080"));
    assert_eq!(
        deskbot["environment"]["DESKBOT_HTTP__LISTEN"].as_str(),
        Some("0.0.0.0:8080"),
        "replicas listen where the proxy looks"
    );
    assert!(proxy["image"].as_str().unwrap_or_default().starts_with("caddy:"));
    assert_eq!(proxy["ports"][0].as_str(), Some("127.0.0.1:8080:8080"));
    let mounts: Vec<&str> = proxy["volumes"].as_vec().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(mounts.contains(&"./Caddyfile:/etc/caddy/Caddyfile:ro"), "{mounts:?}");
    // The proxy resolves every replica by the service name, re-reading DNS, and health-checks.
    let caddy = read("deploy/Caddyfile");
    let lines: Vec<String> = caddy.lines().map(|l| l.split('#').next().unwrap().trim().to_string()).collect();
    for wanted in ["dynamic a {", "name deskbot", "port 8080", "health_uri /healthz", ":8080 {"] {
        assert!(lines.iter().any(|l| l == wanted), "Caddyfile lacks `{wanted}`");
    }
    // Shared by every replica: one database from one env file, one data volume (audit key).
    assert_eq!(deskbot["env_file"].as_vec().map(Vec::len), Some(1));
    assert!(read("deploy/deskbot.env.example").contains("DESKBOT_DATABASE_URL=postgres://"));
    let data: Vec<&str> = deskbot["volumes"].as_vec().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(data.iter().any(|v| v.starts_with("deskbot-data:")), "{data:?}");
    // The README's scale-out command names this file and service.
    assert!(readme_deploy().contains("--scale deskbot=2"));
}

#[test]
fn dockerfile_build_steps_match_the_readme() {
    let dockerfile = read("deploy/Dockerfile");
    let readme = readme_deploy();
    let stages = dockerfile.lines().filter(|l| l.starts_with("FROM ")).count();
    assert!(stages >= 2, "a multi-stage build");
    let build = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("RUN ").filter(|c| c.starts_with("cargo build")))
        .expect("a cargo build step");
    assert!(readme.contains(build), "README's Deploy section shows `{build}`");
    // The shipped binary: copied into the last (runtime) stage.
    let runtime = dockerfile.rsplit("\nFROM ").next().unwrap_or_default();
    let copy =
        runtime.lines().find(|l| l.starts_with("COPY --from=build") && l.contains("target/dist/")).unwrap();
    let parts: Vec<&str> = copy.split_whitespace().collect();
    let (from, to) = (parts[parts.len() - 2], parts[parts.len() - 1]);
    assert!(from.ends_with("target/dist/deskbot") && readme.contains(from), "README names {from}");
    assert!(readme.contains(to), "README names {to}");
    assert!(dockerfile.contains("docker build -f deploy/Dockerfile -t deskbot ."));
    assert!(readme.contains("docker build -f deploy/Dockerfile -t deskbot ."));
    let user = dockerfile.lines().rev().find_map(|l| l.strip_prefix("USER ")).expect("a USER line");
    assert!(!user.starts_with("root") && !user.starts_with('0'), "runs as non-root, not {user}");
    let health = dockerfile.lines().skip_while(|l| !l.starts_with("HEALTHCHECK")).take(2).collect::<String>();
    assert!(health.contains(&format!("\"{to}\", \"healthcheck\"")), "{health}");
}

#[test]
fn healthcheck_subcommand_reports_an_unreachable_daemon() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deskbot"))
        .args(["healthcheck", "--url", "http://127.0.0.1:1/healthz"])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn systemd_unit_is_hardened_and_runs_the_installed_binary() {
    let unit = read("deploy/deskbot.service");
    let settings: Vec<(&str, &str)> =
        unit.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split_once('=')).collect();
    let get = |k: &str| settings.iter().filter(|(key, _)| *key == k).map(|(_, v)| *v).collect::<Vec<_>>();
    let exec = get("ExecStart");
    assert_eq!(exec.len(), 1);
    let binary = exec[0].split_whitespace().next().unwrap();
    assert!(exec[0].contains(" run"), "{exec:?}");
    assert!(readme_deploy().contains(&format!("install -m 0755 target/release/deskbot {binary}")));
    for (key, want) in [
        ("NoNewPrivileges", "yes"),
        ("DynamicUser", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("CapabilityBoundingSet", ""),
        ("StateDirectory", "deskbot"),
    ] {
        assert_eq!(get(key), vec![want], "{key}");
    }
    assert!(unit.contains("[Install]") && unit.contains("WantedBy=multi-user.target"));
    assert!(Path::new(&repo().join("deploy/deskbot.service")).exists());
}

/// The portal is public through the same port as everything else: the ingress routes only
/// the portal and the platforms' callbacks to the Service over TLS, the config names the
/// same https address as `http.public_url`, and compose's env file sets it.
#[test]
fn the_portal_is_exposed_over_tls_with_its_public_url() {
    let docs = k8s_docs();
    let ingress = &of_kind(&docs, "Ingress")[0];
    let host = ingress["spec"]["tls"][0]["hosts"][0].as_str().expect("a TLS host");
    let rule = &ingress["spec"]["rules"][0];
    assert_eq!(rule["host"].as_str(), Some(host));
    let service = &of_kind(&docs, "Service")[0];
    let mut paths = Vec::new();
    for p in rule["http"]["paths"].as_vec().expect("paths") {
        let backend = &p["backend"]["service"];
        assert_eq!(backend["name"], service["metadata"]["name"]);
        assert_eq!(backend["port"]["name"], service["spec"]["ports"][0]["name"]);
        paths.push(p["path"].as_str().unwrap().to_string());
    }
    assert!(paths.contains(&"/portal".to_string()), "{paths:?}");
    assert!(
        !paths.iter().any(|p| p == "/" || p.starts_with("/reports") || p.starts_with("/metrics")),
        "{paths:?}"
    );

    let maps = of_kind(&docs, "ConfigMap");
    let config = maps.iter().find(|m| m["metadata"]["name"].as_str() == Some("deskbot-config")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("deskbot.toml");
    std::fs::write(&toml, config["data"]["deskbot.toml"].as_str().unwrap()).unwrap();
    let config = Config::load_from(&Sources { file: Some(toml), data_dir: None }, &[]).unwrap();
    assert_eq!(config.http.public_url.as_deref(), Some(format!("https://{host}").as_str()));
    assert!(config.portal.enabled);

    let env = read("deploy/deskbot.env.example");
    assert!(env.lines().any(|l| l.starts_with("DESKBOT_HTTP__PUBLIC_URL=")), "{env}");
    assert!(env.contains("DESKBOT_PORTAL__OIDC__ISSUER"));
    assert!(read("deploy/Caddyfile").contains("/portal"));
    // The Slack app asks for the scope the company sign-in's email lookup needs.
    let manifest = &yaml("deploy/slack-app-manifest.yaml")[0];
    let scopes: Vec<&str> = manifest["oauth_config"]["scopes"]["bot"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert!(scopes.contains(&"users:read.email"), "{scopes:?}");
}
