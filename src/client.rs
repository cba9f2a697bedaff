//! The ECS client: the calls copy-image makes, over the RPC client.

use std::sync::Arc;
use std::time::Duration;

use crate::credentials::Provider;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::model::RegionId;
use crate::request::CopyImageRequest;
use crate::response::{self, Redactor};
use crate::retry::RetryPolicy;
use crate::rpc::{Auth, RpcCall, RpcClient};
use crate::sign::v1::Params;

pub const API_VERSION: &str = "2014-05-26";

/// How to reach ECS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    pub endpoint_override: Option<Endpoint>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            endpoint_override: None,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// The answer to CopyImage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyImageResponse {
    pub image_id: String,
    pub request_id: String,
}

pub struct EcsClient {
    rpc: Arc<RpcClient>,
    credentials: Provider,
    endpoint_override: Option<Endpoint>,
}

impl EcsClient {
    pub fn new(
        rpc: Arc<RpcClient>,
        credentials: Provider,
        endpoint_override: Option<Endpoint>,
    ) -> Self {
        Self {
            rpc,
            credentials,
            endpoint_override,
        }
    }

    /// The endpoint that serves `region`.
    pub fn endpoint_for(&self, region: &RegionId) -> Endpoint {
        self.endpoint_override
            .clone()
            .unwrap_or_else(|| Endpoint::for_region(region))
    }

    async fn call(
        &self,
        action: &'static str,
        region: &RegionId,
        params: Params,
    ) -> Result<serde_json::Value, Error> {
        let endpoint = self.endpoint_for(region);
        let call = RpcCall {
            action,
            version: API_VERSION,
            endpoint: &endpoint,
            query: params,
            form: Params::new(),
            secrets: Vec::new(),
        };
        self.rpc
            .call(&call, Auth::Provider(&self.credentials))
            .await
    }

    /// Starts the copy. The request must carry its ClientToken already, so that every attempt
    /// sends the same one.
    pub async fn copy_image(&self, request: &CopyImageRequest) -> Result<CopyImageResponse, Error> {
        const ACTION: &str = "CopyImage";
        if let Some(token) = &request.client_token {
            self.rpc
                .log()
                .verbose(|| format!("{ACTION}: ClientToken {token}"));
        }
        let body = self
            .call(ACTION, &request.source_region_id, request.to_params())
            .await?;
        let image_id = response::string_field(&body, &["ImageId"])
            .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_graphic()));
        match image_id {
            Some(image_id) => Ok(CopyImageResponse {
                image_id,
                request_id: response::string_field(&body, &["RequestId", "requestId"])
                    .unwrap_or_default(),
            }),
            None => Err(Error::UnexpectedResponse {
                action: ACTION,
                endpoint: self.endpoint_for(&request.source_region_id).to_string(),
                status: 200,
                problem: "the answer has no usable ImageId".into(),
                excerpt: Redactor::of([]).excerpt(&body.to_string()),
            }),
        }
    }
}
