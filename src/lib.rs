//! copy-image: copy an Alibaba Cloud ECS custom image to another region.

pub mod model;
pub mod sign;
