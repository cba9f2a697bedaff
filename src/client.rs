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
use crate::sign::SignatureVersion;
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
    pub signature: SignatureVersion,
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
    signature: SignatureVersion,
}

impl EcsClient {
    pub fn new(rpc: Arc<RpcClient>, credentials: Provider, options: &ClientOptions) -> Self {
        Self {
            rpc,
            credentials,
            endpoint_override: options.endpoint_override.clone(),
            signature: options.signature,
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
            signature: self.signature,
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

    /// Your images in `region` whose name is exactly `name`, in any status. The service's
    /// `ImageName` filter is fuzzy, so every page is read and compared here.
    pub async fn images_named(
        &self,
        region: &RegionId,
        name: &str,
    ) -> Result<Vec<ListedImage>, Error> {
        let mut found = Vec::new();
        for page in 1..=MAX_PAGES {
            let mut params = Params::new();
            params.insert("RegionId".into(), region.to_string());
            params.insert("ImageName".into(), name.to_owned());
            params.insert("ImageOwnerAlias".into(), "self".into());
            params.insert("Status".into(), COPY_STATUSES.into());
            params.insert("PageSize".into(), "100".into());
            params.insert("PageNumber".into(), page.to_string());
            let body = self.call("DescribeImages", region, params).await?;
            let images = listed_images(&body);
            let total = body.get("TotalCount").and_then(|t| t.as_u64()).unwrap_or(0);
            let last_page = images.len() < 100 || u64::from(page) * 100 >= total;
            found.extend(images.into_iter().filter(|i| i.name == name));
            if last_page {
                break;
            }
        }
        Ok(found)
    }

    /// The tags of the source image, for `--copy-tags` (none when it is not listed: CopyImage
    /// then says why).
    pub async fn image_tags(
        &self,
        region: &RegionId,
        image_id: &str,
    ) -> Result<Vec<(String, String)>, Error> {
        let mut params = Params::new();
        params.insert("RegionId".into(), region.to_string());
        params.insert("ImageId".into(), image_id.to_owned());
        params.insert("Status".into(), COPY_STATUSES.into());
        let body = self.call("DescribeImages", region, params).await?;
        Ok(listed_images(&body)
            .into_iter()
            .find(|i| i.image_id == image_id)
            .map(|i| i.tags)
            .unwrap_or_default())
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

/// An image as DescribeImages lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedImage {
    pub image_id: String,
    pub name: String,
    pub status: String,
    /// In the listed order.
    pub tags: Vec<(String, String)>,
}

/// Pages of DescribeImages read at most, 100 images each.
const MAX_PAGES: u32 = 50;

fn listed_images(body: &serde_json::Value) -> Vec<ListedImage> {
    let field =
        |v: &serde_json::Value, n: &str| response::string_field(v, &[n]).unwrap_or_default();
    body.get("Images")
        .and_then(|i| i.get("Image"))
        .and_then(|i| i.as_array())
        .into_iter()
        .flatten()
        .map(|image| ListedImage {
            image_id: field(image, "ImageId"),
            name: field(image, "ImageName"),
            status: field(image, "Status"),
            tags: image
                .get("Tags")
                .and_then(|t| t.get("Tag"))
                .and_then(|t| t.as_array())
                .into_iter()
                .flatten()
                .map(|t| (field(t, "TagKey"), field(t, "TagValue")))
                .filter(|(k, _)| !k.is_empty())
                .collect(),
        })
        .filter(|i| !i.image_id.is_empty())
        .collect()
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
    fn lists_images_with_names_and_tags() {
        let body = json!({"TotalCount": 2, "Images": {"Image": [
            {"ImageId": "m-1", "ImageName": "web", "Status": "Available",
             "Tags": {"Tag": [{"TagKey": "env", "TagValue": "prod"}, {"TagKey": "acs:x", "TagValue": ""}]}},
            {"ImageId": "m-2", "ImageName": "web-2", "Status": "Creating"},
            {"ImageName": "no id"}
        ]}});
        let images = listed_images(&body);
        assert_eq!(images.len(), 2);
        assert_eq!(
            images[0].tags,
            [
                ("env".to_owned(), "prod".to_owned()),
                ("acs:x".to_owned(), String::new())
            ]
        );
        assert_eq!(
            (images[1].name.as_str(), images[1].status.as_str()),
            ("web-2", "Creating")
        );
        assert!(listed_images(&json!({"Images": 3})).is_empty());
    }

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
