//! What goes to stdout: the result and nothing else.

use serde::Serialize;

use crate::cli::OutputFormat;

/// The result of one copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Report {
    /// None only for a copy that did not start (several destinations, JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// None when nothing was copied (an existing image reused, or the source kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub source_region_id: String,
    pub destination_region_id: String,
    /// With `--wait`: the last status seen (`Available` when done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// With `--wait`: percent, 0 to 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<u8>,
    /// With `--wait`: seconds spent waiting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_seconds: Option<u64>,
    /// `--if-exists reuse` found the image instead of copying.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reused: Option<bool>,
    /// Why this copy failed, when several were asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Report {
    /// A copy to `destination` of the source image, nothing known yet.
    pub fn new(source_region_id: String, destination_region_id: String) -> Self {
        Self {
            image_id: None,
            request_id: None,
            source_region_id,
            destination_region_id,
            status: None,
            progress: None,
            elapsed_seconds: None,
            reused: None,
            error: None,
        }
    }

    /// The text to print on stdout for one destination, with its final newline.
    pub fn render(&self, format: OutputFormat) -> String {
        match format {
            OutputFormat::Text => format!("{}\n", self.image_id.as_deref().unwrap_or_default()),
            OutputFormat::Json => json(self),
        }
    }

    /// A text line for one of several destinations: `REGION<TAB>IMAGE-ID`.
    pub fn line(&self) -> String {
        format!(
            "{}\t{}\n",
            self.destination_region_id,
            self.image_id.as_deref().unwrap_or_default()
        )
    }
}

/// Several destinations in JSON: an array of the per-copy objects.
pub fn render_all(reports: &[Report]) -> String {
    json(&reports)
}

fn json(value: &impl Serialize) -> String {
    // Structs of strings and numbers always serialize.
    let json = serde_json::to_string_pretty(value).expect("report serializes");
    format!("{json}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            image_id: Some("m-uf6new".into()),
            request_id: Some("R-1".into()),
            ..Report::new("cn-hangzhou".into(), "cn-shanghai".into())
        }
    }

    #[test]
    fn several_destinations() {
        let ok = report();
        let failed = Report {
            error: Some("CopyImage failed".into()),
            ..Report::new("cn-hangzhou".into(), "cn-beijing".into())
        };
        assert_eq!(ok.line(), "cn-shanghai\tm-uf6new\n");
        let v: serde_json::Value = serde_json::from_str(&render_all(&[ok, failed])).unwrap();
        assert_eq!(v[0]["ImageId"], "m-uf6new");
        assert_eq!(v[1]["DestinationRegionId"], "cn-beijing");
        assert_eq!(v[1]["Error"], "CopyImage failed");
        assert!(v[1].get("ImageId").is_none());
    }

    #[test]
    fn json_after_a_wait_has_status_progress_and_elapsed_seconds() {
        let r = Report {
            status: Some("Available".into()),
            progress: Some(100),
            elapsed_seconds: Some(754),
            ..report()
        };
        let v: serde_json::Value = serde_json::from_str(&r.render(OutputFormat::Json)).unwrap();
        assert_eq!(v["Status"], "Available");
        assert_eq!(v["Progress"], 100);
        assert_eq!(v["ElapsedSeconds"], 754);
        assert_eq!(v.as_object().unwrap().len(), 7);
    }

    #[test]
    fn text_is_the_image_id_and_a_newline() {
        assert_eq!(report().render(OutputFormat::Text), "m-uf6new\n");
    }

    #[test]
    fn json_has_the_documented_keys_in_order() {
        let out = report().render(OutputFormat::Json);
        assert!(out.ends_with("}\n"));
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(value["ImageId"], "m-uf6new");
        assert_eq!(value["RequestId"], "R-1");
        assert_eq!(value["SourceRegionId"], "cn-hangzhou");
        assert_eq!(value["DestinationRegionId"], "cn-shanghai");
        assert_eq!(value.as_object().unwrap().len(), 4);
        let order = [
            "ImageId",
            "RequestId",
            "SourceRegionId",
            "DestinationRegionId",
        ]
        .map(|k| out.find(&format!("\"{k}\"")).unwrap());
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{out}");
    }
}
