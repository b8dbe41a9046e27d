//! The admins' routes for the voice menu:
//!
//! - `GET /api/admin/ivr`: the menu in force as a tree (each file's nodes
//!   with their titles, prompts and where each key or outcome leads) and
//!   every prompt it uses, with its length or "missing";
//! - `POST /api/admin/ivr/check`: `hotline ivr check` on the files as they
//!   are now (nothing changes);
//! - `GET /api/admin/ivr/prompt?name=`: a prompt as callers hear it (8 kHz
//!   mono WAV), for the page's play button;
//! - `PUT /api/admin/ivr/prompt?name=` (multipart, one field `file`): a
//!   studio recording for a prompt. Checked before it is kept (it must
//!   decode, last 0.3 s to 5 min and not be silence); then it replaces
//!   the prompt's file (other formats of the same name go) and the menu is
//!   reloaded. Audited.
//!
//! The reload itself is `POST /api/ivr/reload`.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Multipart, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tracing::info;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::admin::{Audited, audit};
use super::auth::Auth;
use super::error::{ApiError, ErrorBody};
use super::state::AppState;
use crate::ivr::assets::IvrReloader;
use crate::ivr::script::{NodeKind, PROMPT_EXTENSIONS};
use crate::store::{Role, Store};

/// The longest recording a prompt may be.
const MAX_PROMPT_SECS: f64 = 300.0;
/// The shortest.
const MIN_PROMPT_SECS: f64 = 0.3;
/// The largest recording taken (five minutes of 48 kHz stereo WAV, with room).
const MAX_UPLOAD_BYTES: usize = 64 << 20;
/// Below this RMS (of 16-bit samples) a recording is taken for silence.
const SILENCE_RMS: f64 = 30.0;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(menu_tree))
        .routes(routes!(check))
        // A studio recording of five minutes: 44.1 kHz stereo WAV is ~50 MB.
        .routes(routes!(play_prompt, upload_prompt).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)))
}

/// Where a node leads: on a key (`"1"`), an outcome (`next`, `failure`,
/// `default`, a branch's case or time window) to a node.
#[derive(Serialize, utoipa::ToSchema)]
struct Edge {
    on: String,
    to: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MenuNode)]
struct NodeView {
    /// `file:node`.
    id: String,
    /// `play`, `menu`, `queue`…
    kind: &'static str,
    title: Option<String>,
    prompts: Vec<String>,
    /// For a queue node: the queue.
    queue: Option<String>,
    edges: Vec<Edge>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MenuFile)]
struct FileView {
    /// The file's stem (`main` for `main.toml`).
    file: String,
    /// Its first node.
    start: Option<String>,
    nodes: Vec<NodeView>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MenuPrompt)]
struct PromptView {
    name: String,
    /// Its length as callers hear it; `None`: no file in the language.
    seconds: Option<f64>,
    /// Whether a node of the menu uses it (the rest: numbers and dates
    /// the menu says, and spare recordings).
    used: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = VoiceMenu)]
struct MenuView {
    entry: String,
    files: Vec<FileView>,
    prompts: Vec<PromptView>,
}

/// What a node says and where it leads.
fn describe(kind: &NodeKind) -> (Vec<String>, Option<String>, Vec<Edge>) {
    let edge = |on: &str, to: &crate::ivr::script::NodeId| Edge {
        on: on.to_string(),
        to: to.to_string(),
    };
    match kind {
        NodeKind::Play { prompts, next, .. } => (prompts.clone(), None, vec![edge("next", next)]),
        NodeKind::Menu {
            greet_long,
            greet_short,
            invalid_sound,
            timeout_sound,
            exit_sound,
            keys,
            on_failure,
            ..
        } => {
            let prompts = [
                greet_long,
                greet_short,
                invalid_sound,
                timeout_sound,
                exit_sound,
            ]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
            let mut edges: Vec<Edge> = keys.iter().map(|(k, to)| edge(k, to)).collect();
            edges.push(edge("failure", on_failure));
            (prompts, None, edges)
        }
        NodeKind::Collect {
            prompts,
            invalid_sound,
            next,
            on_failure,
            ..
        } => (
            prompts.iter().chain(invalid_sound).cloned().collect(),
            None,
            vec![edge("next", next), edge("failure", on_failure)],
        ),
        NodeKind::Branch {
            cases,
            schedule,
            default,
            ..
        } => {
            let mut edges: Vec<Edge> = cases.iter().map(|(k, to)| edge(k, to)).collect();
            for w in schedule {
                let on = format!(
                    "{:02}:{:02}–{:02}:{:02}",
                    w.from / 60,
                    w.from % 60,
                    w.to / 60,
                    w.to % 60
                );
                edges.push(edge(&on, &w.next));
            }
            edges.push(edge("default", default));
            (Vec::new(), None, edges)
        }
        NodeKind::Queue { queue, prompts } => (prompts.clone(), Some(queue.clone()), Vec::new()),
        NodeKind::Hangup { prompts } => (prompts.clone(), None, Vec::new()),
        NodeKind::Goto { next }
        | NodeKind::AppealStatus { next, .. }
        | NodeKind::SayAppeal { next }
        | NodeKind::Outages { next, .. } => (Vec::new(), None, vec![edge("next", next)]),
    }
}

