//! The deployment files of README's "Running on several machines":
//! `examples/k8s/` (CronJob, Secret, ConfigMap) and
//! `examples/systemd-multi-host/`. Each check is one the README or a file's
//! comment relies on: every name one file refers to exists where it is
//! defined, the ConfigMap's account files pass the real binary's `validate`
//! with exactly the environment the pod gets, the deadlines fit the tool's
//! own job deadlines, no store URL holds a password, and, where
//! `systemd-analyze` is installed, it accepts the units.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use oms_channels::capabilities::Capabilities;
use oms_channels::config::{AccountConfig, GrantKind};
use oms_channels::store::StoreSpec;
use yaml_rust2::{Yaml, YamlLoader};

use test_support::{TestEnv, oms_channels_bin};

const K8S_DIR: &str = "examples/k8s";
const SYSTEMD_DIR: &str = "examples/systemd-multi-host";

fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The README with every run of white space made one space, so that a
/// phrase is found across the line breaks of its paragraph.
fn readme() -> String {
    read("README.md")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo(relative)).unwrap_or_else(|e| panic!("read {relative}: {e}"))
}

// ---------------------------------------------------------------- YAML ----

/// One Kubernetes object and the file it came from.
struct Object {
    file: String,
    doc: Yaml,
}

impl Object {
    fn kind(&self) -> &str {
        self.doc["kind"].as_str().unwrap_or_default()
    }

    fn name(&self) -> &str {
        self.doc["metadata"]["name"].as_str().unwrap_or_default()
    }
}

/// The node at a dotted path (`spec.jobTemplate.spec`), `BadValue` if absent.
fn at<'a>(node: &'a Yaml, path: &str) -> &'a Yaml {
    path.split('.').fold(node, |node, key| &node[key])
}

fn text<'a>(node: &'a Yaml, path: &str) -> &'a str {
    at(node, path)
        .as_str()
        .unwrap_or_else(|| panic!("`{path}` is not a string: {:?}", at(node, path)))
}

fn int(node: &Yaml, path: &str) -> i64 {
    at(node, path)
        .as_i64()
        .unwrap_or_else(|| panic!("`{path}` is not an integer: {:?}", at(node, path)))
}

fn opt_int(node: &Yaml, path: &str) -> Option<i64> {
    let value = at(node, path);
    if value.is_badvalue() {
        return None;
    }
    Some(
        value
            .as_i64()
            .unwrap_or_else(|| panic!("`{path}` is not an integer: {value:?}")),
    )
}

fn list<'a>(node: &'a Yaml, path: &str) -> &'a [Yaml] {
    let value = at(node, path);
    if value.is_badvalue() {
        return &[];
    }
    value
        .as_vec()
        .unwrap_or_else(|| panic!("`{path}` is not a list: {value:?}"))
}

/// The keys of a mapping at `path` (none if absent).
fn keys(node: &Yaml, path: &str) -> BTreeSet<String> {
    match at(node, path) {
        Yaml::Hash(hash) => hash
            .keys()
            .map(|k| k.as_str().expect("string keys").to_string())
            .collect(),
        Yaml::BadValue => BTreeSet::new(),
        other => panic!("`{path}` is not a mapping: {other:?}"),
    }
}

/// Every object in every file `kubectl apply -f examples/k8s/` reads.
fn k8s_objects() -> Vec<Object> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo(K8S_DIR))
        .expect("examples/k8s exists")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no manifest in {K8S_DIR}");
    let mut objects = Vec::new();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(&path).unwrap();
        let docs = YamlLoader::load_from_str(&source)
            .unwrap_or_else(|e| panic!("{file} is not valid YAML: {e}"));
        for doc in docs.into_iter().filter(|d| !d.is_null()) {
            for field in ["apiVersion", "kind", "metadata.name"] {
                assert!(
                    at(&doc, field).as_str().is_some_and(|s| !s.is_empty()),
                    "{file}: an object without `{field}`"
                );
            }
            objects.push(Object {
                file: file.clone(),
                doc,
            });
        }
    }
    objects
}

fn the_one<'a>(objects: &'a [Object], kind: &str) -> &'a Object {
    let found: Vec<&Object> = objects.iter().filter(|o| o.kind() == kind).collect();
    assert_eq!(found.len(), 1, "exactly one {kind} in {K8S_DIR}");
    found[0]
}

fn named<'a>(objects: &'a [Object], kind: &str, name: &str) -> &'a Object {
    objects
        .iter()
        .find(|o| o.kind() == kind && o.name() == name)
        .unwrap_or_else(|| {
            panic!("the CronJob refers to {kind} `{name}`, which {K8S_DIR} does not define")
        })
}

