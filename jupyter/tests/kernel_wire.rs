//! The kernel over real ZeroMQ sockets: signed replies, forged messages dropped, outputs streamed in order, interrupts.

mod support;

use jupyter_protocol::{
    ConnectionInfo, ExecuteRequest, InterruptRequest, IsCompleteRequest, JupyterMessage, JupyterMessageContent,
    KernelInfoRequest, ShutdownRequest, Transport,
};
use jupyter_zmq_client as zmq;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::reproducers::{self, Expect};
use tokio::time::timeout;

/// A kernel process on free local ports, killed when dropped.
struct Kernel {
    child: Child,
    info: ConnectionInfo,
    dir: std::path::PathBuf,
}

impl Kernel {
    async fn start(name: &str) -> Kernel {
        Kernel::start_with(name, None, &[]).await
    }

    /// A kernel started in folder `cwd` (where relative paths of cells resolve) with `env` set.
    async fn start_with(name: &str, cwd: Option<&Path>, env: &[(&str, &str)]) -> Kernel {
        let (ports, listeners) = zmq::peek_ports_with_listeners("127.0.0.1".parse().unwrap(), 5).await.unwrap();
        let info = ConnectionInfo {
            ip: "127.0.0.1".into(),
            transport: Transport::TCP,
            shell_port: ports[0],
            iopub_port: ports[1],
            stdin_port: ports[2],
            control_port: ports[3],
            hb_port: ports[4],
            key: "a-test-key-0123456789".into(),
            signature_scheme: "hmac-sha256".into(),
            kernel_name: Some("noyau".into()),
        };
        let dir = std::env::temp_dir().join(format!("noyau-wire-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("connection.json");
        std::fs::write(&file, serde_json::to_string(&info).unwrap()).unwrap();
        drop(listeners);
        let mut command = Command::new(env!("CARGO_BIN_EXE_noyau"));
        command.args(["kernel", "--connection-file", file.to_str().unwrap()]).envs(env.iter().copied());
        if let Some(dir) = cwd {
            command.current_dir(dir);
        }
        let child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("the kernel starts");
        Kernel { child, info, dir }
    }

    /// Shell and iopub connections signed with `key`. Connecting is retried for a while: on a
    /// loaded machine the kernel process may not have bound its sockets yet.
    async fn client(&self, key: &str) -> (zmq::ClientShellConnection, zmq::ClientIoPubConnection) {
        let info = ConnectionInfo { key: key.into(), ..self.info.clone() };
        let session = format!("test-{}", key.len());
        let mut last_error = String::new();
        for _ in 0..100 {
            let identity = zmq::peer_identity_for_session(&session).unwrap();
            let shell = zmq::create_client_shell_connection_with_identity(&info, &session, identity).await;
            let iopub = zmq::create_client_iopub_connection(&info, "", &session).await;
            match (shell, iopub) {
                (Ok(shell), Ok(iopub)) => return (shell, iopub),
                (Err(e), _) | (_, Err(e)) => last_error = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("could not connect to the kernel: {last_error}");
    }
}

impl Kernel {
    /// Shell and iopub connections with the right key, once the kernel answers and the iopub
    /// subscription has reached it.
    async fn ready(&self) -> (zmq::ClientShellConnection, zmq::ClientIoPubConnection) {
        let (mut shell, iopub) = self.client(&self.info.key).await;
        wait_ready(&mut shell).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        (shell, iopub)
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Sends kernel_info requests until one is answered (the kernel may still be binding its
/// sockets), then lets the answers to the earlier tries arrive and drops them, so that the next
/// read on `shell` is the answer to the next request.
async fn wait_ready(shell: &mut zmq::ClientShellConnection) -> JupyterMessage {
    for _ in 0..100 {
        shell.send(KernelInfoRequest {}.into()).await.unwrap();
        if let Ok(Ok(reply)) = timeout(Duration::from_millis(300), shell.read()).await {
            while timeout(Duration::from_millis(500), shell.read()).await.is_ok() {}
            return reply;
        }
    }
    panic!("the kernel never answered kernel_info");
}

/// Sends `request` on `shell` and returns the reply whose parent is that request.
async fn request(shell: &mut zmq::ClientShellConnection, request: JupyterMessage, wait: Duration) -> JupyterMessage {
    let id = request.header.msg_id.clone();
    shell.send(request).await.unwrap();
    loop {
        let reply = timeout(wait, shell.read()).await.expect("the kernel answers").expect("a valid reply");
        if reply.parent_header.as_ref().map(|h| h.msg_id.as_str()) == Some(id.as_str()) {
            return reply;
        }
    }
}

/// IOPub messages of the request `id`, up to its `idle` status.
async fn outputs_of(iopub: &mut zmq::ClientIoPubConnection, id: &str) -> Vec<JupyterMessageContent> {
    let mut out = Vec::new();
    loop {
        let msg =
            timeout(Duration::from_secs(30), iopub.read()).await.expect("iopub answers").expect("a valid message");
        if msg.parent_header.as_ref().map(|h| h.msg_id.as_str()) != Some(id) {
            continue;
        }
        if let JupyterMessageContent::Status(s) = &msg.content {
            if s.execution_state.as_str() == "idle" {
                return out;
            }
            continue;
        }
        out.push(msg.content);
    }
}

/// Runs `code` and returns the text of its result (`text/plain` of the execute_result).
async fn result_of(
    shell: &mut zmq::ClientShellConnection,
    iopub: &mut zmq::ClientIoPubConnection,
    code: &str,
) -> serde_json::Value {
    let run: JupyterMessage = ExecuteRequest::new(code.into()).into();
    let id = run.header.msg_id.clone();
    request(shell, run, Duration::from_secs(30)).await;
    let out = outputs_of(iopub, &id).await;
    let Some(JupyterMessageContent::ExecuteResult(result)) = out.last() else { panic!("no result of {code}: {out:?}") };
    serde_json::to_value(&result.data).unwrap()["text/plain"].clone()
}

#[tokio::test]
async fn signed_replies_and_forged_requests_dropped() {
    let kernel = Kernel::start("sign").await;
    let (mut shell, mut iopub) = kernel.client(&kernel.info.key).await;
    // The client checks the reply's HMAC with the key: reading it at all proves it is signed.
    let reply = wait_ready(&mut shell).await;
    let JupyterMessageContent::KernelInfoReply(info) = reply.content else { panic!("not a kernel_info_reply") };
    assert_eq!(info.language_info.name, "rhai");
    assert_eq!(info.protocol_version, "5.3");

    // A request signed with another key gets no answer...
    let (mut forger, _) = kernel.client("not-the-key").await;
    forger.send(ExecuteRequest::new("print(\"forged\")".into()).into()).await.unwrap();
    assert!(timeout(Duration::from_secs(2), forger.read()).await.is_err(), "a forged request was answered");
    // ...and the kernel still serves the right key.
    let again = request(&mut shell, KernelInfoRequest {}.into(), Duration::from_secs(10)).await;
    assert_eq!(again.message_type(), "kernel_info_reply");

    // A correctly signed message sent twice runs once: the replay is dropped.
    request(&mut shell, ExecuteRequest::new("let runs = 0;".into()).into(), Duration::from_secs(30)).await;
    let once: JupyterMessage = ExecuteRequest::new("runs += 1;".into()).into();
    let reply = request(&mut shell, once.clone(), Duration::from_secs(30)).await;
    assert_eq!(reply.message_type(), "execute_reply");
    shell.send(once).await.unwrap();
    assert!(timeout(Duration::from_secs(2), shell.read()).await.is_err(), "a replayed request was answered");
    assert_eq!(result_of(&mut shell, &mut iopub, "runs").await, "1");
}

#[tokio::test]
async fn outputs_stream_in_order_and_interrupts_keep_the_state() {
    let kernel = Kernel::start("exec").await;
    let (mut shell, mut iopub) = kernel.ready().await;

    let first: JupyterMessage =
        ExecuteRequest::new("let kept = 5;\nprint(\"one\");\ndebug(\"two\");\nkept * 2".into()).into();
    let id = first.header.msg_id.clone();
    let reply = request(&mut shell, first, Duration::from_secs(30)).await;
    assert_eq!(reply.message_type(), "execute_reply");
    let kinds: Vec<String> = outputs_of(&mut iopub, &id).await.iter().map(|c| c.message_type().to_string()).collect();
    assert_eq!(kinds, ["execute_input", "stream", "stream", "execute_result"]);

    // A loop interrupted through the control channel.
    let mut control = zmq::create_client_control_connection(&kernel.info, "test-control").await.unwrap();
    let looping: JupyterMessage = ExecuteRequest::new("let n = 0; loop { n += 1; }".into()).into();
    shell.send(looping).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    control.send(InterruptRequest {}.into()).await.unwrap();
    let ack = timeout(Duration::from_secs(5), control.read()).await.unwrap().unwrap();
    assert_eq!(ack.message_type(), "interrupt_reply");
    let stopped = timeout(Duration::from_secs(5), shell.read()).await.expect("the loop stops").unwrap();
    let JupyterMessageContent::ExecuteReply(r) = stopped.content else { panic!("not an execute_reply") };
    assert_eq!(r.error.map(|e| e.ename).as_deref(), Some("Interrupted"));

    assert_eq!(result_of(&mut shell, &mut iopub, "kept + 1").await, "6");

    control.send(ShutdownRequest { restart: false }.into()).await.unwrap();
    let bye = timeout(Duration::from_secs(5), control.read()).await.unwrap().unwrap();
    assert_eq!(bye.message_type(), "shutdown_reply");
}

/// A formula of 10⁵ nodes built by a loop compiles and runs on the kernel's executor thread (no
/// pass recurses on formula size, so the thread's stack is never the limit).
#[tokio::test]
async fn a_formula_of_1e5_nodes_runs_in_the_kernel() {
    let kernel = Kernel::start("deep").await;
    let (mut shell, mut iopub) = kernel.ready().await;

    let run: JupyterMessage = ExecuteRequest::new(include_str!("scripts/deep_formula.rhai").into()).into();
    let id = run.header.msg_id.clone();
    let reply = request(&mut shell, run, Duration::from_secs(300)).await;
    let JupyterMessageContent::ExecuteReply(r) = reply.content else { panic!("not an execute_reply") };
    assert!(r.error.is_none(), "the cell failed: {:?}", r.error);
    let printed: String = outputs_of(&mut iopub, &id)
        .await
        .into_iter()
        .filter_map(|c| match c {
            JupyterMessageContent::StreamContent(s) => Some(s.text),
            _ => None,
        })
        .collect();
    assert_eq!(printed, "deep formula ok\n");
}

/// Every reproducer of tests/reproducers as a cell of one kernel: each ends as it must (an error
/// reply, or a run to its end), the kernel answers the next request, and its variables stay.
#[tokio::test]
async fn the_kernel_survives_every_reproducer_with_its_state() {
    let dir = reproducers::dir();
    let kernel = Kernel::start_with("repro", Some(&dir), &[("NOYAU_MEMORY_LIMIT", reproducers::MEMORY_LIMIT)]).await;
    let (mut shell, mut iopub) = kernel.ready().await;
    request(&mut shell, ExecuteRequest::new("let kept = 42;".into()).into(), Duration::from_secs(30)).await;

    let mut failures = Vec::new();
    for case in reproducers::cases() {
        let reply =
            request(&mut shell, ExecuteRequest::new(case.source.clone()).into(), Duration::from_secs(300)).await;
        let JupyterMessageContent::ExecuteReply(r) = reply.content else {
            panic!("{}: not an execute_reply", case.name)
        };
        let error = r.error.map(|e| format!("{}: {}\n{}", e.ename, e.evalue, e.traceback.join("\n")));
        let ok = match (&case.expect, &error) {
            (Expect::Error(t), Some(e)) => e.contains(t.as_str()),
            (Expect::Ok | Expect::Exit(_), None) => true,
            _ => false,
        };
        if !ok {
            failures.push(format!("{} ({:?}): {error:?}", case.name, case.expect));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));

    // Consoles send is_complete on every Enter: deep source is an answer too, not a crash.
    let deep = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
    let reply = request(&mut shell, IsCompleteRequest { code: deep }.into(), Duration::from_secs(30)).await;
    assert_eq!(reply.message_type(), "is_complete_reply");

    assert_eq!(result_of(&mut shell, &mut iopub, "kept").await, "42");
}
