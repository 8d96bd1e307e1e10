//! Which cluster, as whom, and which namespaces: kubeconfig (KUBECONFIG or ~/.kube/config,
//! `--context`) or the in-cluster service account, plus kubectl's `-n`/`-A` scoping.

use crate::source::SourceArgs;
use anyhow::Context as _;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// Which namespaces the namespaced resources are watched in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    All,
    Namespace(String),
}

impl Scope {
    /// "in namespace X" / "in all namespaces", for messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Scope::All => "in all namespaces".into(),
            Scope::Namespace(ns) => format!("in namespace {ns}"),
        }
    }
}

/// Where the credentials come from, resolved without network I/O so that a wrong
/// `--context` or an unreadable kubeconfig is reported at once.
#[derive(Clone)]
pub(crate) struct Located {
    /// Cluster name (the kubeconfig's cluster entry, or "in-cluster").
    pub cluster: String,
    /// Context name (or "in-cluster").
    pub context: String,
    /// The API server URL, for messages.
    pub server: String,
    kubeconfig: Option<Kubeconfig>,
    namespace_flag: Option<String>,
    all_namespaces: bool,
}

/// A connected client and what it is connected to.
#[derive(Clone)]
pub(crate) struct Target {
    pub client: Client,
    pub cluster: String,
    pub context: String,
    pub server: String,
    pub scope: Scope,
}

/// True inside a pod with a service account (kubectl's in-cluster rule).
pub(crate) fn in_cluster_env() -> bool {
    std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
        && std::env::var_os("KUBERNETES_SERVICE_PORT").is_some()
}

/// Reads the kubeconfig (or decides on in-cluster config) and resolves the context.
pub(crate) fn locate(args: &SourceArgs) -> anyhow::Result<Located> {
    let base = |cluster: String, context: String, server: String, kc: Option<Kubeconfig>| Located {
        cluster,
        context,
        server,
        kubeconfig: kc,
        namespace_flag: args.namespace.clone(),
        all_namespaces: args.all_namespaces,
    };
    let kc = match Kubeconfig::read() {
        Ok(kc) => kc,
        Err(e) if args.context.is_none() && in_cluster_env() => {
            tracing::debug!("no kubeconfig ({e}); using the in-cluster service account");
            let host = std::env::var("KUBERNETES_SERVICE_HOST").unwrap_or_default();
            let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_default();
            return Ok(base(
                "in-cluster".into(),
                "in-cluster".into(),
                format!("https://{host}:{port}"),
                None,
            ));
        }
        Err(e) => return Err(anyhow::anyhow!("reading kubeconfig ({}): {e}", kubeconfig_paths())),
    };
    let context = match args.context.clone().or_else(|| kc.current_context.clone()) {
        Some(c) => c,
        None => {
            anyhow::bail!("kubeconfig ({}) has no current-context; pass --context NAME", kubeconfig_paths())
        }
    };
    let Some(ctx) = kc.contexts.iter().find(|c| c.name == context) else {
        let known: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
        anyhow::bail!(
            "kubeconfig ({}) has no context {context:?} (contexts: {})",
            kubeconfig_paths(),
            if known.is_empty() { "none".into() } else { known.join(", ") }
        );
    };
    let cluster = ctx.context.as_ref().map(|c| c.cluster.clone()).unwrap_or_default();
    let server = kc
        .clusters
        .iter()
        .find(|c| c.name == cluster)
        .and_then(|c| c.cluster.as_ref()?.server.clone())
        .unwrap_or_else(|| "(no server in kubeconfig)".into());
    Ok(base(cluster, context, server, Some(kc)))
}

fn kubeconfig_paths() -> String {
    match std::env::var("KUBECONFIG") {
        Ok(v) if !v.is_empty() => format!("KUBECONFIG={v}"),
        _ => "~/.kube/config".into(),
    }
}

/// Builds the client (exec credential plugins run here) and settles the scope.
pub(crate) async fn connect(loc: &Located) -> anyhow::Result<Target> {
    let config = match &loc.kubeconfig {
        Some(kc) => {
            let opts = KubeConfigOptions { context: Some(loc.context.clone()), ..Default::default() };
            Config::from_custom_kubeconfig(kc.clone(), &opts)
                .await
                .with_context(|| format!("kubeconfig context {}", loc.context))?
        }
        None => Config::incluster().context("in-cluster configuration (service account)")?,
    };
    let scope = if loc.all_namespaces {
        Scope::All
    } else {
        Scope::Namespace(loc.namespace_flag.clone().unwrap_or_else(|| config.default_namespace.clone()))
    };
    let server = config.cluster_url.to_string();
    crate::source::init_tls();
    let client = Client::try_from(config)
        .with_context(|| format!("building a client for context {} ({server})", loc.context))?;
    Ok(Target { client, cluster: loc.cluster.clone(), context: loc.context.clone(), server, scope })
}
