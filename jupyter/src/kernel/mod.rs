//! The Jupyter kernel (`noyau kernel --connection-file F`): messaging protocol 5.3 over ZeroMQ.
//!
//! Sockets, signing and message types come from `jupyter-zmq-client` and `jupyter-protocol`
//! (pure Rust, on the `zeromq` crate: no libzmq). Every message is signed with the connection
//! file's key (HMAC-SHA256) and every incoming signature is checked; a message that fails the
//! check is reported on stderr and dropped.
//!
//! Threads: the sockets are served by async tasks on this thread (shell, control, heartbeat,
//! and one iopub writer that keeps the order of outputs); cells run on the executor thread
//! (`executor.rs`), which owns the Rhai session. So the control channel answers while a cell
//! runs, and its `interrupt_request` sets the session's cancel flag (the state stays).
//! `complete.rs` holds completion, inspection and is_complete, `install.rs` the kernelspec,
//! `history.rs` the input history, `queue.rs` the abort of queued executions after an error
//! (stop_on_error, as ipykernel does it), `replays.rs` the dropping of replayed messages, and
//! `progress_display.rs` the progress of long work.

pub mod complete;
mod executor;
pub mod history;
pub mod install;
mod progress_display;
mod queue;
mod replays;
mod replies;

use anyhow::{bail, Context as _};
use executor::Job;
use jupyter_protocol::{ConnectionInfo, InterruptReply, JupyterMessage, JupyterMessageContent, ShutdownReply, Status};
use jupyter_zmq_client as zmq;
use queue::Queued;
use std::path::Path;
use tokio::sync::{mpsc, oneshot};

/// Runs the kernel described by the connection file until a shutdown request.
pub fn run(connection_file: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(connection_file)
        .with_context(|| format!("cannot read {}", connection_file.display()))?;
    let info: ConnectionInfo =
        serde_json::from_str(&text).with_context(|| format!("{}: not a connection file", connection_file.display()))?;
    if !info.key.is_empty() && info.signature_scheme != "hmac-sha256" {
        bail!("signature scheme {} is not supported (only hmac-sha256)", info.signature_scheme);
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(serve(info))
}

async fn serve(info: ConnectionInfo) -> anyhow::Result<()> {
    let session = uuid::Uuid::new_v4().to_string();
    let shell = zmq::create_kernel_shell_connection(&info, &session).await?;
    let mut control = zmq::create_kernel_control_connection(&info, &session).await?;
    let mut iopub = zmq::create_kernel_iopub_connection(&info, &session).await?;
    // Bound so that clients can connect; cells never ask for input.
    let _stdin = zmq::create_kernel_stdin_connection(&info, &session).await?;
    let mut heartbeat = zmq::create_kernel_heartbeat_connection(&info).await?;

    let (iopub_tx, mut iopub_rx) = mpsc::unbounded_channel::<JupyterMessage>();
    let (jobs, interrupter) = executor::spawn(iopub_tx.clone())?;

    tokio::spawn(async move {
        while let Some(mut msg) = iopub_rx.recv().await {
            // IOPub is a broadcast: no routing identities.
            msg.zmq_identities.clear();
            if let Err(e) = iopub.send(msg).await {
                eprintln!("noyau kernel: iopub: {e}");
            }
        }
    });
    tokio::spawn(async move { while heartbeat.single_heartbeat().await.is_ok() {} });
    let replays = replays::Replays::shared();
    let seen = replays.clone();
    tokio::spawn(async move {
        loop {
            let request = next_request(&mut control, "control").await;
            if !replays::check(&seen, &request, "control") {
                continue;
            }
            let reply: JupyterMessageContent = match &request.content {
                JupyterMessageContent::InterruptRequest(_) => {
                    interrupter.interrupt();
                    InterruptReply::new().into()
                }
                JupyterMessageContent::ShutdownRequest(r) => {
                    let reply = ShutdownReply { restart: r.restart, ..Default::default() };
                    let _ = control.send(JupyterMessage::new(reply, Some(&request))).await;
                    shutdown().await;
                }
                JupyterMessageContent::KernelInfoRequest(_) => replies::kernel_info().into(),
                _ => continue,
            };
            if let Err(e) = control.send(JupyterMessage::new(reply, Some(&request))).await {
                eprintln!("noyau kernel: control: {e}");
            }
        }
    });

    // A reader task queues the shell requests as they arrive, so that a failed execution can
    // abort the ones already waiting (stop_on_error); they are handled one at a time.
    let (mut shell_out, shell_in) = shell.split();
    let (queue_tx, mut queue) = mpsc::unbounded_channel::<Queued>();
    let (stop_aborting, stop_aborting_rx) = mpsc::unbounded_channel::<()>();
    tokio::spawn(queue::read_shell(shell_in, queue_tx, stop_aborting_rx, replays));
    let mut aborting = false;
    let mut late = queue::LateAborts::default();
    while let Some(item) = queue.recv().await {
        let request = match item {
            Queued::Request(r) => *r,
            Queued::StopAborting => {
                aborting = false;
                continue;
            }
        };
        // Each request is framed by busy/idle on iopub.
        let _ = iopub_tx.send(JupyterMessage::new(Status::busy(), Some(&request)));
        let reply: Option<JupyterMessageContent> = match &request.content {
            JupyterMessageContent::ExecuteRequest(_) if aborting || late.sent_before_the_failure(&request) => {
                Some(queue::aborted_reply())
            }
            JupyterMessageContent::KernelInfoRequest(_) => Some(replies::kernel_info().into()),
            JupyterMessageContent::CommInfoRequest(_) => Some(jupyter_protocol::CommInfoReply::default().into()),
            JupyterMessageContent::ShutdownRequest(r) => {
                let reply = ShutdownReply { restart: r.restart, ..Default::default() };
                let _ = shell_out.send(JupyterMessage::new(reply, Some(&request))).await;
                shutdown().await;
            }
            JupyterMessageContent::ExecuteRequest(_)
            | JupyterMessageContent::CompleteRequest(_)
            | JupyterMessageContent::InspectRequest(_)
            | JupyterMessageContent::IsCompleteRequest(_)
            | JupyterMessageContent::HistoryRequest(_) => {
                let (tx, rx) = oneshot::channel();
                if jobs.send(Job { request: request.clone(), reply: tx }).is_err() {
                    bail!("the executor thread has stopped");
                }
                Some(rx.await.context("the executor thread has stopped")?)
            }
            _ => None,
        };
        if let Some(content) = reply {
            let stops = !aborting && queue::stops_the_queue(&request.content, &content);
            let reply = JupyterMessage::new(content, Some(&request));
            if stops {
                aborting = true;
                late.failed(&reply);
                let _ = stop_aborting.send(());
            }
            shell_out.send(reply).await?;
        }
        let _ = iopub_tx.send(JupyterMessage::new(Status::idle(), Some(&request)));
    }
    bail!("the shell socket's reader has stopped")
}

/// The next request on the control socket; one whose signature fails the check, or that does
/// not parse, is reported on stderr and dropped (the shell's reader does the same).
async fn next_request(socket: &mut zmq::KernelShellConnection, channel: &str) -> JupyterMessage {
    loop {
        match socket.read().await {
            Ok(m) => return m,
            Err(e) => eprintln!("noyau kernel: {channel}: message dropped: {e}"),
        }
    }
}

/// Ends the process after a shutdown request: a restart is a new process started by the client,
/// hence a fresh session. The pause lets the socket tasks (on this runtime) send the reply.
async fn shutdown() -> ! {
    #[cfg(feature = "rust-cells")]
    crate::rust_cells::remove_work_dir();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    std::process::exit(0)
}
