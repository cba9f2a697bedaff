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
use crate::wait::{parse_percent, ImageState};

/// Every status a copy can be in. Without `Status`, DescribeImages lists only `Available`
/// images and a copy in progress looks absent.
const COPY_STATUSES: &str = "Creating,Waiting,Available,UnAvailable,CreateFailed";

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

    /// The copy as DescribeImages lists it in its region, or `None` when it is not listed.
    pub async fn describe_image(
        &self,
        region: &RegionId,
        image_id: &str,
    ) -> Result<Option<ImageState>, Error> {
        let mut params = Params::new();
        params.insert("RegionId".into(), region.to_string());
        params.insert("ImageId".into(), image_id.to_owned());
        params.insert("Status".into(), COPY_STATUSES.into());
        let body = self.call("DescribeImages", region, params).await?;
        Ok(image_state(&body, image_id))
    }

    /// Cancels a copy in progress (in the destination region, with the copy's id).
    pub async fn cancel_copy_image(
        &self,
        region: &RegionId,
        image_id: &str,
    ) -> Result<String, Error> {
        let mut params = Params::new();
        params.insert("RegionId".into(), region.to_string());
        params.insert("ImageId".into(), image_id.to_owned());
        let body = self.call("CancelCopyImage", region, params).await?;
        Ok(response::string_field(&body, &["RequestId"]).unwrap_or_default())
    }
}

/// The image `image_id` in a DescribeImages answer (`Images.Image[]`). Fields the tool does not
/// need may have any JSON type; `Progress` is `"NN%"`.
fn image_state(body: &serde_json::Value, image_id: &str) -> Option<ImageState> {
    let images = body.get("Images")?.get("Image")?.as_array()?;
    let image = images
        .iter()
        .find(|i| response::string_field(i, &["ImageId"]).as_deref() == Some(image_id))?;
    let remain_secs = image
        .get("DiskDeviceMappings")
        .and_then(|d| d.get("DiskDeviceMapping"))
        .and_then(|d| d.as_array())
        .into_iter()
        .flatten()
        .filter_map(|m| match m.get("RemainTime")? {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
        .max();
    Some(ImageState {
        status: response::string_field(image, &["Status"]).unwrap_or_default(),
        progress: response::string_field(image, &["Progress"]).and_then(|p| parse_percent(&p)),
        remain_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_copy_from_a_describe_images_answer() {
        let body = json!({"RequestId": "R", "TotalCount": 2, "Images": {"Image": [
            {"ImageId": "m-other", "Status": "Available", "Progress": "100%"},
            {"ImageId": "m-copy", "Status": "Creating", "Progress": "32%", "Size": 40, "IsSelfShared": "False",
             "DiskDeviceMappings": {"DiskDeviceMapping": [
                {"Device": "/dev/xvda", "Progress": "32%", "RemainTime": 233},
                {"Device": "/dev/xvdb", "Progress": "30%", "RemainTime": "301"}]}}
        ]}});
        assert_eq!(
            image_state(&body, "m-copy"),
            Some(ImageState {
                status: "Creating".into(),
                progress: Some(32),
                remain_secs: Some(301)
            })
        );
        assert_eq!(image_state(&body, "m-missing"), None);
        assert_eq!(
            image_state(&json!({"Images": {"Image": []}}), "m-copy"),
            None
        );
        assert_eq!(image_state(&json!({"Images": "weird"}), "m-copy"), None);
        let bare = json!({"Images": {"Image": [{"ImageId": "m-copy", "Status": "Waiting"}]}});
        assert_eq!(
            image_state(&bare, "m-copy"),
            Some(ImageState {
                status: "Waiting".into(),
                progress: None,
                remain_secs: None
            })
        );
    }
}
