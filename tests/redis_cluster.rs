//! The Redis tier on a real Redis Cluster: each test starts three
//! `redis-server`s in cluster mode on free loopback ports (in a temporary
//! directory), joins them with `redis-cli --cluster create` (three
//! masters, no replicas), and kills them when it ends.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use polars::prelude::*;
use polars_query_cache::{CachedQuery, DeriveMode, Error, Fingerprint, Query, Source, sample};

use crate::common::{self, Child};
use crate::redis::{
    OwnRedis, every_request_to_redis, fault_options, options, q, replay_through_a_fault, sample,
};

const PREFIX: &str = "pqc-cluster";

/// Three cluster nodes of the test's own, killed when dropped.
struct Cluster {
    ports: Vec<u16>,
    /// What every node requires, if anything.
    password: Option<&'static str>,
    /// `None` once killed.
    nodes: Vec<Option<Child>>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts and joins the cluster, or says why it cannot (and fails
    /// with `CI=true`).
    fn start() -> Option<Cluster> {
        Cluster::start_with(None)
    }

    /// The same, every node requiring `password` when given.
    fn start_with(password: Option<&'static str>) -> Option<Cluster> {
        let tools = common::program_exists("redis-server") && common::program_exists("redis-cli");
        if !common::available("redis-server and redis-cli", tools) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<u16> = (0..3).map(|_| cluster_port()).collect();
        let nodes = ports
            .iter()
            .map(|port| {
                let child = std::process::Command::new("redis-server")
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                    .args(["--cluster-enabled", "yes"])
                    .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                    .args(["--cluster-node-timeout", "1000"])
                    // Masters that are up keep serving their slots when one
                    // is down.
                    .args(["--cluster-require-full-coverage", "no"])
                    .arg("--dir")
                    .arg(dir.path())
                    .args(["--save", "", "--appendonly", "no"])
                    .args(
                        password
                            .map(|p| ["--requirepass", p, "--masterauth", p])
                            .iter()
                            .flatten(),
                    )
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap();
                Some(Child(child))
            })
            .collect();
        let cluster = Cluster {
            ports,
            password,
            nodes,
            _dir: dir,
        };
        for &port in &cluster.ports {
            assert!(
                common::wait_for_port(port, Duration::from_secs(10)),
                "redis-server on {port} did not start"
            );
        }
        let created = std::process::Command::new("redis-cli")
            .args(
                password
                    .map(|p| ["-a", p, "--no-auth-warning"])
                    .iter()
                    .flatten(),
            )
            .args(["--cluster", "create"])
            .args(cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .unwrap();
        assert!(
            created.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        let ok = |port: u16| {
            let auth = password.map(|p| format!(":{p}@")).unwrap_or_default();
            redis::Client::open(format!("redis://{auth}127.0.0.1:{port}"))
                .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
                .and_then(|mut con| redis::cmd("CLUSTER").arg("INFO").query::<String>(&mut con))
                .is_ok_and(|info| info.contains("cluster_state:ok"))
        };
        assert!(
            common::eventually(Duration::from_secs(15), || cluster
                .ports
                .iter()
                .all(|&p| ok(p))),
            "the cluster did not reach cluster_state:ok"
        );
        Some(cluster)
    }

    /// The URL of the cluster, naming every node.
    fn url(&self) -> String {
        let nodes: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let auth = self.password.map(|p| format!(":{p}@")).unwrap_or_default();
        format!("redis+cluster://{auth}{}", nodes.join(","))
    }

    /// The port of the master that holds `key`'s slot: the node that
    /// answers for it rather than redirecting (`MOVED`).
    fn master_of(&self, key: &str) -> u16 {
        let owners: Vec<u16> = self
            .ports
            .iter()
            .copied()
            .filter(|&p| {
                redis::cmd("EXISTS")
                    .arg(key)
                    .query::<i64>(&mut node(p))
                    .is_ok()
            })
            .collect();
        assert_eq!(owners.len(), 1, "{key}: {owners:?}");
        owners[0]
    }

    fn kill(&mut self, port: u16) {
        let i = self.ports.iter().position(|&p| p == port).unwrap();
        self.nodes[i] = None;
    }
}

/// A free port `p` on loopback whose cluster bus port (`p + 10000`) is
/// free too, and that no other test of this process took.
fn cluster_port() -> u16 {
    static TAKEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    loop {
        let port = common::free_port();
        let low = 20_000 + port % 30_000;
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        let mut taken = TAKEN.lock().unwrap();
        let taken = taken.get_or_insert_with(HashSet::new);
        if !taken.contains(&low) && free(low) && free(low + 10_000) {
            taken.insert(low);
            return low;
        }
    }
}

/// A plain connection to one node.
fn node(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(2))
        .unwrap()
}

/// A connection to the whole cluster, as a test's own client.
fn cluster_connection(cluster: &Cluster) -> redis::cluster::ClusterConnection {
    let nodes: Vec<String> = cluster
        .ports
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}"))
        .collect();
    redis::cluster::ClusterClient::new(nodes)
        .unwrap()
        .get_connection()
        .unwrap()
}

/// The values (not locks, nor the record of the file's version) a node
/// holds under the test prefix.
fn values_on(port: u16) -> Vec<String> {
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{PREFIX}:*"))
        .query(&mut node(port))
        .unwrap();
    keys.retain(|k| !k.ends_with(":lock") && !k.contains(":source:"));
    keys.sort();
    keys
}

/// The slot of `key`, as the cluster computes it.
fn slot(port: u16, key: &str) -> i64 {
    redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query(&mut node(port))
        .unwrap()
}

/// What every key of one dataset version starts with.
fn stem(fingerprint: Fingerprint) -> String {
    format!("{PREFIX}:{{{fingerprint}}}")
}

/// A worker on `data`: the tier's own answers only (nothing derived in
/// memory, nor learned), so what each worker computes is what it did not
/// find in the cluster.
fn cache(cluster: &Cluster, data: &Path, secret: Option<&str>) -> CachedQuery {
    let builder = CachedQuery::builder()
        .derive(DeriveMode::Off)
        .learned_rollups(false)
        .redis_options(options(&cluster.url(), PREFIX));
    match secret {
        Some(s) => builder.tier_secret(s),
        None => builder,
    }
    .build_from_csv(data)
    .unwrap()
}

#[test]
fn a_second_instance_answers_from_the_cluster_with_every_key_in_the_datasets_slot() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let a = cache(&cluster, &sample(), None);
    let queries = sample::dashboard_queries(12, 3);
    let expected: Vec<DataFrame> = queries
        .iter()
        .map(|q| a.get_uncached(q).unwrap().into_dataframe())
        .collect();
    for (query, expected) in queries.iter().zip(&expected) {
        let answer = a.get(query).unwrap();
        assert!(answer.dataframe().equals_missing(expected), "{query:?}");
    }
    let written = a.cache_info().redis_writes;
    assert!(written > 0, "{:?}", a.cache_info());

