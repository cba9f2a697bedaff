//! The emulator's in-memory world: images, used nonces, client tokens, the
//! keys its STS issued and the request log. Everything lives behind one
//! `Mutex` owned by the server.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::faults::QueuedFault;
use super::sts::{AssumedRole, IssuedKey};
use super::{Config, ImageView, RecordedRequest};

/// A status pinned by a seed or by `Emulator::set_image_status`: it no longer
/// moves with the clock.
#[derive(Debug, Clone)]
pub(crate) struct Pinned {
    pub status: String,
    pub progress: u8,
}

/// One image as the emulator stores it.
#[derive(Debug, Clone)]
pub(crate) struct Image {
    pub region: String,
    pub image_id: String,
    pub name: String,
    pub description: String,
    /// When it was created (drives the copy's status progression).
    pub created_at: Instant,
    /// The same instant on the wall clock, for `CreationTime`.
    pub creation_time: DateTime<Utc>,
    pub pinned: Option<Pinned>,
    pub encrypted: Option<bool>,
    pub kms_key_id: Option<String>,
    pub resource_group_id: Option<String>,
    pub tags: Vec<(String, String)>,
    /// `Some` for images made by `CopyImage`.
    pub source_image_id: Option<String>,
    pub client_token: Option<String>,
}

/// The status of an image at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub status: String,
    /// 0..=100
    pub progress: u8,
    /// Seconds until the copy is done (0 when not copying).
    pub remain_secs: u64,
}

impl Image {
    pub fn is_copy(&self) -> bool {
        self.source_image_id.is_some()
    }

    /// Status at `now`: pinned if pinned; a copy is `Waiting` for
    /// `queue_time`, then `Creating` with progress rising linearly over
    /// `copy_time`, then `Available` at 100%.
    pub fn snapshot(&self, now: Instant, queue_time: Duration, copy_time: Duration) -> Snapshot {
        if let Some(pinned) = &self.pinned {
            return Snapshot {
                status: pinned.status.clone(),
                progress: pinned.progress,
                remain_secs: 0,
            };
        }
        let elapsed = now.saturating_duration_since(self.created_at);
        let total = queue_time.saturating_add(copy_time);
        let remain_secs = |elapsed: Duration| {
            let left = total.saturating_sub(elapsed);
            left.as_secs() + u64::from(left.subsec_nanos() > 0)
        };
        if elapsed < queue_time {
            Snapshot {
                status: "Waiting".to_string(),
                progress: 0,
                remain_secs: remain_secs(elapsed),
            }
        } else if elapsed < total {
            let done = (elapsed - queue_time).as_secs_f64() / copy_time.as_secs_f64();
            // `elapsed < total` implies copy_time > 0 here.
            let progress = (done * 100.0).floor().clamp(0.0, 99.0) as u8;
            Snapshot {
                status: "Creating".to_string(),
                progress,
                remain_secs: remain_secs(elapsed),
            }
        } else {
            Snapshot {
                status: "Available".to_string(),
                progress: 100,
                remain_secs: 0,
            }
        }
    }

    pub fn view(&self, snapshot: &Snapshot) -> ImageView {
        ImageView {
            image_id: self.image_id.clone(),
            region: self.region.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            status: snapshot.status.clone(),
            progress: format!("{}%", snapshot.progress),
            encrypted: self.encrypted,
            kms_key_id: self.kms_key_id.clone(),
            resource_group_id: self.resource_group_id.clone(),
            tags: self.tags.clone(),
            source_image_id: self.source_image_id.clone(),
            client_token: self.client_token.clone(),
        }
    }
}

/// What a successful `CopyImage` with a `ClientToken` was called with.
#[derive(Debug, Clone)]
pub(crate) struct TokenRecord {
    /// The API parameters (common/signature ones left out), sorted.
    pub api_params: Vec<(String, String)>,
    pub image_id: String,
}

