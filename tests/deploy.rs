//! The deployment files under `deploy/` are checked here, without Docker, systemd or a cluster:
//! every YAML document parses and names itself; the Kubernetes objects select each other and
//! run okno safely; the compose stack waits for a healthy PostgreSQL; the systemd unit keeps its
//! hardening; the Dockerfile builds `--locked` and runs unprivileged. Every okno command line in
//! them is parsed with okno's own CLI, and every okno configuration in them is loaded with okno's
//! own loader and the environment the deployment gives it, so a file okno would refuse fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use clap::Parser;
use serde_json::{json, Value};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn deploy() -> PathBuf {
    root().join("deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// YAML

/// A YAML node as JSON, so fields read as `doc["spec"]["replicas"]`.
fn to_json(y: &yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Real(s) => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(s.clone()), Value::Number),
        Yaml::Integer(i) => json!(i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Hash(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) | Yaml::Real(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        other => format!("{other:?}"),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Yaml::Alias(_) | Yaml::Null | Yaml::BadValue => Value::Null,
    }
}

struct YamlFile {
    path: PathBuf,
    docs: Vec<Value>,
}

fn yaml_files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            yaml_files_under(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
}

/// Every `*.yaml`/`*.yml` under `deploy/`, each document of a multi-document file separately
/// (empty documents dropped).
fn yaml_files() -> Vec<YamlFile> {
    let mut paths = Vec::new();
    yaml_files_under(&deploy(), &mut paths);
    paths
        .into_iter()
        .map(|path| {
            let docs = yaml_rust2::YamlLoader::load_from_str(&read(&path))
                .unwrap_or_else(|e| panic!("{}: not YAML: {e}", rel(&path)));
            let docs = docs.iter().map(to_json).filter(|d| !d.is_null()).collect();
            YamlFile { path, docs }
        })
        .collect()
}

fn is_compose(path: &Path) -> bool {
    let name = path.file_name().unwrap().to_string_lossy();
    name.starts_with("compose.") || name.starts_with("docker-compose.")
}

/// Kubernetes (and kustomize) documents: every YAML document that is not a compose file.
fn manifests() -> Vec<(PathBuf, Value)> {
    yaml_files()
        .into_iter()
        .filter(|f| !is_compose(&f.path))
        .flat_map(|f| {
            let path = f.path;
            f.docs.into_iter().map(move |d| (path.clone(), d))
        })
        .collect()
}

/// The one document of `kind` under `deploy/kubernetes` (or panics).
fn one_of_kind(kind: &str) -> (PathBuf, Value) {
    let found: Vec<_> = manifests()
        .into_iter()
        .filter(|(p, d)| p.starts_with(deploy().join("kubernetes")) && d["kind"] == kind)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {kind} under deploy/kubernetes, found {}",
        found.len()
    );
    found.into_iter().next().unwrap()
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} must be a string, is {v}"))
}

/// `labels` contains every pair of `selector`, and `selector` is not empty.
fn selects(selector: &Value, labels: &Value) -> bool {
    let (Some(sel), Some(labels)) = (selector.as_object(), labels.as_object()) else {
        return false;
    };
    !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v))
}

// ---------------------------------------------------------------------------------------------
// okno's own CLI and configuration loader

/// Parses `args` (without the program name) as okno's command line.
fn okno_cli(args: &[String], context: &str) -> okno::cli::Cli {
    okno::cli::Cli::try_parse_from(std::iter::once("okno".to_string()).chain(args.iter().cloned()))
        .unwrap_or_else(|e| {
            panic!(
                "{context}: `okno {}` is not an okno command line:\n{e}",
                args.join(" ")
            )
        })
}

/// Asserts `args` run the daemon (`okno … run`, not `--once`) and returns the config path.
fn assert_runs_daemon(args: &[String], context: &str) -> PathBuf {
    let cli = okno_cli(args, context);
    assert!(
        matches!(cli.command, okno::cli::Command::Run { once: false }),
        "{context}: `okno {}` must run the daemon (`run`), is {:?}",
        args.join(" "),
        cli.command
    );
    cli.config
}

/// Loads an okno configuration the way okno would: `files` written into one directory (as a
/// mounted ConfigMap or /etc/okno would hold them), `config_name` loaded with exactly `env`.
fn load_config(
    files: &BTreeMap<String, String>,
    config_name: &str,
    env: &BTreeMap<String, String>,
    context: &str,
) -> okno::config::Config {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    match okno::config::load_with_env(&dir.path().join(config_name), &env) {
        Ok(loaded) => loaded.config,
        Err(e) => panic!("{context}: okno refuses this configuration:\n{e}"),
    }
}