    // Every value (and so every lock) of the version in the tag's slot, on
    // the one master that holds it.
    let fingerprint = a.dataset().fingerprint();
    let stem = stem(fingerprint);
    let port = cluster.ports[0];
    let tag_slot = slot(port, &fingerprint.to_string());
    let master = cluster.master_of(&stem);
    let values = values_on(master);
    assert_eq!(values.len() as u64, written, "{values:?}");
    for value in &values {
        assert!(value.starts_with(&format!("{stem}:")), "{value}");
        assert_eq!(slot(port, value), tag_slot, "{value}");
        assert_eq!(slot(port, &format!("{value}:lock")), tag_slot, "{value}");
        let ttl: i64 = redis::cmd("PTTL")
            .arg(value)
            .query(&mut node(master))
            .unwrap();
        assert!(ttl > 0, "{value} has no time to live: {ttl}");
    }
    for &other in cluster.ports.iter().filter(|&&p| p != master) {
        assert_eq!(values_on(other), Vec::<String>::new(), "node {other}");
    }

    // A second worker computes nothing: every answer comes from the cluster.
    let b = cache(&cluster, &sample(), None);
    for (query, expected) in queries.iter().zip(&expected) {
        let answer = b.get(query).unwrap();
        assert_eq!(answer.source(), Source::Redis, "{query:?}");
        assert!(answer.dataframe().equals_missing(expected), "{query:?}");
    }
    let info = b.cache_info();
    assert_eq!(info.computations, 0, "{info:?}");
    assert!(info.redis_hits > 0, "{info:?}");
    assert_eq!((info.redis_errors, info.redis_refused), (0, 0), "{info:?}");
}

