//! stop_on_error as ipykernel does it: after an execution fails (and the request did not say
//! `stop_on_error: false` or `silent`), every execute request already waiting is answered
//! `status: aborted` without running, until the queue has drained.
//!
//! ipykernel sets an "aborting" flag and puts its reset at the end of its message queue, so what
//! was queued before the reset is aborted and what comes after runs. The shell loop does the
//! same with [`Queued::StopAborting`], sent after the reader task has had the chance to queue
//! what the socket already holds. Other requests (completion, history...) are answered as usual
//! meanwhile. An aborted request gets busy, the reply, idle, and no execute_input, as in ipykernel.

use jupyter_protocol::{JupyterMessageContent, ReplyStatus, UnknownMessage};
use tokio::sync::mpsc::UnboundedSender;

/// An item of the shell queue.
pub enum Queued {
    Request(Box<jupyter_protocol::JupyterMessage>),
    /// Everything queued before this was aborted (if an execute request): run again from here.
    StopAborting,
}

/// Whether `reply` to `request` starts aborting the queue: a failed, non-silent execution that
/// asked to stop on error (the default).
pub fn stops_the_queue(request: &JupyterMessageContent, reply: &JupyterMessageContent) -> bool {
    match (request, reply) {
        (JupyterMessageContent::ExecuteRequest(r), JupyterMessageContent::ExecuteReply(reply)) => {
            r.stop_on_error && !r.silent && reply.status == ReplyStatus::Error
        }
        _ => false,
    }
}

/// The reply to an aborted execute request: `{"status": "aborted"}` and nothing else, as
/// ipykernel sends it (the crate's ExecuteReply would add an execution count).
pub fn aborted_reply() -> JupyterMessageContent {
    UnknownMessage { msg_type: "execute_reply".into(), content: serde_json::json!({"status": "aborted"}) }.into()
}

/// How many times the scheduler runs the other tasks before the end of the abort is queued: the
/// socket's own tasks and the reader then move what has arrived into the queue first.
const YIELDS: usize = 16;

/// Queues the end of the abort behind what has arrived by now.
pub async fn stop_aborting_after_queued(queue: UnboundedSender<Queued>) {
    for _ in 0..YIELDS {
        tokio::task::yield_now().await;
    }
    // The loop is gone only when the kernel is shutting down.
    let _ = queue.send(Queued::StopAborting);
}

#[cfg(test)]
mod tests {
    use super::*;
    use jupyter_protocol::{ExecuteReply, ExecuteRequest};

    #[test]
    fn only_failed_loud_executions_that_ask_for_it_abort() {
        let failed = ExecuteReply { status: ReplyStatus::Error, ..Default::default() }.into();
        let ok = ExecuteReply::default().into();
        let request = |stop_on_error, silent| -> JupyterMessageContent {
            ExecuteRequest { stop_on_error, silent, ..ExecuteRequest::new("x".into()) }.into()
        };
        assert!(stops_the_queue(&request(true, false), &failed));
        assert!(!stops_the_queue(&request(true, false), &ok));
        assert!(!stops_the_queue(&request(false, false), &failed));
        assert!(!stops_the_queue(&request(true, true), &failed));
        let JupyterMessageContent::UnknownMessage(m) = aborted_reply() else { panic!("a raw reply") };
        assert_eq!((m.msg_type.as_str(), m.content.to_string().as_str()), ("execute_reply", r#"{"status":"aborted"}"#));
    }
}
