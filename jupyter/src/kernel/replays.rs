//! Replayed requests: a signed message received a second time is dropped, as ipykernel's digest history does.
//!
//! The signature covers the header, so a replay of a signed message carries the same header,
//! and a message with another header needs the key to sign. The `msg_id` alone is not unique:
//! jupyter_client's manager and client share one session id and each counts its messages from
//! 0, so an interrupt may carry the id of the client's first request. The whole header (id,
//! session, date to the microsecond, type) is: keeping the last headers seen (on every channel)
//! drops exactly the replays.

use jupyter_protocol::JupyterMessage;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

/// How many headers are remembered (ipykernel's `digest_history_size`).
const CAPACITY: usize = 1 << 16;

#[derive(Default)]
pub struct Replays {
    seen: HashSet<String>,
    order: VecDeque<String>,
}

/// One history for all the kernel's channels.
pub type Shared = Arc<Mutex<Replays>>;

impl Replays {
    pub fn shared() -> Shared {
        Arc::new(Mutex::new(Replays::default()))
    }

    /// Whether `msg` was not seen before; remembers it.
    pub fn fresh(&mut self, msg: &JupyterMessage) -> bool {
        let h = &msg.header;
        let key = format!("{}\u{0}{}\u{0}{}\u{0}{}", h.msg_id, h.session, h.date.to_rfc3339(), h.msg_type);
        if self.seen.contains(&key) {
            return false;
        }
        if self.order.len() == CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.seen.insert(key.clone());
        self.order.push_back(key);
        true
    }
}

/// Whether `msg` is new on `channel`; a replay is reported on stderr.
pub fn check(replays: &Shared, msg: &JupyterMessage, channel: &str) -> bool {
    let fresh = replays.lock().unwrap_or_else(|e| e.into_inner()).fresh(msg);
    if !fresh {
        eprintln!("noyau kernel: {channel}: replayed message {} dropped", msg.header.msg_id);
    }
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;
    use jupyter_protocol::ExecuteRequest;

    #[test]
    fn a_message_is_taken_once_and_old_ids_are_forgotten() {
        let mut r = Replays::default();
        let m: JupyterMessage = ExecuteRequest::new("1".into()).into();
        assert!(r.fresh(&m));
        assert!(!r.fresh(&m));
        assert!(!r.fresh(&m.clone()));
        for _ in 0..CAPACITY {
            let other: JupyterMessage = ExecuteRequest::new("2".into()).into();
            assert!(r.fresh(&other));
        }
        assert!(r.fresh(&m), "the oldest header is forgotten past the capacity");
        // Another message that reuses the id (jupyter_client's manager and client do) is new.
        std::thread::sleep(std::time::Duration::from_millis(2));
        let mut again: JupyterMessage = ExecuteRequest::new("3".into()).into();
        again.header.msg_id = m.header.msg_id.clone();
        again.header.session = m.header.session.clone();
        assert!(r.fresh(&again));
        assert_eq!(r.seen.len(), CAPACITY);
    }
}
