//! Twilio Video simulator: `GET /v1/Rooms/{sid or unique name}` (Basic auth
//! with the API key), rooms created and ended by control methods, and room
//! status callbacks (form-encoded, `X-Twilio-Signature` HMAC-SHA1 over
//! `[worker] public_base_url` + `/webhooks/twilio` and the sorted parameters)
//! in the shape [`crate::worker::apply`] reads.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{
    CommonStats, Delivery, Fault, Knobs, Server, Shared, SimConfig, TWILIO_ACCOUNT_SID,
    TWILIO_API_KEY_SECRET, TWILIO_API_KEY_SID, WebhookTarget, lock,
};
use crate::providers::twilio as tw;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TwilioStats {
    pub common: CommonStats,
    pub rooms: usize,
    pub callbacks: u64,
}

#[derive(Debug, Clone)]
struct Room {
    sid: String,
    unique_name: String,
    status: String,
    created: chrono::DateTime<Utc>,
}

#[derive(Debug, Default)]
struct State_ {
    rooms: BTreeMap<String, Room>,
    seq: u64,
    callbacks: u64,
}

struct Inner {
    shared: Arc<Shared>,
    state: Mutex<State_>,
    target: Option<WebhookTarget>,
    webhooks: Option<tokio::sync::mpsc::UnboundedSender<Delivery>>,
}

#[derive(Clone)]
pub struct TwilioSim {
    inner: Arc<Inner>,
    server: Arc<Server>,
}

impl std::fmt::Debug for TwilioSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioSim")
            .field("base_url", &self.server.base_url)
            .finish_non_exhaustive()
    }
}

impl TwilioSim {
    pub async fn start(config: SimConfig) -> Result<Self, String> {
        let (listener, base_url) = Server::bind().await?;
        let (shared, tx, deliverer) = super::start_shared(&config);
        let inner = Arc::new(Inner {
            shared: shared.clone(),
            state: Mutex::new(State_::default()),
            target: config.webhooks.clone(),
            webhooks: tx,
        });
        let router = Router::new()
            .route("/v1/Rooms/{id}", get(get_room))
            .layer(axum::middleware::from_fn_with_state(shared, super::faults))
            .with_state(inner.clone());
        let server = Server::serve(listener, base_url, router);
        if let Some(d) = deliverer {
            server.add_task(d);
        }
        Ok(Self {
            inner,
            server: Arc::new(server),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.server.base_url
    }

    pub fn set_knobs(&self, knobs: Knobs) {
        *lock(&self.inner.shared.knobs) = knobs;
    }

    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.inner.shared.faults).extend(faults);
    }

    pub fn stats(&self) -> TwilioStats {
        let s = lock(&self.inner.state);
        TwilioStats {
            common: lock(&self.inner.shared.stats).clone(),
            rooms: s.rooms.len(),
            callbacks: s.callbacks,
        }
    }

    /// Creates an in-progress room and emits `room-created`. Returns its sid.
    pub fn create_room(&self, unique_name: &str) -> String {
        let room = {
            let mut s = lock(&self.inner.state);
            s.seq += 1;
            let room = Room {
                sid: format!("RM{:032x}", s.seq),
                unique_name: unique_name.to_string(),
                status: "in-progress".into(),
                created: Utc::now(),
            };
            s.rooms.insert(room.sid.clone(), room.clone());
            room
        };
        self.inner.callback(&room, "room-created", &[]);
        room.sid
    }

    /// A participant joins (`participant-connected`).
    pub fn connect(&self, room_sid: &str, identity: &str) -> bool {
        let Some(room) = lock(&self.inner.state).rooms.get(room_sid).cloned() else {
            return false;
        };
        let participant = format!("PA{}", uuid::Uuid::new_v4().simple());
        self.inner.callback(
            &room,
            "participant-connected",
            &[
                ("ParticipantSid", participant.as_str()),
                ("ParticipantIdentity", identity),
                ("ParticipantStatus", "connected"),
            ],
        );
        true
    }