/// The keys a Secret defines (`stringData` and `data`).
fn secret_keys(secret: &Object) -> BTreeSet<String> {
    let mut all = keys(&secret.doc, "stringData");
    all.extend(keys(&secret.doc, "data"));
    all
}

/// The keys a ConfigMap defines (`data` and `binaryData`).
fn config_map_keys(map: &Object) -> BTreeSet<String> {
    let mut all = keys(&map.doc, "data");
    all.extend(keys(&map.doc, "binaryData"));
    all
}

fn pod_spec(cron: &Object) -> &Yaml {
    at(&cron.doc, "spec.jobTemplate.spec.template.spec")
}

fn the_container(cron: &Object) -> &Yaml {
    let containers = list(pod_spec(cron), "containers");
    assert_eq!(containers.len(), 1, "one container: the runner");
    assert!(list(pod_spec(cron), "initContainers").is_empty());
    &containers[0]
}

/// Where an environment variable of the container comes from.
#[derive(Debug, PartialEq)]
enum EnvSource {
    Literal(String),
    Secret { name: String, key: String },
    ConfigMap { name: String, key: String },
}

fn container_env(container: &Yaml) -> BTreeMap<String, EnvSource> {
    let mut env = BTreeMap::new();
    for entry in list(container, "env") {
        let name = text(entry, "name").to_string();
        let source = if let Some(value) = entry["value"].as_str() {
            EnvSource::Literal(value.to_string())
        } else if !at(entry, "valueFrom.secretKeyRef").is_badvalue() {
            EnvSource::Secret {
                name: text(entry, "valueFrom.secretKeyRef.name").to_string(),
                key: text(entry, "valueFrom.secretKeyRef.key").to_string(),
            }
        } else if !at(entry, "valueFrom.configMapKeyRef").is_badvalue() {
            EnvSource::ConfigMap {
                name: text(entry, "valueFrom.configMapKeyRef.name").to_string(),
                key: text(entry, "valueFrom.configMapKeyRef.key").to_string(),
            }
        } else {
            panic!("env `{name}`: neither a value nor a Secret or ConfigMap key: {entry:?}");
        };
        assert!(
            env.insert(name.clone(), source).is_none(),
            "env `{name}` is set twice"
        );
    }
    env
}

fn literal<'a>(env: &'a BTreeMap<String, EnvSource>, name: &str) -> &'a str {
    match env.get(name) {
        Some(EnvSource::Literal(value)) => value,
        other => panic!("the runner needs `{name}` set to a value, found {other:?}"),
    }
}

/// A file the pod sees: a volume item (or a whole key) at its mount path.
struct MountedFile {
    path: String,
    volume_kind: &'static str,
    source: String,
    key: String,
}

