//! Where the Redis tier sends its commands: one server (`redis://`,
//! `rediss://`) or a Redis Cluster (`redis+cluster://`,
//! `rediss+cluster://`), behind one connection type, so that the tier's
//! commands are written once for both.
//!
//! A cluster connection routes each command by its key's slot, and follows
//! the cluster's redirections (`MOVED`, `ASK`) when slots move. The few
//! commands whose arguments do not say where they go (`SCAN`, and
//! `PUBLISH`, which every node relays to the whole cluster) are sent with
//! [`Connection::query_at`] to the master of a key's slot: the slot of the
//! dataset they concern. A cluster connection retries a failed command at
//! most [`CLUSTER_RETRIES`] times, a few milliseconds apart, so that a node
//! that is down costs a bounded time before the tier falls back to
//! computing.

use std::time::Duration;

use redis::cluster::{ClusterClient, ClusterConnection};
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{ConnectionLike, FromRedisValue, RedisResult};

use super::RedisOptions;
use crate::{Error, Result};

/// How many times a cluster connection retries a command (after a
/// redirection, a refused node or `CLUSTERDOWN`) before giving up.
const CLUSTER_RETRIES: u32 = 2;
/// The shortest and longest pause between those retries, in ms.
const CLUSTER_RETRY_WAIT_MS: (u64, u64) = (5, 50);

/// The schemes of a cluster URL, and the scheme of each node's URL.
const CLUSTER_SCHEMES: [(&str, &str); 2] = [
    ("redis+cluster://", "redis://"),
    ("rediss+cluster://", "rediss://"),
];

/// A Redis server or cluster, as a URL names it.
#[derive(Clone)]
pub(super) struct Target {
    kind: Kind,
    /// The server, or each seed node of the cluster: what the startup
    /// check and the invalidation subscriber connect to, one after the
    /// other until one answers.
    nodes: Vec<redis::Client>,
}

#[derive(Clone)]
enum Kind {
    Server(redis::Client),
    Cluster(ClusterClient),
}

impl Target {
    /// Reads `options.url`. Nothing is connected yet.
    pub(super) fn open(options: &RedisOptions) -> Result<Target> {
        let invalid = |e: &dyn std::fmt::Display| Error::Redis(format!("invalid Redis URL: {e}"));
        let Some(seeds) = cluster_nodes(&options.url) else {
            let client = redis::Client::open(options.url.as_str()).map_err(|e| invalid(&e))?;
            return Ok(Target {
                nodes: vec![client.clone()],
                kind: Kind::Server(client),
            });
        };
        let seeds = seeds.map_err(|e| invalid(&e))?;
        if options.prefix.contains(['{', '}']) {
            return Err(Error::Redis(format!(
                "the Redis key prefix `{}` has a brace: on a cluster, keys are hash-tagged \
                 with the dataset in braces, and a brace in the prefix would move the tag; \
                 choose a prefix without `{{` and `}}`",
                options.prefix
            )));
        }
        let nodes = seeds
            .iter()
            .map(|url| redis::Client::open(url.as_str()))
            .collect::<RedisResult<Vec<_>>>()
            .map_err(|e| invalid(&e))?;
        let cluster = ClusterClient::builder(seeds)
            .connection_timeout(options.connect_timeout.max(Duration::from_millis(1)))
            .response_timeout(options.response_timeout.max(Duration::from_millis(1)))
            .retries(CLUSTER_RETRIES)
            .min_retry_wait(CLUSTER_RETRY_WAIT_MS.0)
            .max_retry_wait(CLUSTER_RETRY_WAIT_MS.1)
            .build()
            .map_err(|e| invalid(&e))?;
        Ok(Target {
            kind: Kind::Cluster(cluster),
            nodes,
        })
    }

    /// Whether this is a cluster.
    pub(super) fn is_cluster(&self) -> bool {
        matches!(self.kind, Kind::Cluster(_))
    }

    /// The server, or the cluster's seed nodes, each on its own.
    pub(super) fn nodes(&self) -> &[redis::Client] {
        &self.nodes
    }

