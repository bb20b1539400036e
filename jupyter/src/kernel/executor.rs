//! The executor thread: it owns the cells' state and answers the shell requests that need it
//! (execute, complete, inspect, is_complete, history), one at a time, while outputs go to iopub.

use super::history::{self, History};
use super::{complete, progress_display, replies};
use crate::cells::{Cells, Interrupter, SharedSink};
use crate::display::Bundle;
use jupyter_protocol::{
    DisplayData, ErrorOutput, ExecuteInput, ExecuteReply, ExecuteResult, ExecutionCount, JupyterMessage,
    JupyterMessageContent, Media, ReplyError, ReplyStatus, StreamContent,
};
use noyau_scripting::Event;
use std::sync::{mpsc, Arc, Mutex};
use tokio::sync::{mpsc::UnboundedSender, oneshot};

/// A shell request for the executor, and where its reply goes.
pub struct Job {
    pub request: JupyterMessage,
    pub reply: oneshot::Sender<JupyterMessageContent>,
}

/// Starts the executor thread; returns its job queue and what interrupts its cells.
pub fn spawn(iopub: UnboundedSender<JupyterMessage>) -> anyhow::Result<(mpsc::Sender<Job>, Interrupter)> {
    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    let (ready_tx, ready_rx) = mpsc::channel();
    let stack = noyau_scripting::session::STACK_SIZE;
    std::thread::Builder::new().name("noyau-executor".into()).stack_size(stack).spawn(move || {
        // The request whose cell is running: outputs are its children.
        let parent: Arc<Mutex<Option<JupyterMessage>>> = Arc::new(Mutex::new(None));
        let mut cells = Cells::new(sink(iopub.clone(), parent.clone()));
        cells.set_progress(progress_display::hook(iopub.clone(), parent.clone()));
        cells.stream_compile_output();
        let _ = ready_tx.send(cells.interrupter());
        let mut history = History::open(history::default_path());
        let mut count = 0usize;
        for job in jobs_rx {
            let content = match &job.request.content {
                JupyterMessageContent::ExecuteRequest(r) => {
                    *parent.lock().unwrap_or_else(|e| e.into_inner()) = Some(job.request.clone());
                    let reply =
                        execute(&mut cells, &iopub, &job.request, &r.code, r.silent, r.store_history, &mut count);
                    *parent.lock().unwrap_or_else(|e| e.into_inner()) = None;
                    if r.store_history && !r.silent {
                        history.record(count, &r.code);
                    }
                    reply
                }
                JupyterMessageContent::HistoryRequest(r) => history.reply(r),
                JupyterMessageContent::CompleteRequest(r) => {
                    replies::complete(&complete::complete(cells.session(), &r.code, r.cursor_pos))
                }
                JupyterMessageContent::InspectRequest(r) => {
                    replies::inspect(complete::inspect(cells.session(), &r.code, r.cursor_pos))
                }
                JupyterMessageContent::IsCompleteRequest(r) => {
                    replies::is_complete(complete::is_complete(cells.session(), &r.code))
                }
                _ => continue,
            };
            // The shell task may be gone if the kernel is shutting down.
            let _ = job.reply.send(content);
        }
    })?;
    Ok((jobs_tx, ready_rx.recv()?))
}

/// The kernel's sink: printed lines become `stream` messages and displays `display_data`, sent
/// as they happen, children of the running request.
fn sink(iopub: UnboundedSender<JupyterMessage>, parent: Arc<Mutex<Option<JupyterMessage>>>) -> SharedSink {
    Arc::new(move |event| {
        let content: JupyterMessageContent = match event {
            Event::Stdout(s) => StreamContent::stdout(&(s + "\n")).into(),
            Event::Stderr(s) => StreamContent::stderr(&(s + "\n")).into(),
            Event::Display(bundle) => DisplayData::new(media(&bundle)).into(),
        };
        let parent = parent.lock().unwrap_or_else(|e| e.into_inner());
        let _ = iopub.send(JupyterMessage::new(content, parent.as_ref()));
    })
}

/// A display bundle as protocol media.
pub fn media(bundle: &Bundle) -> Media {
    let map: serde_json::Map<String, serde_json::Value> =
        bundle.iter().map(|(m, d)| (m.clone(), d.clone().into())).collect();
    serde_json::from_value(serde_json::Value::Object(map)).unwrap_or_default()
}

/// Runs one execute request: execute_input, the cell's outputs, then execute_result or error.
fn execute(
    cells: &mut Cells,
    iopub: &UnboundedSender<JupyterMessage>,
    request: &JupyterMessage,
    code: &str,
    silent: bool,
    store_history: bool,
    count: &mut usize,
) -> JupyterMessageContent {
    if store_history && !silent {
        *count += 1;
    }
    let n = ExecutionCount::new(*count);
    let publish = |content: JupyterMessageContent| {
        let _ = iopub.send(JupyterMessage::new(content, Some(request)));
    };
    if !silent {
        publish(ExecuteInput { code: code.to_string(), execution_count: n }.into());
    }
    match cells.run(code, &format!("In[{count}]")) {
        Ok(bundle) => {
            if !silent && !bundle.is_empty() {
                // `transient` must be an object when present (the crate's default is null).
                let result =
                    ExecuteResult { transient: Some(Default::default()), ..ExecuteResult::new(n, media(&bundle)) };
                publish(result.into());
            }
            ExecuteReply { execution_count: n, user_expressions: Some(Default::default()), ..Default::default() }.into()
        }
        Err(e) => {
            publish(
                ErrorOutput { ename: e.ename.clone(), evalue: e.evalue.clone(), traceback: e.traceback.clone() }.into(),
            );
            let error = ReplyError { ename: e.ename, evalue: e.evalue, traceback: e.traceback };
            ExecuteReply {
                status: ReplyStatus::Error,
                execution_count: n,
                error: Some(Box::new(error)),
                user_expressions: Some(Default::default()),
                ..Default::default()
            }
            .into()
        }
    }
}