/// Every file the container's volumes put in its file system, checking on
/// the way that each mount names a volume and each item an existing key.
fn mounted_files(objects: &[Object], cron: &Object) -> Vec<MountedFile> {
    let spec = pod_spec(cron);
    let container = the_container(cron);
    let mut files = Vec::new();
    for mount in list(container, "volumeMounts") {
        let name = text(mount, "name");
        let mount_path = text(mount, "mountPath").trim_end_matches('/');
        let volume = list(spec, "volumes")
            .iter()
            .find(|v| v["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("volumeMount `{name}` names no volume"));
        let (volume_kind, source, defined, items) = if !volume["configMap"].is_badvalue() {
            let source = text(volume, "configMap.name");
            let map = named(objects, "ConfigMap", source);
            (
                "ConfigMap",
                source,
                config_map_keys(map),
                list(volume, "configMap.items"),
            )
        } else if !volume["secret"].is_badvalue() {
            let source = text(volume, "secret.secretName");
            let secret = named(objects, "Secret", source);
            (
                "Secret",
                source,
                secret_keys(secret),
                list(volume, "secret.items"),
            )
        } else {
            continue;
        };
        let mut projected = Vec::new();
        if items.is_empty() {
            projected.extend(defined.iter().map(|k| (k.clone(), k.clone())));
        } else {
            for item in items {
                let key = text(item, "key");
                assert!(
                    defined.contains(key),
                    "volume `{name}` projects key `{key}`, which {volume_kind} `{source}` does not hold \
                     (the pod would never start)"
                );
                projected.push((key.to_string(), text(item, "path").to_string()));
            }
            let listed: BTreeSet<&str> = projected.iter().map(|(k, _)| k.as_str()).collect();
            for key in &defined {
                assert!(
                    listed.contains(key.as_str()),
                    "{volume_kind} `{source}` holds `{key}`, but volume `{name}` does not list it in \
                     `items`, so the runners never see it (add an item with its path)"
                );
            }
        }
        for (key, path) in projected {
            files.push(MountedFile {
                path: format!("{mount_path}/{path}"),
                volume_kind,
                source: source.to_string(),
                key,
            });
        }
    }
    files
}

/// The secret variables an account file names (`client-secret-env`,
/// `password-env`, `api-key-env`, ...), and the files it names (`*-file`).
fn named_secrets(account_toml: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let doc: toml::Table = toml::from_str(account_toml).expect("account file is TOML");
    let (mut vars, mut files) = (BTreeSet::new(), BTreeSet::new());
    let channels = doc.get("channels").and_then(|c| c.as_table());
    for channel in channels.into_iter().flat_map(|c| c.values()) {
        let auth = channel.get("auth").and_then(|a| a.as_table());
        for (key, value) in auth.into_iter().flatten() {
            if let Some(value) = value.as_str() {
                if key.ends_with("-env") {
                    vars.insert(value.to_string());
                } else if key.ends_with("-file") {
                    files.insert(value.to_string());
                }
            }
        }
    }
    (vars, files)
}

// ------------------------------------------------------------- systemd ----

/// A unit file as (section, key, value) lines, in order.
fn unit(relative: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut entries = Vec::new();
    for line in read(relative).lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{relative}: not `key=value`: {line}"));
        entries.push((
            section.clone(),
            key.trim().to_string(),
            value.trim().to_string(),
        ));
    }
    entries
}

fn unit_values<'a>(
    entries: &'a [(String, String, String)],
    section: &str,
    key: &str,
) -> Vec<&'a str> {
    entries
        .iter()
        .filter(|(s, k, _)| s == section && k == key)
        .map(|(_, _, v)| v.as_str())
        .collect()
}

fn unit_value<'a>(entries: &'a [(String, String, String)], section: &str, key: &str) -> &'a str {
    match unit_values(entries, section, key).as_slice() {
        [one] => one,
        other => panic!("[{section}] {key}= must be set once, found {other:?}"),
    }
}

/// A systemd time span as the units here write them (`30`, `30s`, `1min`).
fn time_span(value: &str) -> Duration {
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: u64 = number
        .parse()
        .unwrap_or_else(|_| panic!("time span `{value}`"));
    match unit.trim() {
        "" | "s" | "sec" => Duration::from_secs(number),
        "ms" | "msec" => Duration::from_millis(number),
        "m" | "min" => Duration::from_secs(number * 60),
        other => panic!("time span `{value}`: unit `{other}` not handled here"),
    }
}

/// An EnvironmentFile as systemd reads it: `KEY=value`, `#` comments, one
/// pair of surrounding double quotes removed.
fn environment_file(relative: &str) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for line in read(relative).lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{relative}: not KEY=value: {line}"));
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        vars.insert(key.to_string(), value.to_string());
    }
    vars
}

// --------------------------------------------------------------- URLs ----

/// Every `postgres://` or `postgresql://` URL in a text (neither scheme
/// contains the other, so each URL is found once).
fn store_urls(text: &str) -> Vec<String> {
    let mut urls = Vec::new();
    for scheme in ["postgres://", "postgresql://"] {
        let mut rest = text;
        while let Some(start) = rest.find(scheme) {
            let url: String = rest[start..]
                .chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | '`' | ')'))
                .collect();
            rest = &rest[start + url.len()..];
            urls.push(url);
        }
    }
    urls
}

