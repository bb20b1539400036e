//! Long work in a notebook: the engine's progress reports as a display that updates in place.

use super::executor::media;
use crate::display::Bundle;
use crate::progress::{self, Shown};
use jupyter_protocol::{DisplayData, JupyterMessage, JupyterMessageContent, Transient, UpdateDisplayData};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::UnboundedSender;

/// Long work shown as a display that updates in place (`display_data` with a `display_id`,
/// then `update_display_data`), a child of the running request. Its metadata says
/// `{"noyau": {"progress": true}}`, so that tools comparing or saving outputs can leave out
/// what depends on the machine's speed.
pub fn hook(
    iopub: UnboundedSender<JupyterMessage>,
    parent: Arc<Mutex<Option<JupyterMessage>>>,
) -> noyau_engine::progress::ProgressHook {
    progress::hook(move |shown| {
        let bundle = |line: &str, fraction| -> Bundle {
            vec![("text/plain".into(), line.to_string()), ("text/html".into(), progress::html(line, fraction))]
        };
        let mut metadata = serde_json::Map::new();
        metadata.insert("noyau".into(), serde_json::json!({"progress": true}));
        let content: JupyterMessageContent = match shown {
            Shown::Start { id, line, fraction } => DisplayData {
                metadata,
                transient: Some(Transient { display_id: Some(id) }),
                ..DisplayData::new(media(&bundle(&line, fraction)))
            }
            .into(),
            Shown::Update { id, line, fraction, .. } => {
                UpdateDisplayData { metadata, ..UpdateDisplayData::new(media(&bundle(&line, fraction)), &id) }.into()
            }
        };
        let parent = parent.lock().unwrap_or_else(|e| e.into_inner());
        let _ = iopub.send(JupyterMessage::new(content, parent.as_ref()));
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use noyau_engine::Progress;
    use std::time::Duration;

    #[test]
    fn a_long_computation_is_one_display_updated_in_place() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let parent: JupyterMessage = jupyter_protocol::ExecuteRequest::new("x".into()).into();
        let hook = hook(tx, Arc::new(Mutex::new(Some(parent.clone()))));
        let report = |done, secs, finished| Progress {
            task: "reduction".into(),
            detail: String::new(),
            done,
            total: 4,
            elapsed: Duration::from_secs_f64(secs),
            finished,
        };
        hook.call(&report(1, 0.5, false));
        assert!(rx.try_recv().is_err(), "nothing for the first second");
        hook.call(&report(2, 1.5, false));
        hook.call(&report(4, 2.0, true));
        let start = rx.try_recv().unwrap();
        let update = rx.try_recv().unwrap();
        assert_eq!(start.parent_header.as_ref().map(|h| &h.msg_id), Some(&parent.header.msg_id));
        let JupyterMessageContent::DisplayData(d) = start.content else { panic!("{start:?}") };
        let JupyterMessageContent::UpdateDisplayData(u) = update.content else { panic!("{update:?}") };
        let id = d.transient.and_then(|t| t.display_id).expect("a display id");
        assert_eq!(u.transient.display_id.as_deref(), Some(id.as_str()));
        assert_eq!(d.metadata["noyau"]["progress"], true);
        let text =
            |m: &jupyter_protocol::Media| serde_json::to_value(m).unwrap()["text/plain"].as_str().unwrap().to_string();
        assert!(text(&d.data).starts_with("reduction  [############............]  2/4"), "{}", text(&d.data));
        assert!(text(&u.data).contains("4/4"), "{}", text(&u.data));
    }
}