/// What `okno run` needs of a configuration in a container: something to schedule (the daemon
/// refuses a configuration without an enabled connector) and a `[server]` on every interface at
/// `port`, where the probes and the health check knock.
fn assert_serves_in_container(config: &okno::config::Config, port: u16, context: &str) {
    assert!(
        config.connectors.iter().any(|c| c.enabled),
        "{context}: no enabled [[connector]]; `okno run` would refuse to start"
    );
    let server = config
        .server
        .as_ref()
        .unwrap_or_else(|| panic!("{context}: no [server] section: no health checks, no webhooks"));
    assert_eq!(
        server.listen.port(),
        port,
        "{context}: [server] listen must use port {port}"
    );
    assert!(
        server.listen.ip().is_unspecified(),
        "{context}: [server] listen = {} is unreachable from outside the container; use 0.0.0.0:{port}",
        server.listen
    );
}

/// `${NAME}` references in non-comment lines of a TOML text.
fn env_references(toml: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in toml.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut rest = line;
        while let Some(pos) = rest.find("${") {
            if pos > 0 && rest[..pos].ends_with('$') {
                rest = &rest[pos + 2..];
                continue;
            }
            let tail = &rest[pos + 2..];
            let Some(end) = tail.find('}') else { break };
            names.insert(tail[..end].to_string());
            rest = &tail[end + 1..];
        }
    }
    names
}

// ---------------------------------------------------------------------------------------------
// Every YAML document