pub(crate) struct State {
    pub config: Config,
    /// In creation order.
    pub images: Vec<Image>,
    /// (AccessKeyId, SignatureNonce) → when it was used.
    pub nonces: HashMap<(String, String), Instant>,
    /// (AccessKeyId, ClientToken) → the CopyImage it answered.
    pub client_tokens: HashMap<(String, String), TokenRecord>,
    pub requests: Vec<RecordedRequest>,
    /// Faults waiting for their request, in injection order.
    pub faults: Vec<QueuedFault>,
    /// STS keys issued (by `AssumeRole`, `AssumeRoleWithOIDC`,
    /// `Emulator::issue_sts_key`), in order; all are accepted access keys.
    pub issued: Vec<IssuedKey>,
    /// What each successful `AssumeRole*` call asked for, in order.
    pub assumed: Vec<AssumedRole>,
}

impl State {
    pub fn new(config: Config) -> State {
        let now = Instant::now();
        let wall = Utc::now();
        let images = config
            .images
            .iter()
            .map(|seed| Image {
                region: seed.region.clone(),
                image_id: seed.image_id.clone(),
                name: seed.name.clone(),
                description: String::new(),
                created_at: now,
                creation_time: wall,
                pinned: Some(Pinned {
                    status: seed.status.clone(),
                    progress: if seed.status == "Available" { 100 } else { 0 },
                }),
                encrypted: None,
                kms_key_id: None,
                resource_group_id: None,
                tags: Vec::new(),
                source_image_id: None,
                client_token: None,
            })
            .collect();
        State {
            config,
            images,
            nonces: HashMap::new(),
            client_tokens: HashMap::new(),
            requests: Vec::new(),
            faults: Vec::new(),
            issued: Vec::new(),
            assumed: Vec::new(),
        }
    }

    /// The issued STS key with this AccessKeyId, expired or not.
    pub fn issued_key(&self, access_key_id: &str) -> Option<&IssuedKey> {
        self.issued
            .iter()
            .find(|k| k.access_key_id == access_key_id)
    }

    /// The emulator's wall clock: the real time shifted by
    /// `config.clock_skew` (saturating at chrono's limits).
    pub fn now(&self) -> DateTime<Utc> {
        let skew = self.config.clock_skew;
        Utc::now()
            .checked_add_signed(skew)
            .unwrap_or(if skew > chrono::TimeDelta::zero() {
                DateTime::<Utc>::MAX_UTC
            } else {
                DateTime::<Utc>::MIN_UTC
            })
    }

    pub fn knows_region(&self, region: &str) -> bool {
        self.config.regions.iter().any(|r| r == region)
    }

    pub fn find(&self, region: &str, image_id: &str) -> Option<&Image> {
        self.images
            .iter()
            .find(|i| i.region == region && i.image_id == image_id)
    }

    pub fn snapshot_of(&self, image: &Image, now: Instant) -> Snapshot {
        image.snapshot(now, self.config.queue_time, self.config.copy_time)
    }

    pub fn view_of(&self, image: &Image, now: Instant) -> ImageView {
        image.view(&self.snapshot_of(image, now))
    }

    /// Pins `status`; the progress is frozen where it is (100% for `Available`).
    pub fn pin_status(&mut self, region: &str, image_id: &str, status: &str) -> bool {
        let now = Instant::now();
        let (queue, copy) = (self.config.queue_time, self.config.copy_time);
        match self
            .images
            .iter_mut()
            .find(|i| i.region == region && i.image_id == image_id)
        {
            Some(image) => {
                let current = image.snapshot(now, queue, copy);
                let progress = if status == "Available" {
                    100
                } else {
                    current.progress
                };
                image.pinned = Some(Pinned {
                    status: status.to_string(),
                    progress,
                });
                true
            }
            None => false,
        }
    }

    /// Records a nonce; `false` if it was already used by this key within
    /// the tolerance window.
    pub fn use_nonce(&mut self, access_key_id: &str, nonce: &str, now: Instant) -> bool {
        let window = self.config.timestamp_tolerance;
        self.nonces
            .retain(|_, used| now.saturating_duration_since(*used) <= window);
        let key = (access_key_id.to_string(), nonce.to_string());
        if self.nonces.contains_key(&key) {
            return false;
        }
        self.nonces.insert(key, now);
        true
    }
}
