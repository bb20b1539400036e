//! Reply contents the kernel builds: kernel_info, and the shapes of completion, inspection and is_complete replies.

use super::complete::{Completeness, Completion};
use jupyter_protocol::{
    CodeMirrorMode, CompleteReply, HelpLink, InspectReply, IsCompleteReply, IsCompleteReplyStatus,
    JupyterMessageContent, KernelInfoReply, LanguageInfo, Media, MediaType, ReplyStatus,
};

/// The protocol version spoken.
pub const PROTOCOL_VERSION: &str = "5.3";

pub fn kernel_info() -> KernelInfoReply {
    KernelInfoReply {
        status: ReplyStatus::Ok,
        protocol_version: PROTOCOL_VERSION.into(),
        implementation: "noyau".into(),
        implementation_version: env!("CARGO_PKG_VERSION").into(),
        language_info: LanguageInfo {
            name: "rhai".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            mimetype: Some("text/x-rhai".into()),
            file_extension: Some(".rhai".into()),
            // Rhai's syntax (let, fn, braces, `//` comments, closures `|x|`) is close to Rust's.
            pygments_lexer: Some("rust".into()),
            codemirror_mode: Some(CodeMirrorMode::Simple("rust".into())),
            nbconvert_exporter: Some("script".into()),
        },
        banner: format!(
            "Noyau {} — kernel reductions on point clouds, in Rhai. help() lists the functions; %%rust cells run Rust.",
            env!("CARGO_PKG_VERSION")
        ),
        help_links: vec![HelpLink { text: "Rhai language".into(), url: "https://rhai.rs/book/".into() }],
        debugger: false,
        error: None,
    }
}

/// The completion reply, with each match's kind and signature in the metadata under
/// `_jupyter_types_experimental` (IPython's format, which JupyterLab shows as badges).
pub fn complete(c: &Completion) -> JupyterMessageContent {
    let types: Vec<serde_json::Value> = c
        .matches
        .iter()
        .zip(&c.kinds)
        .map(|(text, (kind, signature))| {
            serde_json::json!({
                "start": c.cursor_start,
                "end": c.cursor_end,
                "text": text,
                "type": kind,
                "signature": signature,
            })
        })
        .collect();
    let mut metadata = serde_json::Map::new();
    metadata.insert("_jupyter_types_experimental".into(), types.into());
    CompleteReply {
        matches: c.matches.clone(),
        cursor_start: c.cursor_start,
        cursor_end: c.cursor_end,
        metadata,
        ..Default::default()
    }
    .into()
}

pub fn inspect(doc: Option<String>) -> JupyterMessageContent {
    let found = doc.is_some();
    let data = doc.map(|d| Media::new(vec![MediaType::Plain(d)])).unwrap_or_default();
    InspectReply { found, data, ..Default::default() }.into()
}

pub fn is_complete(status: Completeness) -> JupyterMessageContent {
    match status {
        Completeness::Complete => IsCompleteReply::complete(),
        Completeness::Incomplete(indent) => IsCompleteReply::incomplete(indent),
        Completeness::Invalid => IsCompleteReply::new(IsCompleteReplyStatus::Invalid, String::new()),
    }
    .into()
}