/// The voice menu in force as a tree, and every prompt of its language.
/// Admins.
#[utoipa::path(get, path = "/api/admin/ivr", operation_id = "voice_menu", tag = "voice menu",
    responses((status = 200, body = MenuView)))]
async fn menu_tree(
    State(reloader): State<IvrReloader>,
    auth: Auth,
) -> Result<Json<MenuView>, ApiError> {
    auth.require(&[Role::Admin])?;
    let assets = reloader.current().get();
    let script = &assets.script;
    let mut files: Vec<FileView> = Vec::new();
    let mut used = std::collections::BTreeSet::new();
    let mut nodes: Vec<_> = script.nodes.values().collect();
    nodes.sort_by_key(|n| (n.id.file.clone(), n.line));
    for node in nodes {
        let (prompts, queue, edges) = describe(&node.kind);
        used.extend(prompts.iter().cloned());
        let view = NodeView {
            id: node.id.to_string(),
            kind: node.kind.name(),
            title: node.title.clone(),
            prompts,
            queue,
            edges,
        };
        match files.iter_mut().find(|f| f.file == node.id.file) {
            Some(file) => file.nodes.push(view),
            None => files.push(FileView {
                file: node.id.file.clone(),
                start: script.starts.get(&node.id.file).map(|s| s.to_string()),
                nodes: vec![view],
            }),
        }
    }
    // The entry menu first, then the others by name.
    files.sort_by_key(|f| (f.file != script.entry.file, f.file.clone()));
    let mut names: std::collections::BTreeSet<String> = assets.prompts.keys().cloned().collect();
    names.extend(used.iter().cloned());
    // Those the menu uses first, then the words it says numbers and dates
    // with, and spare recordings.
    let mut names: Vec<String> = names.into_iter().collect();
    names.sort_by_key(|n| (!used.contains(n), n.clone()));
    let prompts = names
        .into_iter()
        .map(|name| PromptView {
            seconds: assets
                .prompts
                .get(&name)
                .map(|p| (p.duration().as_secs_f64() * 10.0).round() / 10.0),
            used: used.contains(&name),
            name,
        })
        .collect();
    Ok(Json(MenuView {
        entry: script.entry.to_string(),
        files,
        prompts,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MenuCheck)]
struct CheckView {
    ok: bool,
    /// The nodes of the files as they are now, when they pass.
    nodes: Option<usize>,
    /// Each problem: `file:line: message`.
    problems: Vec<String>,
}

/// Checks the menu files and prompts as they are on disk now, against the
/// queues and the block list's settings (`hotline ivr check`); nothing is
/// reloaded. Admins.
#[utoipa::path(post, path = "/api/admin/ivr/check", operation_id = "check_voice_menu", tag = "voice menu",
    responses((status = 200, body = CheckView)))]
