//! What goes to stdout: the result and nothing else.

use serde::Serialize;

use crate::cli::OutputFormat;

/// The result of one copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Report {
    pub image_id: String,
    pub request_id: String,
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
}

impl Report {
    /// The text to print on stdout, with its final newline.
    pub fn render(&self, format: OutputFormat) -> String {
        match format {
            OutputFormat::Text => format!("{}\n", self.image_id),
            OutputFormat::Json => {
                // A struct of strings always serializes.
                let json = serde_json::to_string_pretty(self).expect("report serializes");
                format!("{json}\n")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            image_id: "m-uf6new".into(),
            request_id: "R-1".into(),
            source_region_id: "cn-hangzhou".into(),
            destination_region_id: "cn-shanghai".into(),
            status: None,
            progress: None,
            elapsed_seconds: None,
        }
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