#[test]
fn every_yaml_document_parses_and_names_itself() {
    let files = yaml_files();
    assert!(
        files
            .iter()
            .any(|f| f.path.starts_with(deploy().join("kubernetes"))),
        "no Kubernetes manifests found under deploy/kubernetes"
    );
    for file in &files {
        assert!(
            !file.docs.is_empty(),
            "{}: no YAML document",
            rel(&file.path)
        );
        for (i, doc) in file.docs.iter().enumerate() {
            let at = format!("{} (document {})", rel(&file.path), i + 1);
            assert!(doc.is_object(), "{at}: not a mapping");
            if is_compose(&file.path) {
                assert!(
                    doc["services"].is_object(),
                    "{at}: a compose file without services"
                );
                continue;
            }
            for key in ["apiVersion", "kind"] {
                assert!(
                    doc[key].as_str().is_some_and(|s| !s.is_empty()),
                    "{at}: missing {key}"
                );
            }
            assert!(
                doc["metadata"]["name"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
                "{at}: missing metadata.name"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

/// The okno container of the Deployment.
fn okno_container(deployment: &Value) -> &Value {
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("Deployment: spec.template.spec.containers");
    containers
        .iter()
        .find(|c| c["name"] == "okno")
        .expect("Deployment: a container named okno")
}

/// Resolves a probe's or Service's port (a number or a container port's name) to its number.
fn container_port(container: &Value, port: &Value) -> Option<i64> {
    let ports = container["ports"].as_array()?;
    match port {
        Value::Number(n) => ports
            .iter()
            .any(|p| p["containerPort"].as_i64() == n.as_i64())
            .then(|| n.as_i64())?,
        Value::String(name) => ports
            .iter()
            .find(|p| p["name"] == name.as_str())
            .and_then(|p| p["containerPort"].as_i64()),
        _ => None,
    }
}

#[test]
fn the_deployment_runs_two_safe_replicas_with_probes() {
    let (path, d) = one_of_kind("Deployment");
    let at = rel(&path);
    let spec = &d["spec"];
    let pod = &spec["template"]["spec"];
    assert!(
        spec["replicas"].as_i64().is_some_and(|r| r >= 2),
        "{at}: replicas must be at least 2, is {}",
        spec["replicas"]
    );
    assert!(
        selects(
            &spec["selector"]["matchLabels"],
            &spec["template"]["metadata"]["labels"]
        ),
        "{at}: spec.selector.matchLabels must match the pod template's labels"
    );
    assert!(
        pod["terminationGracePeriodSeconds"]
            .as_i64()
            .is_some_and(|s| s >= 30),
        "{at}: terminationGracePeriodSeconds must leave okno time to commit the page (>= 30)"
    );

    let c = okno_container(&d);
    // Port 8080, named, and the probes on it.
    let http = c["ports"]
        .as_array()
        .and_then(|ports| ports.iter().find(|p| p["containerPort"] == 8080))
        .unwrap_or_else(|| panic!("{at}: the okno container must declare containerPort 8080"));
    assert_eq!(http["name"], "http", "{at}: port 8080 must be named http");
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"], path, "{at}: {probe} must GET {path}");
        assert_eq!(
            container_port(c, &get["port"]),
            Some(8080),
            "{at}: {probe} must use port 8080 (by number or name)"
        );
    }
    if c["startupProbe"].is_object() {
        assert_eq!(
            c["startupProbe"]["httpGet"]["path"], "/healthz",
            "{at}: startupProbe"
        );
    }

    // Non-root, read-only root filesystem, writable scratch where okno and the OS write.
    let run_as_non_root = c["securityContext"]["runAsNonRoot"]
        .as_bool()
        .or(pod["securityContext"]["runAsNonRoot"].as_bool());
    assert_eq!(
        run_as_non_root,
        Some(true),
        "{at}: runAsNonRoot must be true"
    );
    assert_eq!(
        c["securityContext"]["readOnlyRootFilesystem"], true,
        "{at}: readOnlyRootFilesystem must be true"
    );
    assert_eq!(
        c["securityContext"]["allowPrivilegeEscalation"], false,
        "{at}: allowPrivilegeEscalation must be false"
    );
    let volumes = pod["volumes"].as_array().expect("Deployment: volumes");
    let volume = |name: &Value| {
        volumes
            .iter()
            .find(|v| &v["name"] == name)
            .unwrap_or_else(|| panic!("{at}: volume {name} is mounted but not declared"))
    };
    let mounts = c["volumeMounts"]
        .as_array()
        .expect("Deployment: volumeMounts");
    for dir in ["/tmp", "/var/lib/okno"] {
        let mount = mounts
            .iter()
            .find(|m| m["mountPath"] == dir)
            .unwrap_or_else(|| {
                panic!("{at}: {dir} must be a writable mount (the root filesystem is read-only)")
            });
        assert!(
            volume(&mount["name"])["emptyDir"].is_object(),
            "{at}: {dir} must be an emptyDir"
        );
    }

    // Requests and limits.
    for kind in ["requests", "limits"] {
        for res in ["cpu", "memory"] {
            assert!(
                c["resources"][kind][res].is_string() || c["resources"][kind][res].is_number(),
                "{at}: resources.{kind}.{res} must be set"
            );
        }
    }

    // The command line runs the daemon with a configuration from the ConfigMap volume.
    let args: Vec<String> = c["args"]
        .as_array()
        .expect("Deployment: args")
        .iter()
        .map(|a| str_of(a, "args[]").to_string())
        .collect();
    let config = assert_runs_daemon(&args, &at);
    let config_dir = config.parent().unwrap();
    let mount = mounts
        .iter()
        .find(|m| Path::new(str_of(&m["mountPath"], "mountPath")) == config_dir)
        .unwrap_or_else(|| panic!("{at}: nothing is mounted at {}", config_dir.display()));
    let (_, configmap) = one_of_kind("ConfigMap");
    assert_eq!(
        volume(&mount["name"])["configMap"]["name"],
        configmap["metadata"]["name"],
        "{at}: {} must be the ConfigMap",
        config_dir.display()
    );
    let file = config.file_name().unwrap().to_string_lossy();
    assert!(
        configmap["data"][file.as_ref()].is_string(),
        "{at}: the ConfigMap has no key {file} for --config {}",
        config.display()
    );

    // Secrets come from the Secret the example describes.
    let (_, secret) = one_of_kind("Secret");
    let from_secret = c["envFrom"].as_array().is_some_and(|l| {
        l.iter()
            .any(|e| e["secretRef"]["name"] == secret["metadata"]["name"])
    });
    assert!(
        from_secret,
        "{at}: envFrom must name the Secret {}",
        secret["metadata"]["name"]
    );

    // The image's user is the one the pod runs as.
    let dockerfile = Dockerfile::read();
    if let Some(uid) = pod["securityContext"]["runAsUser"]
        .as_i64()
        .or(c["securityContext"]["runAsUser"].as_i64())
    {
        assert_eq!(
            Some(uid),
            dockerfile.uid(),
            "{at}: runAsUser must be the image's USER"
        );
    }
}

#[test]
fn service_pdb_and_servicemonitor_select_the_deployments_pods() {
    let (_, d) = one_of_kind("Deployment");
    let pod_labels = &d["spec"]["template"]["metadata"]["labels"];
    let c = okno_container(&d);

    let (path, service) = one_of_kind("Service");
    let at = rel(&path);
    assert_eq!(service["spec"]["type"], "ClusterIP", "{at}: type");
    assert!(
        selects(&service["spec"]["selector"], pod_labels),
        "{at}: spec.selector must select the Deployment's pods"
    );
    let ports = service["spec"]["ports"].as_array().expect("Service: ports");
    let http = ports
        .iter()
        .find(|p| p["name"] == "http")
        .unwrap_or_else(|| panic!("{at}: a port named http"));
    let target = if http["targetPort"].is_null() {
        &http["port"]
    } else {
        &http["targetPort"]
    };
    assert_eq!(
        container_port(c, target),
        Some(8080),
        "{at}: port http must reach 8080"
    );

    let (path, pdb) = one_of_kind("PodDisruptionBudget");
    let at = rel(&path);
    assert!(
        selects(&pdb["spec"]["selector"]["matchLabels"], pod_labels),
        "{at}: spec.selector.matchLabels must select the Deployment's pods"
    );
    let min = pdb["spec"]["minAvailable"]
        .as_i64()
        .expect("PDB: minAvailable as a number");
    let replicas = d["spec"]["replicas"].as_i64().unwrap();
    assert!(
        min >= 1 && min < replicas,
        "{at}: minAvailable {min} must be at least 1 and below replicas {replicas}, or no node could ever drain"
    );

    // The ServiceMonitor (optional) scrapes /metrics on a Service port, with the token okno expects.
    let monitors: Vec<_> = manifests()
        .into_iter()
        .filter(|(_, d)| d["kind"] == "ServiceMonitor")
        .collect();
    for (path, m) in monitors {
        let at = rel(&path);
        assert!(
            selects(
                &m["spec"]["selector"]["matchLabels"],
                &service["metadata"]["labels"]
            ),
            "{at}: spec.selector must select the Service's labels"
        );
        let endpoints = m["spec"]["endpoints"]
            .as_array()
            .expect("ServiceMonitor: endpoints");
        for e in endpoints {
            assert!(
                ports.iter().any(|p| p["name"] == e["port"]),
                "{at}: endpoint port {} is not a port name of the Service",
                e["port"]
            );
            assert_eq!(e["path"], "/metrics", "{at}: endpoint path");
            let toml = kubernetes_okno_toml();
            let token_var = metrics_token_variable(&toml);
            let creds = &e["authorization"]["credentials"];
            match token_var {
                Some(var) => {
                    let (_, secret) = one_of_kind("Secret");
                    assert_eq!(
                        creds["name"], secret["metadata"]["name"],
                        "{at}: metrics_token is set: the bearer token must come from the Secret"
                    );
                    assert_eq!(
                        creds["key"].as_str(),
                        Some(var.as_str()),
                        "{at}: the bearer token must be the Secret key metrics_token reads"
                    );
                }
                None => assert!(
                    creds.is_null(),
                    "{at}: metrics_token is not set, so no bearer token is needed"
                ),
            }
        }
    }
}

/// The ConfigMap's okno.toml.
fn kubernetes_okno_toml() -> String {
    let (_, configmap) = one_of_kind("ConfigMap");
    str_of(&configmap["data"]["okno.toml"], "ConfigMap data.okno.toml").to_string()
}

/// The variable `[server] metrics_token = "${NAME}"` reads, if it is set that way.
fn metrics_token_variable(toml: &str) -> Option<String> {
    let table: toml::Table = toml.parse().expect("okno.toml is TOML");
    let token = table.get("server")?.get("metrics_token")?.as_str()?;
    let name = token.strip_prefix("${")?.strip_suffix('}')?;
    Some(name.to_string())
}

#[test]
fn the_configmap_loads_with_the_environment_the_pod_gets() {
    let (path, configmap) = one_of_kind("ConfigMap");
    let at = rel(&path);
    let (_, d) = one_of_kind("Deployment");
    let c = okno_container(&d);
    let (secret_path, secret) = one_of_kind("Secret");

    // The pod's environment: the Secret's keys (placeholders) and the container's own values.
    let mut env = BTreeMap::new();
    let data = secret["stringData"]
        .as_object()
        .expect("the Secret example lists its keys under stringData");
    for (k, v) in data {
        let v = str_of(v, "stringData value");
        assert!(
            v.contains("CHANGE-ME"),
            "{}: {k} must be a placeholder containing CHANGE-ME, never a real value",
            rel(&secret_path)
        );
        env.insert(k.clone(), v.to_string());
    }
    for e in c["env"].as_array().into_iter().flatten() {
        if let Some(v) = e["value"].as_str() {
            env.insert(str_of(&e["name"], "env[].name").to_string(), v.to_string());
        }
    }

    let files: BTreeMap<String, String> = configmap["data"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), str_of(v, "ConfigMap data").to_string()))
        .collect();
    let args: Vec<String> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let config_path = assert_runs_daemon(&args, &at);
    let name = config_path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    let config = load_config(&files, &name, &env, &at);
    assert_serves_in_container(&config, 8080, &at);
    assert!(
        config.store.url.starts_with("postgres"),
        "{at}: {} replicas need a PostgreSQL store (SQLite is for one process), not {}",
        d["spec"]["replicas"],
        config.store.shown_url()
    );
}

#[test]
fn kustomizations_list_every_manifest_beside_them() {
    let kustomizations: Vec<_> = manifests()
        .into_iter()
        .filter(|(p, _)| p.file_name().is_some_and(|n| n == "kustomization.yaml"))
        .collect();
    assert!(
        !kustomizations.is_empty(),
        "no kustomization.yaml under deploy/"
    );
    for (path, k) in kustomizations {
        let at = rel(&path);
        let dir = path.parent().unwrap();
        let listed: Vec<String> = k["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(k["components"].as_array().into_iter().flatten())
            .map(|r| str_of(r, "resources[]").to_string())
            .collect();
        for r in &listed {
            let target = dir.join(r);
            assert!(
                target.is_file() || target.join("kustomization.yaml").is_file(),
                "{at}: lists {r}, which is neither a file nor a kustomization"
            );
        }
        // Every manifest beside it is listed, but examples (never applied over real values).
        for entry in std::fs::read_dir(dir).unwrap() {
            let file = entry.unwrap().path();
            let name = file.file_name().unwrap().to_string_lossy().to_string();
            let is_yaml = name.ends_with(".yaml") || name.ends_with(".yml");
            if !file.is_file() || !is_yaml || name == "kustomization.yaml" {
                continue;
            }
            if name.contains(".example.") {
                assert!(
                    !listed.contains(&name),
                    "{at}: {name} is an example and must not be applied"
                );
                continue;
            }
            assert!(listed.contains(&name), "{at}: does not list {name}");
        }
    }
    // The Secret with placeholders is never applied by kustomize.
    for (path, d) in manifests() {
        if d["kind"] == "Secret" {
            assert!(
                path.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .contains(".example."),
                "{}: a Secret in deploy/ must be an *.example.yaml with placeholders",
                rel(&path)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Compose

/// Compose's variable interpolation: `${VAR:-default}` and `${VAR-default}` give the default,
/// other references (`${VAR}`, `${VAR:?error}`) a dummy value; `$$` is a literal `$`.
fn interpolate(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('{') {
            let end = tail.find('}').expect("unclosed ${ in compose.yaml");
            let expr = &tail[..end];
            let name_len = expr
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(expr.len());
            let (name, op) = expr.split_at(name_len);
            let value = match op.strip_prefix(":-").or_else(|| op.strip_prefix('-')) {
                Some(default) => default.to_string(),
                None => format!("dummy-{}", name.to_lowercase()),
            };
            out.push_str(&value);
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Seconds in a compose or systemd duration: `60s`, `1m30s`, `90`, `1min 30s`.
fn seconds(text: &str) -> u64 {
    let mut total = 0;
    let mut number = String::new();
    let mut unit = String::new();
    let flush = |number: &mut String, unit: &mut String, total: &mut u64| {
        if number.is_empty() {
            return;
        }
        let n: u64 = number.parse().unwrap();
        *total += match unit.as_str() {
            "" | "s" | "sec" => n,
            "m" | "min" => n * 60,
            "h" => n * 3600,
            "ms" => 0,
            other => panic!("unknown duration unit {other:?} in {text:?}"),
        };
        number.clear();
        unit.clear();
    };
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            if !unit.is_empty() {
                flush(&mut number, &mut unit, &mut total);
            }
            number.push(ch);
        } else if ch.is_ascii_alphabetic() {
            unit.push(ch);
        } else {
            flush(&mut number, &mut unit, &mut total);
        }
    }
    flush(&mut number, &mut unit, &mut total);
    total
}

#[test]
fn compose_starts_okno_after_a_healthy_postgres_and_its_config_loads() {
    let files: Vec<_> = yaml_files()
        .into_iter()
        .filter(|f| is_compose(&f.path))
        .collect();
    assert!(!files.is_empty(), "no compose file under deploy/");
    for file in files {
        let at = rel(&file.path);
        let dir = file.path.parent().unwrap();
        let doc = &file.docs[0];
        let okno = &doc["services"]["okno"];
        let pg = &doc["services"]["postgres"];
        assert!(okno.is_object(), "{at}: a service named okno");
        assert!(
            pg["image"]
                .as_str()
                .is_some_and(|i| i.starts_with("postgres:15")),
            "{at}: postgres must be postgres:15"
        );
        let check = pg["healthcheck"]["test"].to_string();
        assert!(
            check.contains("pg_isready"),
            "{at}: postgres healthcheck must run pg_isready"
        );
        assert_eq!(
            okno["depends_on"]["postgres"]["condition"], "service_healthy",
            "{at}: okno must wait for a healthy postgres"
        );
        assert!(
            okno["stop_grace_period"]
                .as_str()
                .is_some_and(|s| seconds(s) >= 30),
            "{at}: okno needs stop_grace_period >= 30s to commit the page being written"
        );

        // The image it builds exists.
        let build = &okno["build"];
        let dockerfile = dir
            .join(str_of(&build["context"], "build.context"))
            .join(build["dockerfile"].as_str().unwrap_or("Dockerfile"));
        assert!(
            dockerfile.is_file(),
            "{at}: build.dockerfile {} does not exist",
            dockerfile.display()
        );

        // Port 8080 published.
        let published = okno["ports"].as_array().into_iter().flatten().any(|p| {
            let p = p
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| p.to_string());
            p.rsplit(':').next() == Some("8080") || p.ends_with(":8080/tcp")
        });
        assert!(published, "{at}: okno must publish container port 8080");

        // The command runs the daemon; its config is mounted read-only from a file beside.
        let args: Vec<String> = okno["command"]
            .as_array()
            .expect("compose: okno.command as a list")
            .iter()
            .map(|a| str_of(a, "command[]").to_string())
            .collect();
        let config_path = assert_runs_daemon(&args, &at);
        let mount = okno["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .find(|v| v.split(':').nth(1) == Some(config_path.to_str().unwrap()))
            .unwrap_or_else(|| panic!("{at}: nothing mounted at {}", config_path.display()));
        let parts: Vec<&str> = mount.split(':').collect();
        assert_eq!(
            parts.get(2),
            Some(&"ro"),
            "{at}: mount the configuration read-only"
        );
        let source = dir.join(parts[0].trim_start_matches("./"));
        assert!(
            source.is_file(),
            "{at}: {} does not exist",
            source.display()
        );

        // okno's environment, interpolated as compose would (defaults, or dummies).
        let mut env = BTreeMap::new();
        match &okno["environment"] {
            Value::Object(map) => {
                for (k, v) in map {
                    let v = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    env.insert(k.clone(), interpolate(&v));
                }
            }
            Value::Array(items) => {
                for item in items {
                    let (k, v) = str_of(item, "environment[]").split_once('=').unwrap();
                    env.insert(k.to_string(), interpolate(v));
                }
            }
            _ => {}
        }
        let store = env
            .get("OKNO__STORE__URL")
            .unwrap_or_else(|| panic!("{at}: okno needs OKNO__STORE__URL pointing at postgres"));
        let url = url::Url::parse(store).unwrap_or_else(|e| panic!("{at}: OKNO__STORE__URL: {e}"));
        assert_eq!(url.scheme(), "postgres", "{at}: OKNO__STORE__URL scheme");
        assert_eq!(
            url.host_str(),
            Some("postgres"),
            "{at}: OKNO__STORE__URL must reach the postgres service"
        );
        assert_eq!(
            url.username(),
            interpolate(str_of(&pg["environment"]["POSTGRES_USER"], "POSTGRES_USER")),
            "{at}: OKNO__STORE__URL user"
        );
        assert_eq!(
            url.password().unwrap_or(""),
            interpolate(str_of(
                &pg["environment"]["POSTGRES_PASSWORD"],
                "POSTGRES_PASSWORD"
            )),
            "{at}: OKNO__STORE__URL password"
        );

        let name = config_path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let files = BTreeMap::from([(name.clone(), read(&source))]);
        let config = load_config(&files, &name, &env, &rel(&source));
        assert_serves_in_container(&config, 8080, &rel(&source));
        assert!(
            config.store.url.starts_with("postgres://"),
            "{at}: OKNO__STORE__URL must win over [store] url"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// systemd

struct Unit {
    /// (section, key, value) in file order.
    entries: Vec<(String, String, String)>,
}

impl Unit {
    fn read() -> Unit {
        let text = read(&deploy().join("systemd/okno.service"));
        let mut entries = Vec::new();
        let mut section = String::new();
        let mut pending = String::new();
        for raw in text.lines() {
            let line = raw.trim();
            if pending.is_empty()
                && (line.is_empty() || line.starts_with('#') || line.starts_with(';'))
            {
                continue;
            }
            if let Some(cont) = line.strip_suffix('\\') {
                pending.push_str(cont);
                pending.push(' ');
                continue;
            }
            let line = format!("{pending}{line}");
            pending.clear();
            if line.starts_with('[') && line.ends_with(']') {
                section = line[1..line.len() - 1].to_string();
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("okno.service: not key=value: {line:?}"));
            entries.push((section.clone(), k.trim().to_string(), v.trim().to_string()));
        }
        Unit { entries }
    }

    /// Every value of `key` in [Service], in order.
    fn all(&self, key: &str) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|(s, k, _)| s == "Service" && k == key)
            .map(|(_, _, v)| v.as_str())
            .collect()
    }

    /// The effective value of a single-valued key (the last assignment).
    fn get(&self, key: &str) -> Option<&str> {
        self.all(key).last().copied()
    }

    /// An Exec line's arguments, without systemd's prefixes (`-`, `@`, `+`, `!`, `:`).
    fn exec(&self, key: &str) -> Vec<String> {
        let line = self
            .get(key)
            .unwrap_or_else(|| panic!("okno.service: no {key}"));
        assert!(
            !line.contains(['"', '\'']),
            "okno.service: keep {key} free of quotes so it reads the same everywhere"
        );
        let line = line.trim_start_matches(['-', '@', '+', '!', ':']);
        line.split_whitespace().map(str::to_string).collect()
    }
}

#[test]
fn the_systemd_unit_is_hardened_and_runs_okno() {
    let unit = Unit::read();
    let expect = [
        ("User", "okno"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"),
        ("StateDirectory", "okno"),
        ("ConfigurationDirectory", "okno"),
        ("WorkingDirectory", "/var/lib/okno"),
        ("EnvironmentFile", "-/etc/okno/okno.env"),
        ("Restart", "on-failure"),
        ("KillMode", "mixed"),
        ("CapabilityBoundingSet", ""),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("MemoryDenyWriteExecute", "yes"),
        ("LockPersonality", "yes"),
    ];
    for (key, value) in expect {
        assert_eq!(unit.get(key), Some(value), "okno.service: {key}");
    }
    assert!(
        matches!(unit.get("DynamicUser"), None | Some("no")),
        "okno.service: the unit runs as the static user okno"
    );
    assert!(
        unit.all("SystemCallFilter").contains(&"@system-service"),
        "okno.service: SystemCallFilter=@system-service"
    );
    // okno judges a lease holder on this host dead when /proc/<pid> is gone; hiding other
    // processes would let the daemon take over the lease of a live `okno sync`.
    assert!(
        matches!(unit.get("ProtectProc"), None | Some("default")),
        "okno.service: ProtectProc would hide live okno processes from the lease check"
    );
    let restart_sec = unit.get("RestartSec").expect("okno.service: RestartSec");
    assert!(seconds(restart_sec) >= 1, "okno.service: RestartSec");
    let stop = unit
        .get("TimeoutStopSec")
        .expect("okno.service: TimeoutStopSec");
    assert!(
        seconds(stop) >= 30,
        "okno.service: TimeoutStopSec={stop} is too short to commit a page"
    );

    // ExecStartPre validates, ExecStart runs the daemon, both on the same configuration in
    // ConfigurationDirectory.
    let pre = unit.exec("ExecStartPre");
    let start = unit.exec("ExecStart");
    for line in [&pre, &start] {
        assert!(
            line[0].starts_with('/') && line[0].ends_with("/okno"),
            "okno.service: run okno by absolute path"
        );
    }
    assert_eq!(
        pre[0], start[0],
        "okno.service: ExecStartPre and ExecStart run the same binary"
    );
    let pre_cli = okno_cli(&pre[1..], "okno.service ExecStartPre");
    assert!(
        matches!(
            pre_cli.command,
            okno::cli::Command::Validate { online: false }
        ),
        "okno.service: ExecStartPre must be an offline `validate`"
    );
    let config = assert_runs_daemon(&start[1..], "okno.service ExecStart");
    assert_eq!(
        pre_cli.config, config,
        "okno.service: ExecStartPre checks another file than ExecStart runs"
    );
    assert_eq!(
        config,
        Path::new("/etc/okno/okno.toml"),
        "okno.service: --config"
    );
    assert!(config.starts_with(format!(
        "/etc/{}",
        unit.get("ConfigurationDirectory").unwrap()
    )));
    assert_eq!(
        unit.get("WorkingDirectory").map(PathBuf::from),
        Some(Path::new("/var/lib").join(unit.get("StateDirectory").unwrap())),
        "okno.service: the working directory is the state directory (relative SQLite paths land there)"
    );
}

/// `NAME=value` lines of an environment file, commented-out ones too (`# NAME=value`).
fn env_file(path: &Path, include_commented: bool) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for (i, raw) in read(path).lines().enumerate() {
        let line = raw.trim();
        let line = match line.strip_prefix('#') {
            Some(c) if include_commented => c.trim(),
            Some(_) => continue,
            None => line,
        };
        if line.is_empty() {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let valid = !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            && !k.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            assert!(
                raw.trim_start().starts_with('#'),
                "{}:{}: not NAME=value: {raw:?}",
                rel(path),
                i + 1
            );
            continue;
        }
        vars.insert(k.to_string(), v.trim_matches('"').to_string());
    }
    vars
}

#[test]
fn the_systemd_env_example_covers_the_example_configuration() {
    // The unit is installed with config/okno.example.toml as /etc/okno/okno.toml: the env
    // example must provide every variable it references.
    let example = root().join("config/okno.example.toml");
    let vars = env_file(&deploy().join("systemd/okno.env.example"), false);
    for (k, v) in &vars {
        assert!(
            v.contains("CHANGE-ME"),
            "okno.env.example: {k} must be a placeholder containing CHANGE-ME"
        );
    }
    let all = env_file(&deploy().join("systemd/okno.env.example"), true);
    let text = read(&example);
    for name in env_references(&text) {
        assert!(
            all.contains_key(&name),
            "deploy/systemd/okno.env.example does not mention {name}, which config/okno.example.toml references"
        );
    }
    let files = BTreeMap::from([("okno.toml".to_string(), text)]);
    let config = load_config(
        &files,
        "okno.toml",
        &vars,
        "config/okno.example.toml with okno.env.example",
    );
    assert!(config.connectors.iter().any(|c| c.enabled));
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

struct Dockerfile {
    /// Stages, each a list of (INSTRUCTION, arguments), continuation lines joined.
    stages: Vec<Vec<(String, String)>>,
    /// ARGs before the first FROM, with their defaults.
    global_args: BTreeMap<String, String>,
}

impl Dockerfile {
    fn read() -> Dockerfile {
        let text = read(&deploy().join("container/Dockerfile"));
        let mut instructions = Vec::new();
        let mut pending = String::new();
        for raw in text.lines() {
            let line = raw.trim();
            if line.starts_with('#') || (line.is_empty() && pending.is_empty()) {
                continue;
            }
            if let Some(cont) = line.strip_suffix('\\') {
                pending.push_str(cont);
                pending.push(' ');
                continue;
            }
            let full = format!("{pending}{line}");
            pending.clear();
            if full.trim().is_empty() {
                continue;
            }
            let (word, rest) = full
                .trim()
                .split_once(char::is_whitespace)
                .unwrap_or((full.trim(), ""));
            instructions.push((word.to_uppercase(), rest.trim().to_string()));
        }
        let mut global_args = BTreeMap::new();
        let mut stages: Vec<Vec<(String, String)>> = Vec::new();
        for (word, rest) in instructions {
            if word == "FROM" {
                stages.push(Vec::new());
            }
            match stages.last_mut() {
                Some(stage) => stage.push((word, rest)),
                None if word == "ARG" => {
                    let (k, v) = rest.split_once('=').unwrap_or((rest.as_str(), ""));
                    global_args.insert(k.to_string(), v.to_string());
                }
                None => panic!("Dockerfile: {word} before the first FROM"),
            }
        }
        Dockerfile {
            stages,
            global_args,
        }
    }

    fn last(&self, stage: &[(String, String)], word: &str) -> Option<String> {
        stage
            .iter()
            .rev()
            .find(|(w, _)| w == word)
            .map(|(_, r)| r.clone())
    }

    fn runtime(&self) -> &[(String, String)] {
        self.stages.last().expect("Dockerfile: no FROM")
    }

    /// The runtime stage's numeric USER.
    fn uid(&self) -> Option<i64> {
        self.last(self.runtime(), "USER")?
            .split(':')
            .next()?
            .parse()
            .ok()
    }

    /// An exec-form (JSON) instruction of the runtime stage.
    fn exec_form(&self, word: &str) -> Vec<String> {
        let text = self
            .last(self.runtime(), word)
            .unwrap_or_else(|| panic!("Dockerfile: no {word}"));
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("Dockerfile: {word} must be exec form (a JSON list): {e}"))
    }
}

/// `1.95`, `1.95.0` or `1.95-slim-bookworm` → (1, 95).
fn version(text: &str) -> (u64, u64) {
    let mut parts = text.split('.').map(|p| {
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u64>().unwrap_or(0)
    });
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[test]
fn the_dockerfile_builds_locked_and_runs_unprivileged() {
    let df = Dockerfile::read();
    assert!(
        df.stages.len() >= 2,
        "Dockerfile: multi-stage (a builder and a runtime)"
    );

    // The builder: Rust at least the workspace's rust-version, `cargo build --release --locked`.
    let build = &df.stages[0];
    let mut image = build[0].1.split_whitespace().next().unwrap().to_string();
    for (k, v) in &df.global_args {
        image = image
            .replace(&format!("${{{k}}}"), v)
            .replace(&format!("${k}"), v);
    }
    let rust = image.strip_prefix("rust:").unwrap_or_else(|| {
        panic!("Dockerfile: the builder is an official rust image, not {image}")
    });
    let manifest: toml::Table = read(&root().join("Cargo.toml")).parse().unwrap();
    let msrv = manifest["workspace"]["package"]["rust-version"]
        .as_str()
        .unwrap();
    assert!(
        version(rust) >= version(msrv),
        "Dockerfile: builder {image} is older than rust-version {msrv}"
    );
    let cargo = build
        .iter()
        .filter(|(w, _)| w == "RUN")
        .map(|(_, r)| r)
        .find(|r| r.contains("cargo build"))
        .expect("Dockerfile: the builder runs cargo build");
    for flag in ["--locked", "--release"] {
        assert!(cargo.contains(flag), "Dockerfile: cargo build {flag}");
    }

    // The runtime stage.
    let rt = df.runtime();
    let user = df
        .last(rt, "USER")
        .expect("Dockerfile: the runtime stage sets USER");
    let name = user.split(':').next().unwrap();
    assert!(
        !matches!(name, "root" | "0"),
        "Dockerfile: USER must not be root"
    );
    assert!(
        df.uid().is_some_and(|u| u >= 1000),
        "Dockerfile: USER must be a numeric uid (>= 1000) so Kubernetes' runAsNonRoot can check it"
    );
    let health = df.last(rt, "HEALTHCHECK").expect("Dockerfile: HEALTHCHECK");
    assert!(
        health.contains("/healthz") && health.contains(":8080"),
        "Dockerfile: HEALTHCHECK must call /healthz on port 8080"
    );
    let expose = df.last(rt, "EXPOSE").expect("Dockerfile: EXPOSE");
    assert!(
        expose
            .split_whitespace()
            .any(|p| p == "8080" || p == "8080/tcp"),
        "Dockerfile: EXPOSE 8080"
    );
    assert_eq!(
        df.last(rt, "STOPSIGNAL").as_deref(),
        Some("SIGTERM"),
        "Dockerfile: STOPSIGNAL"
    );
    assert_eq!(
        df.last(rt, "WORKDIR").as_deref(),
        Some("/var/lib/okno"),
        "Dockerfile: WORKDIR"
    );
    let entrypoint = df.exec_form("ENTRYPOINT");
    assert_eq!(
        entrypoint,
        ["/usr/local/bin/okno"],
        "Dockerfile: ENTRYPOINT"
    );
    assert!(
        rt.iter()
            .any(|(w, r)| w == "COPY" && r.contains("--from=") && r.ends_with(&entrypoint[0])),
        "Dockerfile: the runtime stage copies the built binary to {}",
        entrypoint[0]
    );
    let config = assert_runs_daemon(&df.exec_form("CMD"), "Dockerfile CMD");
    assert_eq!(
        config,
        Path::new("/etc/okno/okno.toml"),
        "Dockerfile CMD --config"
    );

    // Its build context leaves out what must not go into an image.
    let ignore = read(&deploy().join("container/Dockerfile.dockerignore"));
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    for p in ["target", ".git", "data"] {
        assert!(
            patterns
                .iter()
                .any(|l| l.trim_matches('/') == p || *l == format!("**/{p}")),
            "Dockerfile.dockerignore: exclude {p}"
        );
    }
}
