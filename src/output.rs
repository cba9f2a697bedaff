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
        }
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