async fn check(
    State(reloader): State<IvrReloader>,
    auth: Auth,
) -> Result<Json<CheckView>, ApiError> {
    auth.require(&[Role::Admin])?;
    let result = tokio::task::spawn_blocking(move || reloader.check())
        .await
        .map_err(|e| ApiError::internal(format!("the check failed: {e}")))?;
    Ok(Json(match result {
        Ok(nodes) => CheckView {
            ok: true,
            nodes: Some(nodes),
            problems: Vec::new(),
        },
        Err(problems) => CheckView {
            ok: false,
            nodes: None,
            problems: problems.iter().map(ToString::to_string).collect(),
        },
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PromptQuery {
    /// The prompt's name (`greeting`, `digits/5`).
    name: String,
}

/// A prompt's name as the menu files write it: lower-case letters, digits,
/// `-`, `_`, and `/` between folders; never `..`.
fn prompt_name(name: &str) -> Result<&str, ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name.split('/').all(|part| {
            !part.is_empty()
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(name)
    } else {
        Err(ApiError::unprocessable(
            "Назва запису: латинські малі літери, цифри, «-», «_», «/» між папками.",
        ))
    }
}

/// A prompt as callers hear it: 8 kHz mono 16-bit WAV. Admins.
#[utoipa::path(get, path = "/api/admin/ivr/prompt", operation_id = "play_prompt", tag = "voice menu",
    params(PromptQuery),
    responses(
        (status = 200, content_type = "audio/wav", description = "The prompt"),
        (status = 404, body = ErrorBody, description = "No such prompt in the language"),
    ))]
async fn play_prompt(
    State(reloader): State<IvrReloader>,
    auth: Auth,
    Query(q): Query<PromptQuery>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Admin])?;
    let name = prompt_name(&q.name)?;
    let assets = reloader.current().get();
    let prompt = assets
        .prompts
        .get(name)
        .ok_or_else(|| ApiError::not_found(format!("no prompt {name:?} in the language")))?;
    let wav = wav_bytes(prompt.samples());
    Ok(([(header::CONTENT_TYPE, "audio/wav")], wav).into_response())
}

/// 8 kHz mono 16-bit PCM samples as a WAV file.
fn wav_bytes(samples: &[i16]) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: crate::media::prompt::PROMPT_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = std::io::Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    {
        let Ok(mut writer) = hound::WavWriter::new(&mut out, spec) else {
            return Vec::new();
        };
        for s in samples {
            let _ = writer.write_sample(*s);
        }
        let _ = writer.finalize();
    }
    out.into_inner()
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PromptReplaced)]
struct UploadView {
    name: String,
    /// The new recording's length as callers hear it.
    seconds: f64,
    /// The file it is kept in (under the language's prompts).
    file: String,
    /// The menu reloaded with it (its node count).
    nodes: usize,
}

/// A studio recording for a prompt: any format the server decodes (WAV,
/// FLAC, Ogg/Vorbis, MP3; any rate; resampled to 8 kHz mono for calls).
/// Refused with a message if it does not decode, lasts under 0.3 s or over
/// 5 minutes, or is silence; else it replaces the prompt's file and the
/// menu is reloaded. Admins; audited.
#[utoipa::path(put, path = "/api/admin/ivr/prompt", operation_id = "upload_prompt", tag = "voice menu",
    params(PromptQuery),
    request_body(content_type = "multipart/form-data", description = "One field `file`: the recording"),
    responses(
        (status = 200, body = UploadView, description = "Kept and in force"),
        (status = 422, body = ErrorBody, description = "Not a usable recording, or a bad name"),
    ))]