#[test]
fn eight_threads_in_each_of_two_instances_compute_once_through_the_cluster() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    crate::redis::sixteen_threads_of_two_instances_compute_once([
        cache(&cluster, &sample(), None),
        cache(&cluster, &sample(), None),
    ]);
}

#[test]
fn two_processes_compute_once_through_the_cluster() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sales.csv");
    sample::write_sales_csv(std::fs::File::create(&data).unwrap(), 200_000, 3, |_| {}).unwrap();
    let stats =
        crate::redis::two_processes_of_eight_threads_compute_once(&data, &cluster.url(), PREFIX);
    for s in &stats {
        assert_eq!(s["stats"]["redis_errors"].as_u64(), Some(0), "{s}");
    }
    // The answer is in the cluster, on the master of its dataset's slot.
    let reader = cache(&cluster, &data, None);
    let master = cluster.master_of(&stem(reader.dataset().fingerprint()));
    assert_eq!(values_on(master).len(), 1);
}

#[test]
fn forged_truncated_and_misshapen_values_on_the_cluster_are_never_served() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    crate::redis::planted_values_are_never_served(
        &|secret| cache(&cluster, &sample(), secret),
        &|| cluster.ports.iter().flat_map(|&p| values_on(p)).collect(),
        &mut cluster_connection(&cluster),
    );
}

/// A small CSV of its own content, so of its own fingerprint.
fn small_csv(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join(format!("t{n}.csv"));
    std::fs::write(
        &path,
        format!("category,units\nBooks,{n}\nGames,2\nToys,3\n"),
    )
    .unwrap();
    path
}

#[test]
fn clear_reaches_the_master_of_each_dataset_and_every_worker() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Datasets until each master holds one (a fingerprint picks its slot).
    let mut datasets: Vec<(u16, PathBuf)> = Vec::new();
    for n in 0..200 {
        let data = small_csv(dir.path(), n);
        let fingerprint = CachedQuery::builder()
            .build_from_csv(&data)
            .unwrap()
            .dataset()
            .fingerprint();
        let master = cluster.master_of(&stem(fingerprint));
        if datasets.iter().all(|(m, _)| *m != master) {
            datasets.push((master, data));
        }
        if datasets.len() == cluster.ports.len() {
            break;
        }
    }
    assert_eq!(datasets.len(), 3, "no dataset for some master");
    let queries = [
        Query::new().sum("units"),
        Query::new().group_by(["category"]).len(),
        Query::new().eq("category", "Books").len(),
    ];
    // Two workers on each dataset: the first computes, the second reads.
    let workers: Vec<(u16, CachedQuery, CachedQuery)> = datasets
        .iter()
        .map(|(master, data)| {
            let (a, b) = (cache(&cluster, data, None), cache(&cluster, data, None));
            for query in &queries {
                a.get(query).unwrap();
                assert_eq!(b.get(query).unwrap().source(), Source::Redis);
            }
            assert_eq!(values_on(*master).len(), queries.len());
            (*master, a, b)
        })
        .collect();
    // Let every subscriber settle before publishing.
    std::thread::sleep(Duration::from_millis(300));
    for (i, (master, a, b)) in workers.iter().enumerate() {
        a.clear();
        assert_eq!(values_on(*master), Vec::<String>::new(), "master {master}");
        // The other worker heard it, whichever node it listens on.
        assert!(
            common::eventually(Duration::from_secs(3), || {
                queries.iter().all(|q| b.get_cached(q).unwrap().is_none())
            }),
            "clear on {master} did not reach the other worker"
        );
        // The other datasets, on the other masters, are untouched.
        for (other, _, b) in &workers[i + 1..] {
            assert_eq!(values_on(*other).len(), queries.len(), "master {other}");
            assert!(queries.iter().all(|q| b.get_cached(q).unwrap().is_some()));
        }
    }
}

