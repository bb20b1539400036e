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
//!
//! A client's "Run All" sends every cell at once, but on a loaded machine a request may reach
//! the socket only after the abort has ended (ipykernel's `stop_on_error_timeout` exists for
//! this). [`LateAborts`] also aborts, for a short while, the execute requests that were sent
//! before the failure (by their header's date), whatever their arrival: what the person sends
//! after seeing the error always runs.

use jupyter_protocol::{Header, JupyterMessage, JupyterMessageContent, ReplyStatus, UnknownMessage};
use jupyter_zmq_client as zmq;
use std::time::{Duration, Instant};
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

/// How long after a failure a request sent before it may still arrive and be aborted.
const LATE_WINDOW: Duration = Duration::from_secs(2);

/// The last failure that aborted the queue: its reply's header (whose date is when the kernel
/// sent it) and when that was on this machine's monotonic clock.
#[derive(Default)]
pub struct LateAborts {
    failure: Option<(Header, Instant)>,
}

impl LateAborts {
    /// Records the reply that started an abort.
    pub fn failed(&mut self, reply: &JupyterMessage) {
        self.failure = Some((reply.header.clone(), Instant::now()));
    }

    /// Whether `request` was sent before the last failure and arrives within the window. A
    /// request without a date (it then reads as 1970) is never taken as late.
    pub fn sent_before_the_failure(&self, request: &JupyterMessage) -> bool {
        self.failure.as_ref().is_some_and(|(failure, at)| {
            at.elapsed() < LATE_WINDOW && request.header.date.timestamp() > 0 && request.header.date < failure.date
        })
    }
}

/// The reply to an aborted execute request: `{"status": "aborted"}` and nothing else, as
/// ipykernel sends it (the crate's ExecuteReply would add an execution count).
pub fn aborted_reply() -> JupyterMessageContent {
    UnknownMessage { msg_type: "execute_reply".into(), content: serde_json::json!({"status": "aborted"}) }.into()
}

/// The shell socket's reader: queues each request as it arrives (one whose signature fails the
/// check, that does not parse, or that replays an earlier one is reported on stderr and
/// dropped) and, when asked through `stop_aborting`, the end of an abort once the socket has
/// nothing more ready.
pub async fn read_shell(
    mut shell: zmq::RouterRecvConnection,
    queue: UnboundedSender<Queued>,
    mut stop_aborting: UnboundedReceiver<()>,
    replays: super::replays::Shared,
) {
    loop {
        let item = tokio::select! {
            // The socket first: everything already received goes before the end of an abort.
            biased;
            read = shell.read() => match read {
                Ok(m) if super::replays::check(&replays, &m, "shell") => Queued::Request(Box::new(m)),
                Ok(_) => continue,
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
    fn requests_sent_before_a_failure_are_late_and_later_ones_are_not() {
        let before: JupyterMessage = ExecuteRequest::new("1".into()).into();
        std::thread::sleep(Duration::from_millis(5));
        let failure = JupyterMessage::new(ExecuteReply::default(), Some(&before));
        std::thread::sleep(Duration::from_millis(5));
        let after: JupyterMessage = ExecuteRequest::new("2".into()).into();
        let mut late = LateAborts::default();
        assert!(!late.sent_before_the_failure(&before), "no failure yet");
        late.failed(&failure);
        assert!(late.sent_before_the_failure(&before));
        assert!(!late.sent_before_the_failure(&after));
    }

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