async fn upload_prompt(
    State(reloader): State<IvrReloader>,
    State(store): State<Store>,
    auth: Auth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<PromptQuery>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<UploadView>, ApiError> {
    auth.require(&[Role::Admin])?;
    let name = prompt_name(&q.name)?.to_owned();
    let mut multipart = multipart
        .map_err(|_| ApiError::bad_request("send multipart/form-data with one field \"file\""))?;
    let field = loop {
        match multipart.next_field().await {
            Ok(Some(f)) if f.name() == Some("file") => break f,
            Ok(Some(_)) => continue,
            Ok(None) => return Err(ApiError::unprocessable("Додайте файл запису.")),
            Err(e) => return Err(ApiError::bad_request(e.body_text())),
        }
    };
    let sent = field.file_name().unwrap_or_default().to_lowercase();
    let ext = sent
        .rsplit_once('.')
        .map(|(_, e)| e.to_owned())
        .filter(|e| PROMPT_EXTENSIONS.contains(&e.as_str()))
        .ok_or_else(|| {
            ApiError::unprocessable(format!(
                "Формат файлу має бути один із: {}.",
                PROMPT_EXTENSIONS.join(", ")
            ))
        })?;
    let bytes = field
        .bytes()
        .await
        .map_err(|e| ApiError::bad_request(e.body_text()))?;
    let dir = reloader.current().get().script.prompts_dir.clone();
    let before = reloader
        .current()
        .get()
        .prompts
        .get(&name)
        .map(|p| p.duration().as_secs_f64());
    let (file, seconds) = {
        let (name, ext) = (name.clone(), ext.clone());
        tokio::task::spawn_blocking(move || keep_prompt(&dir, &name, &ext, &bytes))
            .await
            .map_err(|e| ApiError::internal(format!("the upload failed: {e}")))??
    };
    let reload = reloader.clone();
    let nodes = tokio::task::spawn_blocking(move || reload.reload())
        .await
        .map_err(|e| ApiError::internal(format!("the reload failed: {e}")))?
        .map_err(|problems| {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            ApiError::unprocessable(format!(
                "Запис збережено, але меню не перезавантажилось: {}",
                list.join("; ")
            ))
        })?;
    audit(
        &store,
        &auth,
        peer,
        Audited {
            action: "ivr.prompt",
            target: &name,
            before: before.map(|s| serde_json::json!({ "seconds": s }).to_string()),
            after: Some(serde_json::json!({ "seconds": seconds, "file": file }).to_string()),
            reason: None,
        },
    )
    .await?;
    info!(prompt = %name, by = %auth.user().login, seconds, "prompt replaced");
    Ok(Json(UploadView {
        name,
        seconds: (seconds * 10.0).round() / 10.0,
        file,
        nodes,
    }))
}

/// Checks the recording and puts it in place of the prompt's file(s):
/// the file kept (relative to the prompts' folder) and its length.
fn keep_prompt(
    dir: &std::path::Path,
    name: &str,
    ext: &str,
    bytes: &[u8],
) -> Result<(String, f64), ApiError> {
    let target: PathBuf = dir.join(format!("{name}.{ext}"));
    let folder = target
        .parent()
        .ok_or_else(|| ApiError::internal("a prompt without a folder"))?;
    std::fs::create_dir_all(folder)
        .map_err(|e| ApiError::internal(format!("cannot write the prompts' folder: {e}")))?;
    // Checked as a file of its own first: nothing replaced until it passes.
    let trial = folder.join(format!(".upload-{}.{ext}", uuid::Uuid::new_v4()));
    std::fs::write(&trial, bytes)
        .map_err(|e| ApiError::internal(format!("cannot write the prompts' folder: {e}")))?;
    let checked = crate::media::prompt::decode_file(&trial)
        .map_err(|e| {
            ApiError::unprocessable(format!(
                "Файл не вдалося розібрати як аудіо: {}",
                e.to_string().replace(&trial.display().to_string(), "файл")
            ))
        })
        .and_then(|prompt| {
            let seconds = prompt.duration().as_secs_f64();
            let samples = prompt.samples();
            let rms = (samples.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>()
                / samples.len().max(1) as f64)
                .sqrt();
            if seconds < MIN_PROMPT_SECS {
                Err(ApiError::unprocessable(format!(
                    "Запис закороткий ({seconds:.1} с): щонайменше {MIN_PROMPT_SECS} с."
                )))
            } else if seconds > MAX_PROMPT_SECS {
                Err(ApiError::unprocessable(format!(
                    "Запис задовгий ({seconds:.0} с): щонайбільше {MAX_PROMPT_SECS:.0} с."
                )))
            } else if rms < SILENCE_RMS {
                Err(ApiError::unprocessable(
                    "Запис майже беззвучний: перевірте рівень запису.",
                ))
            } else {
                Ok(seconds)
            }
        });
    let seconds = match checked {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_file(&trial);
            return Err(e);
        }
    };
    // The first format found wins when several exist: the others go.
    for other in PROMPT_EXTENSIONS.iter().filter(|e| **e != ext) {
        let _ = std::fs::remove_file(dir.join(format!("{name}.{other}")));
    }
    std::fs::rename(&trial, &target).map_err(|e| {
        let _ = std::fs::remove_file(&trial);
        ApiError::internal(format!("cannot put the recording in place: {e}"))
    })?;
    Ok((format!("{name}.{ext}"), seconds))
}
