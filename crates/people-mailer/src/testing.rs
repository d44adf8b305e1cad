//! A real SMTP listener on 127.0.0.1 for tests (feature `testing`): it speaks enough SMTP for lettre
//! (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), keeps every message it accepts, and can be stopped and started
//! again on the same port to play an outage.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// `MAIL FROM` address.
    pub from: String,
    /// `RCPT TO` addresses.
    pub to: Vec<String>,
    /// The raw message (headers and body), dot-unstuffed.
    pub data: String,
}

impl Received {
    /// The value of header `name` (first occurrence, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let mut lines = head.split("\r\n").peekable();
        while let Some(line) = lines.next() {
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case(name) {
                    let mut value = v.trim().to_string();
                    while lines
                        .peek()
                        .is_some_and(|l| l.starts_with(' ') || l.starts_with('\t'))
                    {
                        value.push(' ');
                        value.push_str(lines.next().unwrap_or("").trim());
                    }
                    return Some(value);
                }
            }
        }
        None
    }

    /// The subject, decoded when it is an RFC 2047 UTF-8 word.
    pub fn subject(&self) -> String {
        let raw = self.header("Subject").unwrap_or_default();
        decode_words(&raw)
    }

    /// The plain-text part, quoted-printable decoded.
    pub fn text(&self) -> String {
        self.part("text/plain")
    }

    /// The HTML part, quoted-printable decoded.
    pub fn html(&self) -> String {
        self.part("text/html")
    }

    fn part(&self, content_type: &str) -> String {
        let lower = self.data.to_ascii_lowercase();
        let Some(at) = lower.find(&format!("content-type: {content_type}")) else {
            return String::new();
        };
        let rest = &self.data[at..];
        let Some(body_at) = rest.find("\r\n\r\n") else {
            return String::new();
        };
        let body = &rest[body_at + 4..];
        let end = body.find("\r\n--").unwrap_or(body.len());
        let raw = &body[..end];
        if rest[..body_at]
            .to_ascii_lowercase()
            .contains("quoted-printable")
        {
            decode_qp(raw)
        } else {
            raw.to_string()
        }
    }
}

/// Decodes quoted-printable text (soft line breaks and `=XX`).
pub fn decode_qp(s: &str) -> String {
    let bytes = s.replace("=\r\n", "").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&String::from_utf8_lossy(&bytes[i + 1..i + 3]), 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn decode_words(s: &str) -> String {
    // lettre writes non-ASCII subjects as =?utf-8?b?…?= words; ASCII ones verbatim.
    if !s.contains("=?") {
        return s.to_string();
    }
    s.split_whitespace()
        .map(|w| {
            let lw = w.to_ascii_lowercase();
            if lw.starts_with("=?utf-8?b?") && w.ends_with("?=") {
                base64_decode(&w[10..w.len() - 2])
            } else if lw.starts_with("=?utf-8?q?") && w.ends_with("?=") {
                decode_qp(&w[10..w.len() - 2].replace('_', " "))
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("")
}

fn base64_decode(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| *c != b'=') {
        let Some(v) = T.iter().position(|t| *t == c) else {
            continue;
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The SMTP listener.
pub struct SmtpSink {
    port: u16,
    messages: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SmtpSink {
    /// Listens on a free port.
    pub fn start() -> std::io::Result<SmtpSink> {
        Self::start_on(0, Arc::new(Mutex::new(Vec::new())))
    }

    /// Listens on `port` (0: any), appending to `messages`.
    pub fn start_on(port: u16, messages: Arc<Mutex<Vec<Received>>>) -> std::io::Result<SmtpSink> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, store) = (Arc::clone(&stop), Arc::clone(&messages));
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let store = Arc::clone(&store);
                        std::thread::spawn(move || {
                            let _ = serve(stream, &store);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(SmtpSink {
            port,
            messages,
            stop,
            thread: Some(thread),
        })
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every message accepted so far.
    pub fn messages(&self) -> Vec<Received> {
        self.messages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The shared message list (to start another sink that appends to it).
    pub fn store(&self) -> Arc<Mutex<Vec<Received>>> {
        Arc::clone(&self.messages)
    }

    /// Waits until at least `n` messages arrived (or `timeout` passes) and returns them all.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let m = self.messages();
            if m.len() >= n || start.elapsed() > timeout {
                return m;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops listening (the port is free again once this returns).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.halt();
    }
}

fn addr(arg: &str) -> String {
    let a = arg.split_once(':').map(|(_, v)| v).unwrap_or(arg).trim();
    let a = a.split_whitespace().next().unwrap_or("");
    a.trim_start_matches('<').trim_end_matches('>').to_string()
}

fn serve(stream: TcpStream, store: &Mutex<Vec<Received>>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    out.write_all(b"220 people-test-smtp ready\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            out.write_all(b"250-people-test-smtp\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?;
        } else if upper.starts_with("HELO") {
            out.write_all(b"250 people-test-smtp\r\n")?;
        } else if upper.starts_with("MAIL FROM") {
            from = addr(&cmd);
            to.clear();
            out.write_all(b"250 OK\r\n")?;
        } else if upper.starts_with("RCPT TO") {
            to.push(addr(&cmd));
            out.write_all(b"250 OK\r\n")?;
        } else if upper == "DATA" {
            out.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                let l = line.strip_prefix('.').unwrap_or(&line);
                data.push_str(l);
            }
            store
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Received {
                    from: from.clone(),
                    to: to.clone(),
                    data,
                });
            out.write_all(b"250 OK queued\r\n")?;
        } else if upper == "QUIT" {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else if upper.starts_with("RSET") || upper.starts_with("NOOP") {
            out.write_all(b"250 OK\r\n")?;
        } else {
            out.write_all(b"502 not implemented\r\n")?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable() {
        assert_eq!(decode_qp("a=3Db=\r\nc =C3=A9"), "a=bc é");
        assert_eq!(base64_decode("aMOpbGxv"), "héllo");
    }
}
