//! A slim Pod: only the fields the twin reads. k8s-openapi's `Pod` is over 2 KB before any
//! content (each `Container` another 2 KB, inline); watching 50,000 pods through it costs
//! hundreds of MB. Unknown fields are skipped while parsing, which is also faster.

use crate::source::k8s_map::{Declared, MapError};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SlimPod {
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: Option<SlimPodSpec>,
    pub status: Option<SlimPodStatus>,
    /// The `pod-template-hash` label, kept when the labels are dropped to save memory.
    #[serde(skip)]
    pub template_hash: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SlimPodSpec {
    pub node_name: Option<String>,
    #[serde(default)]
    pub containers: Vec<SlimContainer>,
    #[serde(default)]
    pub init_containers: Vec<SlimContainer>,
    /// RuntimeClass overhead, counted on top of the containers.
    pub overhead: Option<CpuMem>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SlimContainer {
    #[serde(default)]
    pub name: String,
    pub resources: Option<SlimResources>,
    /// `Always` on an init container makes it a sidecar.
    pub restart_policy: Option<String>,
}

/// Requests and limits with only the resources the twin models (a map per container would
/// cost a B-tree node each).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct SlimResources {
    pub requests: Option<CpuMem>,
    pub limits: Option<CpuMem>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct CpuMem {
    pub cpu: Option<Quantity>,
    pub memory: Option<Quantity>,
}

impl CpuMem {
    pub(crate) fn declared(&self, object: &str, field: &str) -> Result<Declared, MapError> {
        let (cpu, mem) =
            (self.cpu.as_ref().map(|q| q.0.as_str()), self.memory.as_ref().map(|q| q.0.as_str()));
        Declared::parse(cpu, mem, object, field)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SlimPodStatus {
    pub phase: Option<String>,
}

impl kube::Resource for SlimPod {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "Pod".into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        "".into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v1".into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "pods".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}
