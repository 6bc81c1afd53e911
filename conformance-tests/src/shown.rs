//! For tests of what tars shows (its `Debug`, errors and logs): an in-memory log sink and a
//! loopback port that nothing listens on.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

/// Everything written to it, kept in memory; clones share it. Give a tracing subscriber
/// `.with_writer(move || sink.clone())` and read the logs with [`Captured::text`].
#[derive(Clone, Default, Debug)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// What was written so far, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A loopback TCP port nothing listens on, held so for the life of the process: the local port
/// of a connection to a listener of this process (both kept open), which the kernel gives no
/// other socket meanwhile. A port freed by dropping a listener could be bound again by any
/// process before it is used.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let client = std::net::TcpStream::connect(listener.local_addr().expect("its address"))
        .expect("connect to it");
    let port = client
        .local_addr()
        .expect("the connection's address")
        .port();
    let accepted = listener.accept().expect("accept").0;
    // Kept open on purpose until the process ends (tests call this a few times).
    std::mem::forget((listener, client, accepted));
    port
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_what_is_written() {
        let a = Captured::default();
        let mut b = a.clone();
        b.write_all(b"one \xff two").expect("write");
        assert_eq!(a.text(), "one \u{fffd} two");
        assert!(std::net::TcpStream::connect(("127.0.0.1", closed_port())).is_err());
    }
}