    /// A fresh connection with the options' timeouts: to the server, or to
    /// the cluster (its slot map read from the first seed node that
    /// answers, and a connection to each master that does).
    pub(super) fn connect(&self, options: &RedisOptions) -> RedisResult<Connection> {
        match &self.kind {
            Kind::Server(client) => connect_node(client, options).map(Connection::Server),
            Kind::Cluster(client) => {
                let con = client.get_connection()?;
                con.set_write_timeout(Some(
                    options.response_timeout.max(Duration::from_millis(1)),
                ))?;
                Ok(Connection::Cluster(Box::new(con)))
            }
        }
    }

    /// Checks at start that the server (or a seed node of the cluster)
    /// answers. `Err` is what no retry can fix: a refused password, a
    /// `redis+cluster://` URL naming a server that is not in cluster mode.
    /// `Ok(Some(e))` is Redis not answering now, which the tier survives.
    pub(super) fn check(&self, options: &RedisOptions) -> Result<Option<redis::RedisError>> {
        let mut last = None;
        for node in &self.nodes {
            let answered = connect_node(node, options).and_then(|mut con| {
                redis::cmd("PING").query::<String>(&mut con)?;
                Ok(con)
            });
            let mut con = match answered {
                Ok(con) => con,
                Err(e) if is_auth_error(&e) => return Err(auth_error(&e)),
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            let info: RedisResult<String> = redis::cmd("INFO").arg("cluster").query(&mut con);
            // INFO may be renamed or denied: then nothing is said.
            let clustered = info.ok().map(|i| i.contains("cluster_enabled:1"));
            match (self.is_cluster(), clustered) {
                (true, Some(false)) => {
                    return Err(Error::Redis(
                        "a redis+cluster:// URL names a Redis that is not in cluster mode; \
                         use redis://host:port for a single server"
                            .to_owned(),
                    ));
                }
                (false, Some(true)) => tracing::warn!(
                    "redis tier: this Redis is a node of a cluster, and keys of other nodes' \
                     slots will be refused (MOVED); use redis+cluster://host:port,host:port"
                ),
                _ => {}
            }
            return Ok(None);
        }
        Ok(last)
    }
}

/// A connection to a server or to a cluster.
pub(super) enum Connection {
    /// To one server.
    Server(redis::Connection),
    /// To every master of a cluster (boxed: it is large).
    Cluster(Box<ClusterConnection>),
}

impl Connection {
    /// Runs `cmd` on the master that holds `key`'s slot: for the commands
    /// whose arguments do not route them (`SCAN`, `PUBLISH`). On a single
    /// server, just runs it.
    pub(super) fn query_at<T: FromRedisValue>(
        &mut self,
        key: &str,
        cmd: &redis::Cmd,
    ) -> RedisResult<T> {
        match self {
            Connection::Server(con) => cmd.query(con),
            Connection::Cluster(con) => {
                let route = Route::with_key(key, SlotAddr::Master);
                let value = con.route_command(
                    cmd,
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                )?;
                Ok(redis::from_redis_value(value.extract_error()?)?)
            }
        }
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<redis::Value> {
        match self {
            Connection::Server(con) => con.req_packed_command(cmd),
            Connection::Cluster(con) => con.req_packed_command(cmd),
        }
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<redis::Value>> {
        match self {
            Connection::Server(con) => con.req_packed_commands(cmd, offset, count),
            Connection::Cluster(con) => con.req_packed_commands(cmd, offset, count),
        }
    }

    fn req_command(&mut self, cmd: &redis::Cmd) -> RedisResult<redis::Value> {
        match self {
            Connection::Server(con) => con.req_command(cmd),
            Connection::Cluster(con) => con.req_command(cmd),
        }
    }

    fn supports_pipelining(&self) -> bool {
        match self {
            Connection::Server(con) => con.supports_pipelining(),
            Connection::Cluster(con) => con.supports_pipelining(),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Server(con) => con.get_db(),
            Connection::Cluster(con) => con.get_db(),
        }
    }

    fn check_connection(&mut self) -> bool {
        match self {
            Connection::Server(con) => con.check_connection(),
            Connection::Cluster(con) => ConnectionLike::check_connection(con.as_mut()),
        }
    }

    fn is_open(&self) -> bool {
        match self {
            Connection::Server(con) => con.is_open(),
            Connection::Cluster(con) => con.is_open(),
        }
    }
}

/// A fresh connection to one node with the options' timeouts.
pub(super) fn connect_node(
    client: &redis::Client,
    options: &RedisOptions,
) -> RedisResult<redis::Connection> {
    let con = client.get_connection_with_timeout(options.connect_timeout)?;
    con.set_read_timeout(Some(options.response_timeout))?;
    con.set_write_timeout(Some(options.response_timeout))?;
    Ok(con)
}

/// The URL of each seed node of a cluster URL
/// (`redis+cluster://[[user]:password@]host:port[,host:port...]`, or
/// `rediss+cluster://` for TLS), or `None` when `url` is not one.
fn cluster_nodes(url: &str) -> Option<std::result::Result<Vec<String>, String>> {
    let (scheme, node_scheme) = CLUSTER_SCHEMES.into_iter().find(|(scheme, _)| {
        url.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    })?;
    let rest = &url[scheme.len()..];
    // The password may hold an `@`; a host cannot.
    let (auth, hosts) = match rest.rsplit_once('@') {
        Some((auth, hosts)) => (format!("{auth}@"), hosts),
        None => (String::new(), rest),
    };
    let hosts = hosts.strip_suffix('/').unwrap_or(hosts);
    Some(if hosts.contains(['/', '?', '#']) {
        Err(format!(
            "a cluster URL names its nodes only ({scheme}host:port,host:port): \
             no /database (a cluster has database 0 only) and no ?options"
        ))
    } else if hosts.split(',').any(|h| h.trim().is_empty()) {
        Err(format!(
            "a cluster URL names at least one node, and no empty one: {scheme}host:port,host:port"
        ))
    } else {
        Ok(hosts
            .split(',')
            .map(|host| format!("{node_scheme}{auth}{}", host.trim()))
            .collect())
    })
}

/// Whether `e` is Redis refusing this client's credentials.
pub(super) fn is_auth_error(e: &redis::RedisError) -> bool {
    e.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(e.code(), Some("NOAUTH" | "WRONGPASS"))
}

/// The error a refused password is.
fn auth_error(e: &redis::RedisError) -> Error {
    Error::Redis(format!(
        "Redis refused the connection: {e}; put the password in the URL: redis://:PASSWORD@host:6379 \
         (or redis://USER:PASSWORD@host:6379, redis+cluster://:PASSWORD@host:7000,host:7001)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_url_names_each_seed_node() {
        assert_eq!(cluster_nodes("redis://127.0.0.1:6379"), None);
        assert_eq!(cluster_nodes("redis+clusterx://a:1"), None);
        assert_eq!(
            cluster_nodes("redis+cluster://a:7000,b:7001/"),
            Some(Ok(vec![
                "redis://a:7000".to_owned(),
                "redis://b:7001".to_owned()
            ]))
        );
        assert_eq!(
            cluster_nodes("REDISS+CLUSTER://u:p@ss@a:7000, [::1]:7001"),
            Some(Ok(vec![
                "rediss://u:p@ss@a:7000".to_owned(),
                "rediss://u:p@ss@[::1]:7001".to_owned()
            ]))
        );
        for bad in [
            "redis+cluster://",
            "redis+cluster://a:1,,b:2",
            "redis+cluster://a:1,b:2/3",
            "redis+cluster://a:1?protocol=resp3",
        ] {
            assert!(matches!(cluster_nodes(bad), Some(Err(_))), "{bad}");
        }
    }

    #[test]
    fn a_cluster_prefix_has_no_brace_and_a_bad_url_is_a_typed_error() {
        let mut options = RedisOptions::new("redis+cluster://127.0.0.1:7000");
        assert!(Target::open(&options).is_ok_and(|t| t.is_cluster()));
        options.prefix = "pqc:{v1}".to_owned();
        assert!(matches!(Target::open(&options), Err(Error::Redis(m)) if m.contains("brace")));
        // Braces are harmless on one server.
        options.url = "redis://127.0.0.1:6379".to_owned();
        assert!(Target::open(&options).is_ok_and(|t| !t.is_cluster()));
        options.url = "redis+cluster://a:1,".to_owned();
        assert!(
            matches!(Target::open(&options), Err(Error::Redis(m)) if m.starts_with("invalid Redis URL"))
        );
    }
}