/// Whether a URL carries a password (`user:password@`).
fn has_password(url: &str) -> bool {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme.split(['/', '?']).next().unwrap_or_default();
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

/// The query parameter `name` of a URL.
fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let (_, query) = url.split_once('?')?;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

// --------------------------------------------------------------- tests ----

#[test]
fn k8s_files_hold_one_cronjob_secret_and_config_map_that_apply_in_any_order() {
    let objects = k8s_objects();
    let kinds: BTreeSet<(&str, &str)> = objects
        .iter()
        .map(|o| (o.kind(), o.doc["apiVersion"].as_str().unwrap()))
        .collect();
    let expected: BTreeSet<(&str, &str)> = [
        ("ConfigMap", "v1"),
        ("CronJob", "batch/v1"),
        ("Secret", "v1"),
    ]
    .into();
    assert_eq!(kinds, expected, "the kinds and API versions README names");
    for object in &objects {
        // `kubectl apply -n oms -f examples/k8s/`: a namespace written in a
        // file would override -n, and a Namespace object would need to be
        // applied first.
        assert!(
            object.doc["metadata"]["namespace"].is_badvalue(),
            "{}: {} `{}` names a namespace; the README applies them with -n",
            object.file,
            object.kind(),
            object.name()
        );
    }
    let mut seen = BTreeSet::new();
    for object in &objects {
        assert!(
            seen.insert((object.kind(), object.name())),
            "{} `{}` is defined twice",
            object.kind(),
            object.name()
        );
    }
}

#[test]
fn the_cronjob_runs_run_once_over_all_accounts_every_minute_like_the_crontab() {
    let objects = k8s_objects();
    let cron = the_one(&objects, "CronJob");
    let crontab = read("examples/crontab");
    let entry = crontab
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .expect("a crontab entry");
    let crontab_schedule: Vec<&str> = entry.split_whitespace().take(5).collect();
    assert_eq!(text(&cron.doc, "spec.schedule"), crontab_schedule.join(" "));
    assert_eq!(text(&cron.doc, "spec.schedule"), "* * * * *");

    let container = the_container(cron);
    let mut argv: Vec<&str> = list(container, "command")
        .iter()
        .chain(list(container, "args"))
        .map(|a| a.as_str().expect("command words are strings"))
        .collect();
    assert!(!argv.is_empty(), "the container names its command");
    let program = argv.remove(0);
    assert_eq!(
        Path::new(program).file_name().unwrap(),
        "oms-channels",
        "the container runs the binary itself (no shell in between to eat SIGTERM)"
    );
    assert_eq!(argv, ["run-once", "--all-accounts"]);
    assert!(
        crontab.contains(&format!("{} {}", "run-once", "--all-accounts")),
        "the crontab runs the same command"
    );
}

#[test]
fn one_tick_at_a_time_with_parallel_runners_that_fail_alone_and_are_not_retried() {
    let objects = k8s_objects();
    let cron = the_one(&objects, "CronJob");
    let spec = &cron.doc["spec"];
    assert_eq!(text(spec, "concurrencyPolicy"), "Forbid");
    let starting = int(spec, "startingDeadlineSeconds");
    assert!(
        (10..60).contains(&starting),
        "startingDeadlineSeconds {starting}: under a minute (a stale tick never starts beside a \
         fresh one) and at least the controller's 10 s check interval"
    );
    assert!(int(spec, "successfulJobsHistoryLimit") >= 1);
    assert!(int(spec, "failedJobsHistoryLimit") >= 1);

    let job = at(spec, "jobTemplate.spec");
    let runners = int(job, "parallelism");
    assert!(runners >= 2, "several runners per tick, found {runners}");
    assert_eq!(
        int(job, "completions"),
        runners,
        "completions equal parallelism: each runner runs once per tick"
    );
    // No retry within the tick, and a failed runner never stops the others.
    assert_eq!(text(job, "completionMode"), "Indexed");
    assert_eq!(int(job, "backoffLimitPerIndex"), 0);
    for field in ["backoffLimit", "maxFailedIndexes"] {
        if let Some(limit) = opt_int(job, field) {
            assert!(
                limit >= runners,
                "{field} {limit} < {runners} runners: one failing runner would stop the others"
            );
        }
    }
    assert_eq!(text(job, "template.spec.restartPolicy"), "Never");
    for rule in list(job, "podFailurePolicy.rules") {
        assert_ne!(
            text(rule, "action"),
            "FailJob",
            "a FailJob rule stops every runner of the tick"
        );
    }

    let readme = readme();
    for claim in [
        format!("`parallelism: {runners}` with `completions: {runners}`"),
        format!("starts {runners} runners every minute"),
        "`concurrencyPolicy: Forbid`".to_string(),
        "`backoffLimitPerIndex: 0`".to_string(),
        "`restartPolicy: Never`".to_string(),
    ] {
        assert!(readme.contains(&claim), "README says {claim:?}");
    }
}

#[test]
fn a_slow_job_is_ended_by_its_own_deadline_before_kubernetes_stops_the_runner() {
    let objects = k8s_objects();
    let cron = the_one(&objects, "CronJob");
    let job = at(&cron.doc, "spec.jobTemplate.spec");
    let active = Duration::from_secs(int(job, "activeDeadlineSeconds") as u64);
    let grace = Duration::from_secs(int(job, "template.spec.terminationGracePeriodSeconds") as u64);

    // The longest job deadline the runners can meet: the built-in types,
    // plus any type a capabilities.toml in the ConfigMap defines.
    let mut capabilities = Capabilities::built_in();
    let config_map = named(&objects, "ConfigMap", "oms-channels-config");
    if let Some(text) = config_map.doc["data"]["capabilities.toml"].as_str() {
        capabilities
            .merge_text(Path::new("capabilities.toml"), text)
            .expect("the ConfigMap's capabilities.toml parses");
    }
    let longest = capabilities
        .iter()
        .map(|(_, channel_type, _)| channel_type.deadline())
        .max()
        .unwrap();
    assert!(
        active > longest + grace,
        "activeDeadlineSeconds {active:?} must outlast the longest job deadline {longest:?} \
         plus the {grace:?} stop, so the tool ends a slow job, not Kubernetes"
    );

    // The same stop time as the one-host unit gives a run.
    let single = unit("examples/oms-channels.service");
    let stop = time_span(unit_value(&single, "Service", "TimeoutStopSec"));
    assert!(
        grace >= stop,
        "terminationGracePeriodSeconds {grace:?} below TimeoutStopSec {stop:?}"
    );

    let readme = readme();
    let claim = format!("`activeDeadlineSeconds: {}`", active.as_secs());
    assert!(readme.contains(&claim), "README says {claim:?}");
    let minutes = format!("{} minutes", active.as_secs() / 60);
    assert!(readme.contains(&minutes), "README says {minutes:?}");
    let longest_minutes = format!("{} minutes at most", longest.as_secs() / 60);
    assert!(
        readme.contains(&longest_minutes),
        "README says {longest_minutes:?}"
    );
}

#[test]
fn every_secret_config_map_key_and_volume_the_cronjob_names_exists() {
    let objects = k8s_objects();
    let cron = the_one(&objects, "CronJob");
    let container = the_container(cron);
    let env = container_env(container);

    let mut used_secret_keys: BTreeSet<(String, String)> = BTreeSet::new();
    for (var, source) in &env {
        match source {
            EnvSource::Secret { name, key } => {
                let secret = named(&objects, "Secret", name);
                assert!(
                    secret_keys(secret).contains(key),
                    "env `{var}` reads key `{key}` of Secret `{name}`, which it does not hold \
                     (the pod would never start)"
                );
                used_secret_keys.insert((name.clone(), key.clone()));
            }
            EnvSource::ConfigMap { name, key } => {
                let map = named(&objects, "ConfigMap", name);
                assert!(
                    config_map_keys(map).contains(key),
                    "env `{var}` reads key `{key}` of ConfigMap `{name}`, which it does not hold"
                );
            }
            EnvSource::Literal(_) => {}
        }
    }
    for from in list(container, "envFrom") {
        if let Some(name) = at(from, "secretRef.name").as_str() {
            for key in secret_keys(named(&objects, "Secret", name)) {
                used_secret_keys.insert((name.to_string(), key));
            }
        }
        if let Some(name) = at(from, "configMapRef.name").as_str() {
            named(&objects, "ConfigMap", name);
        }
    }
    let files = mounted_files(&objects, cron);
    for file in files.iter().filter(|f| f.volume_kind == "Secret") {
        used_secret_keys.insert((file.source.clone(), file.key.clone()));
    }
    // A key nobody reads is a reference someone broke (a renamed env entry).
    for secret in objects.iter().filter(|o| o.kind() == "Secret") {
        for key in secret_keys(secret) {
            assert!(
                used_secret_keys.contains(&(secret.name().to_string(), key.clone())),
                "Secret `{}` holds `{key}`, but the runner reads it nowhere",
                secret.name()
            );
        }
    }

    // The dirs the tool is pointed at are the mounts that hold them.
    let mounts: BTreeMap<&str, &Yaml> = list(container, "volumeMounts")
        .iter()
        .map(|m| (text(m, "mountPath").trim_end_matches('/'), m))
        .collect();
    let config_dir = literal(&env, "OMS_CHANNELS_CONFIG_DIR");
    let config_mount = mounts
        .get(config_dir)
        .unwrap_or_else(|| panic!("OMS_CHANNELS_CONFIG_DIR {config_dir} is no mount"));
    assert_eq!(
        config_mount["readOnly"].as_bool(),
        Some(true),
        "config dir read-only"
    );
    for wanted in ["config.toml", "accounts/"] {
        assert!(
            files
                .iter()
                .any(|f| f.path.starts_with(&format!("{config_dir}/{wanted}"))),
            "nothing mounted at {config_dir}/{wanted}"
        );
    }
    let data_dir = literal(&env, "OMS_CHANNELS_DATA_DIR");
    let data_mount = mounts
        .get(data_dir)
        .unwrap_or_else(|| panic!("OMS_CHANNELS_DATA_DIR {data_dir} is no mount"));
    assert_ne!(
        data_mount["readOnly"].as_bool(),
        Some(true),
        "data dir writable"
    );
    let data_volume = list(pod_spec(cron), "volumes")
        .iter()
        .find(|v| v["name"] == data_mount["name"])
        .unwrap();
    assert!(
        !data_volume["emptyDir"].is_badvalue(),
        "the data dir is an emptyDir: the state is in PostgreSQL"
    );

    // The CA the store URL names is a file a volume puts there.
    let store = literal(&env, "OMS_CHANNELS_STORE");
    let root_cert = query_param(store, "sslrootcert").expect("the store URL names sslrootcert");
    assert!(
        files.iter().any(|f| f.path == root_cert),
        "sslrootcert={root_cert}: no volume puts a file there"
    );
}

#[test]
fn the_config_maps_account_files_validate_with_exactly_the_secrets_the_pod_gets() {
    let objects = k8s_objects();
    let cron = the_one(&objects, "CronJob");
    let env = container_env(the_container(cron));
    let config_dir = literal(&env, "OMS_CHANNELS_CONFIG_DIR").to_string();
    let files = mounted_files(&objects, cron);

    // The config dir as the pod sees it, written to a temp dir.
    let test_env = TestEnv::new();
    let root = test_env.root();
    let local_config = root.join("config-from-configmap");
    let mut accounts = Vec::new();
    for file in &files {
        let Some(relative) = file.path.strip_prefix(&format!("{config_dir}/")) else {
            continue;
        };
        let source = objects
            .iter()
            .find(|o| o.kind() == file.volume_kind && o.name() == file.source)
            .unwrap();
        let content = source.doc["data"][file.key.as_str()]
            .as_str()
            .or_else(|| source.doc["stringData"][file.key.as_str()].as_str())
            .unwrap_or_else(|| panic!("{}: key `{}` has no text", file.source, file.key));
        let target = local_config.join(relative);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(&target, content).unwrap();
        if let Some(account) = relative
            .strip_prefix("accounts/")
            .and_then(|f| f.strip_suffix(".toml"))
        {
            accounts.push((account.to_string(), content.to_string()));
        }
    }
    assert!(
        !accounts.is_empty(),
        "the ConfigMap ships at least one account file"
    );

    // What the pod's environment gets from the Secret, value for value.
    let mut secret_env: BTreeMap<String, String> = BTreeMap::new();
    for (var, source) in &env {
        if let EnvSource::Secret { name, key } = source {
            let secret = named(&objects, "Secret", name);
            let value = secret.doc["stringData"][key.as_str()]
                .as_str()
                .unwrap_or("base64-data");
            secret_env.insert(var.clone(), value.to_string());
        }
    }
    assert!(
        matches!(env.get("PGPASSWORD"), Some(EnvSource::Secret { .. })),
        "PGPASSWORD comes from the Secret, found {:?}",
        env.get("PGPASSWORD")
    );

    // Each secret variable an account names reaches the pod from the Secret;
    // a secret file an account names is mounted.
    for (account, content) in &accounts {
        let (vars, secret_files) = named_secrets(content);
        for var in vars {
            assert!(
                secret_env.contains_key(&var),
                "account `{account}` names `{var}`, but the runner's env does not take it from \
                 the Secret (add a key to the Secret and an env entry to the CronJob)"
            );
        }
        for path in secret_files {
            assert!(
                files.iter().any(|f| f.path == path),
                "account `{account}` names secret file {path}, which no volume provides"
            );
        }
    }

    let validate = |extra_env: &BTreeMap<String, String>, offline: bool| {
        let mut cmd = test_env.bare_command();
        // The pod's environment: nothing but what the CronJob gives it.
        cmd.env_clear()
            .env("NO_COLOR", "1")
            .envs(extra_env)
            .arg("--config-dir")
            .arg(&local_config)
            .arg("--data-dir")
            .arg(test_env.data_dir())
            .args(["validate", "--all-accounts", "--strict"]);
        if offline {
            cmd.arg("--offline");
        }
        cmd.output().expect("run oms-channels validate")
    };
    let out = validate(&BTreeMap::new(), true);
    assert!(
        out.status.success(),
        "validate --offline --strict of the ConfigMap's accounts failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The pod's store holds the first refresh token of each channel that
    // needs one (`channel login`, once, from any machine with the store).
    for (account, content) in &accounts {
        let config = AccountConfig::parse(std::path::Path::new(account), content).unwrap();
        for (channel, settings) in &config.channels {
            let grant = settings.auth.as_ref().and_then(|a| a.grant);
            if grant != Some(GrantKind::RefreshToken) {
                continue;
            }
            let mut login = test_env.bare_command();
            login
                .env_clear()
                .arg("--config-dir")
                .arg(&local_config)
                .arg("--data-dir")
                .arg(test_env.data_dir())
                .args(["--account", account, "channel", "login", channel]);
            let out = test_env.finish(login, Some("rt-1"));
            assert!(out.status.success(), "{account}/{channel}: login");
        }
    }
    let out = validate(&secret_env, false);
    assert!(
        out.status.success(),
        "validate --strict with the pod's secrets failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And the previous check means something: without them it fails.
    let without: BTreeMap<String, String> = secret_env
        .iter()
        .filter(|(k, _)| k.as_str() == "PGPASSWORD")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let out = validate(&without, false);
    assert!(!out.status.success(), "the accounts name no secret at all?");
    assert!(String::from_utf8_lossy(&out.stdout).contains("missing-secret"));
}

#[test]
fn no_store_url_holds_a_password_and_the_tool_accepts_each_one() {
    assert!(has_password("postgres://oms:hunter2@db/oms"));
    assert!(!has_password("postgres://oms@db/oms?sslmode=verify-full"));

    let objects = k8s_objects();
    let cron = the_one(&objects, "CronJob");
    let env = container_env(the_container(cron));
    let k8s_store = literal(&env, "OMS_CHANNELS_STORE").to_string();
    let host_store = environment_file(&format!("{SYSTEMD_DIR}/secrets.env"))
        .get("OMS_CHANNELS_STORE")
        .cloned()
        .expect("secrets.env sets OMS_CHANNELS_STORE");
    for store in [&k8s_store, &host_store] {
        assert_eq!(
            query_param(store, "sslmode"),
            Some("verify-full"),
            "{store}"
        );
        StoreSpec::postgres(store)
            .unwrap_or_else(|e| panic!("the tool refuses the shipped store URL: {e}"));
    }

    // No password in any URL of any deployment file or the README, and no
    // secret-looking variable set to a literal value in the pod.
    let mut texts = vec![("README.md".to_string(), read("README.md"))];
    for dir in [K8S_DIR, SYSTEMD_DIR] {
        for entry in std::fs::read_dir(repo(dir)).unwrap() {
            let path = entry.unwrap().path();
            let name = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
            texts.push((name, std::fs::read_to_string(&path).unwrap()));
        }
    }
    let mut found = 0;
    for (name, text) in &texts {
        for url in store_urls(text) {
            found += 1;
            assert!(!has_password(&url), "{name}: a password in {url}");
        }
    }
    assert!(found >= 3, "found only {found} store URLs");
    for (var, source) in &env {
        let secretish = ["PASSWORD", "SECRET", "TOKEN", "KEY"]
            .iter()
            .any(|word| var.to_uppercase().contains(word));
        assert!(
            !(secretish && matches!(source, EnvSource::Literal(_))),
            "env `{var}` holds a literal value: secrets come from the Secret"
        );
    }
}

#[test]
fn the_runner_is_unprivileged_on_a_read_only_root_with_bounded_memory() {
    let objects = k8s_objects();
    let cron = the_one(&objects, "CronJob");
    let pod = pod_spec(cron);
    let container = the_container(cron);
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    assert!(int(pod, "securityContext.runAsUser") > 0);
    assert_eq!(pod["automountServiceAccountToken"].as_bool(), Some(false));
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(security["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert!(
        list(security, "capabilities.drop")
            .iter()
            .any(|c| c.as_str() == Some("ALL")),
        "every capability dropped"
    );
    for field in ["requests.memory", "requests.cpu", "limits.memory"] {
        assert!(
            at(&container["resources"], field).as_str().is_some(),
            "resources.{field} is set"
        );
    }
}

#[test]
fn the_multi_host_units_match_the_one_host_unit_and_read_the_store_from_the_environment_file() {
    let single = unit("examples/oms-channels.service");
    let multi = unit(&format!("{SYSTEMD_DIR}/oms-channels.service"));
    assert_eq!(unit_value(&multi, "Service", "Type"), "oneshot");
    let exec: Vec<&str> = unit_value(&multi, "Service", "ExecStart")
        .split_whitespace()
        .collect();
    assert_eq!(Path::new(exec[0]).file_name().unwrap(), "oms-channels");
    assert_eq!(exec[1..], ["run-once", "--all-accounts"]);
    let success: BTreeSet<&str> = unit_value(&multi, "Service", "SuccessExitStatus")
        .split_whitespace()
        .collect();
    assert!(
        success.contains("75") && success.contains("143"),
        "SuccessExitStatus {success:?}"
    );
    for key in ["SuccessExitStatus", "TimeoutStopSec", "User", "ExecStart"] {
        assert_eq!(
            unit_value(&multi, "Service", key),
            unit_value(&single, "Service", key),
            "{key} differs from examples/oms-channels.service"
        );
    }

    // The store, its password and the channel secrets come from the
    // EnvironmentFile, which the shipped template fills.
    let env_file = unit_value(&multi, "Service", "EnvironmentFile");
    assert!(
        !env_file.starts_with('-'),
        "a missing EnvironmentFile must fail the run"
    );
    let template = read(&format!("{SYSTEMD_DIR}/secrets.env"));
    assert!(
        template.lines().next().unwrap().contains(env_file),
        "secrets.env says where it goes: {env_file}"
    );
    let vars = environment_file(&format!("{SYSTEMD_DIR}/secrets.env"));
    for var in ["OMS_CHANNELS_STORE", "PGPASSWORD"] {
        assert!(vars.contains_key(var), "secrets.env sets {var}");
    }
    for environment in unit_values(&multi, "Service", "Environment") {
        assert!(
            !environment.contains("OMS_CHANNELS_STORE") && !environment.contains("PGPASSWORD"),
            "the store and its password belong in the EnvironmentFile: {environment}"
        );
    }
    let (account_vars, _) = named_secrets(&read("examples/acme.toml"));
    for var in account_vars {
        assert!(
            vars.contains_key(&var),
            "secrets.env sets {var}, which examples/acme.toml names"
        );
    }

    // The crontab sources the same kind of file with `set -a; . file`: a
    // shell must read the same values systemd does (the URL holds a `&`).
    let script = format!(
        "set -a; . '{}'; set +a; {}",
        repo(&format!("{SYSTEMD_DIR}/secrets.env")).display(),
        vars.keys()
            .map(|k| format!("printf '%s\\n' \"${k}\""))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .env_clear()
        .output()
        .unwrap();
    assert!(out.status.success(), "sh cannot read secrets.env: {out:?}");
    let shell_values: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(shell_values, vars.values().cloned().collect::<Vec<_>>());

    let single_timer = unit("examples/oms-channels.timer");
    let timer = unit(&format!("{SYSTEMD_DIR}/oms-channels.timer"));
    for key in ["OnCalendar", "AccuracySec", "Persistent"] {
        assert_eq!(
            unit_value(&timer, "Timer", key),
            unit_value(&single_timer, "Timer", key),
            "{key} differs from examples/oms-channels.timer"
        );
    }
    // README: no random delay, all hosts start at second 0.
    assert_eq!(
        time_span(unit_value(&timer, "Timer", "RandomizedDelaySec")),
        Duration::ZERO
    );
    assert!(readme().contains("There is no random delay"));
}

#[test]
fn systemd_analyze_verify_accepts_the_multi_host_units() {
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed: the units were only parsed");
        return;
    };
    assert!(version.status.success());
    // verify wants ExecStart= to exist: point it at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let mut units = Vec::new();
    for name in ["oms-channels.service", "oms-channels.timer"] {
        let text = read(&format!("{SYSTEMD_DIR}/{name}")).replace(
            "/usr/local/bin/oms-channels",
            &oms_channels_bin().display().to_string(),
        );
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        units.push(path);
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&units)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {:?}\n{stderr}",
        out.status
    );
}

#[test]
fn every_example_path_the_readme_names_exists() {
    let readme = read("README.md");
    let mut rest = readme.as_str();
    let mut named = BTreeSet::new();
    while let Some(start) = rest.find("examples/") {
        let path: String = rest[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-'))
            .collect();
        rest = &rest[start + path.len()..];
        named.insert(path.trim_end_matches('.').to_string());
    }
    for dir in [K8S_DIR, SYSTEMD_DIR] {
        assert!(named.contains(&format!("{dir}/")), "README names {dir}/");
    }
    for path in named {
        assert!(
            repo(&path).exists(),
            "README names {path}, which does not exist"
        );
    }
}