    /// A participant leaves (`participant-disconnected`).
    pub fn disconnect(&self, room_sid: &str, identity: &str) -> bool {
        let Some(room) = lock(&self.inner.state).rooms.get(room_sid).cloned() else {
            return false;
        };
        let participant = format!("PA{}", uuid::Uuid::new_v4().simple());
        self.inner.callback(
            &room,
            "participant-disconnected",
            &[
                ("ParticipantSid", participant.as_str()),
                ("ParticipantIdentity", identity),
                ("ParticipantStatus", "disconnected"),
            ],
        );
        true
    }

    /// Ends the room (`room-ended` with `RoomDuration`).
    pub fn end_room(&self, room_sid: &str) -> bool {
        let room = {
            let mut s = lock(&self.inner.state);
            let Some(room) = s.rooms.get_mut(room_sid) else {
                return false;
            };
            room.status = "completed".into();
            room.clone()
        };
        let duration = (Utc::now() - room.created).num_seconds().max(0).to_string();
        self.inner
            .callback(&room, "room-ended", &[("RoomDuration", duration.as_str())]);
        true
    }

    pub async fn shutdown(&self) {
        self.server.shutdown().await;
    }
}

impl Inner {
    fn callback(&self, room: &Room, event: &str, extra: &[(&str, &str)]) {
        let (Some(tx), Some(target)) = (&self.webhooks, &self.target) else {
            return;
        };
        let sequence = {
            let mut s = lock(&self.state);
            s.callbacks += 1;
            s.callbacks
        };
        let mut params: Vec<(String, String)> = vec![
            ("AccountSid".into(), TWILIO_ACCOUNT_SID.into()),
            ("RoomName".into(), room.unique_name.clone()),
            ("RoomSid".into(), room.sid.clone()),
            ("RoomStatus".into(), room.status.clone()),
            ("RoomType".into(), "group".into()),
            ("StatusCallbackEvent".into(), event.into()),
            (
                "Timestamp".into(),
                Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            ),
            ("SequenceNumber".into(), sequence.to_string()),
        ];
        params.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let url = format!(
            "{}/webhooks/twilio",
            target.public_base_url.trim_end_matches('/')
        );
        let signature = tw::sign(target.twilio_auth_token.expose(), &url, &params);
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter())
            .finish()
            .into_bytes();
        super::queue(
            &self.shared,
            tx,
            Delivery {
                path: "/webhooks/twilio",
                content_type: "application/x-www-form-urlencoded",
                headers: vec![(tw::SIGNATURE_HEADER.into(), signature)],
                body,
            },
        );
    }
}

fn room_json(r: &Room, base: &str) -> Value {
    json!({
        "sid": r.sid,
        "account_sid": TWILIO_ACCOUNT_SID,
        "unique_name": r.unique_name,
        "status": r.status,
        "type": "group",
        "date_created": r.created.to_rfc3339_opts(SecondsFormat::Secs, true),
        "max_participants": 50,
        "url": format!("{base}/v1/Rooms/{}", r.sid),
    })
}

async fn get_room(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    use base64::Engine as _;
    let expected = base64::engine::general_purpose::STANDARD
        .encode(format!("{TWILIO_API_KEY_SID}:{TWILIO_API_KEY_SECRET}"));
    let ok = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        == Some(expected.as_str());
    if !ok {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "code": 20003, "message": "Authenticate", "status": 401 })),
        )
            .into_response();
    }
    let s = lock(&inner.state);
    let room = s
        .rooms
        .get(&id)
        .or_else(|| s.rooms.values().find(|r| r.unique_name == id));
    let base = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .map(|h| format!("http://{h}"))
        .unwrap_or_default();
    match room {
        Some(r) => axum::Json(room_json(r, &base)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "code": 20404, "message": "The requested resource was not found", "status": 404 })),
        )
            .into_response(),
    }
}
