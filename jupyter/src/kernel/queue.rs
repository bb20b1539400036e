//! stop_on_error as ipykernel does it: after an execution fails (and the request did not say
//! `stop_on_error: false` or `silent`), every execute request already waiting is answered
//! `status: aborted` without running, until the queue has drained.
//!
//! ipykernel sets an "aborting" flag, flushes its socket into its message queue and puts the
//! flag's reset at the end of the queue, so what had arrived before the error is aborted and
//! what comes after runs. Here the shell loop sets the flag and asks the reader task
//! ([`read_shell`]) for the reset: the reader queues every message the socket already holds
//! first (its `select!` prefers the socket), then [`Queued::StopAborting`]. Other requests
//! (completion, history...) are answered as usual meanwhile. An aborted request gets busy, the
//! reply, idle, and no execute_input, as in ipykernel.

use jupyter_protocol::{JupyterMessageContent, ReplyStatus, UnknownMessage};
use jupyter_zmq_client as zmq;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

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

/// The shell socket's reader: queues each request as it arrives (one whose signature fails the
/// check, or that does not parse, is reported on stderr and dropped) and, when asked through
/// `stop_aborting`, the end of an abort once the socket has nothing more ready.
pub async fn read_shell(
    mut shell: zmq::RouterRecvConnection,
    queue: UnboundedSender<Queued>,
    mut stop_aborting: UnboundedReceiver<()>,
) {
    loop {
        let item = tokio::select! {
            // The socket first: everything already received goes before the end of an abort.
            biased;
            read = shell.read() => match read {
                Ok(m) => Queued::Request(Box::new(m)),
                Err(e) => {
                    eprintln!("noyau kernel: shell: message dropped: {e}");
                    continue;
                }
            },
            Some(()) = stop_aborting.recv() => Queued::StopAborting,
        };
        // The loop is gone only when the kernel is shutting down.
        if queue.send(item).is_err() {
            break;
        }
    }
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