#[test]
fn a_killed_master_fails_soft_and_the_other_masters_keep_serving() {
    let Some(mut cluster) = Cluster::start() else {
        return;
    };
    let o = fault_options(&cluster.url(), PREFIX);
    let open = |data: &Path| every_request_to_redis(&o, data);
    let dir = tempfile::tempdir().unwrap();
    let doomed = open(&sample());
    let doomed_master = cluster.master_of(&stem(doomed.dataset().fingerprint()));
    // A dataset on another master, with a worker of its own.
    let survivor = (0..200)
        .map(|n| small_csv(dir.path(), n))
        .map(|data| open(&data))
        .find(|c| cluster.master_of(&stem(c.dataset().fingerprint())) != doomed_master)
        .expect("a dataset on another master");
    let small = Query::new().group_by(["category"]).sum("units");
    let small_answer = survivor.get_uncached(&small).unwrap().into_dataframe();
    survivor.get(&small).unwrap();
    assert_eq!(survivor.get(&small).unwrap().source(), Source::Redis);

    let answers = replay_through_a_fault(&doomed, 20, 3_000, |i| {
        if i == 1_000 {
            cluster.kill(doomed_master);
        }
    });
    let hits_before = answers[..1_000]
        .iter()
        .filter(|(source, _)| *source == Source::Redis)
        .count();
    assert!(
        hits_before > 500,
        "the cluster answered before: {hits_before}"
    );
    // Each request waited at most about the timeouts, never for the
    // cluster to notice the death (a node timeout of 1 s) and fail over.
    let slowest = answers.iter().map(|(_, took)| *took).max().unwrap();
    assert!(
        slowest < Duration::from_secs(2),
        "a request took {slowest:?}"
    );

    // The dataset of a master that is up is still served by it.
    let answer = survivor.get(&small).unwrap();
    assert_eq!(
        answer.source(),
        Source::Redis,
        "{:?}",
        survivor.cache_info()
    );
    assert!(answer.dataframe().equals_missing(&small_answer));
}

#[test]
fn a_password_protected_cluster() {
    let Some(cluster) = Cluster::start_with(Some("s3cret")) else {
        return;
    };
    let a = cache(&cluster, &sample(), None);
    let computed = a.get(&q()).unwrap();
    assert_eq!(a.cache_info().redis_writes, 1, "{:?}", a.cache_info());
    let shared = cache(&cluster, &sample(), None).get(&q()).unwrap();
    assert_eq!(shared.source(), Source::Redis);
    assert!(shared.dataframe().equals_missing(computed.dataframe()));
    // Without the password, or with a wrong one: an error that says how
    // to fix it, not a tier that fails soft forever.
    let nodes = cluster.url().replace(":s3cret@", "");
    for url in [
        nodes.clone(),
        nodes.replace("cluster://", "cluster://:nope@"),
    ] {
        let err = CachedQuery::builder()
            .redis(&url)
            .build_from_csv(sample())
            .unwrap_err();
        assert!(matches!(err, Error::Redis(_)), "{url}: {err:?}");
        assert!(
            err.to_string().contains("password in the URL"),
            "{url}: {err}"
        );
    }
}

#[test]
fn a_cluster_url_naming_a_single_server_is_an_error_and_a_dead_seed_is_skipped() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let single = OwnRedis::start(&[]).unwrap();
    let err = CachedQuery::builder()
        .redis(single.url().replace("redis://", "redis+cluster://"))
        .build_from_csv(sample())
        .unwrap_err();
    assert!(matches!(err, Error::Redis(_)), "{err:?}");
    assert!(err.to_string().contains("not in cluster mode"), "{err}");
    // A dead seed is skipped: the others answer.
    let dead = common::free_port();
    let url = cluster
        .url()
        .replace("cluster://", &format!("cluster://127.0.0.1:{dead},"));
    let a = CachedQuery::builder()
        .redis_options(options(&url, PREFIX))
        .build_from_csv(sample())
        .unwrap();
    a.get(&q()).unwrap();
    assert_eq!(
        cache(&cluster, &sample(), None).get(&q()).unwrap().source(),
        Source::Redis
    );
    assert_eq!(a.cache_info().redis_errors, 0, "{:?}", a.cache_info());
}
