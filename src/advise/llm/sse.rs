//! A streamed Chat Completions answer (`"stream": true`) decoded without I/O: the bytes of the
//! server-sent events go in as they arrive — split anywhere, inside a line or a UTF-8
//! character — and the `choices[0].delta.content` pieces come out joined, until `data: [DONE]`.
//! Anything that is not an OpenAI-style event stream is an error, never silently skipped.

use super::parse::preview;
use serde_json::Value;

#[derive(Debug, Default)]
pub struct Decoder {
    /// Bytes of a line not yet ended.
    partial: Vec<u8>,
    /// `data:` lines of the event being read.
    data: Vec<String>,
    /// The answer so far.
    pub content: String,
    /// Content pieces received: servers stream about one token per piece.
    pub pieces: u64,
    /// `data: [DONE]` arrived.
    pub done: bool,
    pub finish_reason: Option<String>,
}

impl Decoder {
    /// Takes the next bytes; returns an error for anything but well-formed events.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.partial.extend_from_slice(bytes);
        while let Some(end) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            let line = &line[..line.len() - 1];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            self.line(line)?;
        }
        Ok(())
    }

    /// The stream ended (the connection closed): an unterminated last event still counts, but a
    /// stream that ends before `[DONE]` or a finish reason was cut off.
    pub fn finish(&mut self) -> Result<(), String> {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line)?;
        }
        // A last event cut off half way is a cut stream, not a malformed one.
        let complete = self.dispatch().is_ok();
        let cut = format!("the stream ended before [DONE], after {} content pieces", self.pieces);
        if !complete && !self.done {
            return Err(format!("{cut}, the last one cut off"));
        }
        if self.done || self.finish_reason.is_some() { Ok(()) } else { Err(cut) }
    }

    fn line(&mut self, line: &[u8]) -> Result<(), String> {
        if self.done {
            return Ok(());
        }
        let Ok(line) = std::str::from_utf8(line) else {
            return Err(format!(
                "a line of the stream is not UTF-8: {}",
                preview(&String::from_utf8_lossy(line))
            ));
        };
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return Ok(()); // a comment (keep-alive)
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                self.data.push(value.to_string());
                Ok(())
            }
            "event" | "id" | "retry" => Ok(()),
            _ => Err(format!("not a server-sent event line: {}", preview(line))),
        }
    }

    /// One whole event: its data lines joined.
    fn dispatch(&mut self) -> Result<(), String> {
        if self.data.is_empty() {
            return Ok(());
        }
        let data = std::mem::take(&mut self.data).join("\n");
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        let v: Value = serde_json::from_str(&data)
            .map_err(|e| format!("a stream event is not JSON ({e}): {}", preview(&data)))?;
        if let Some(err) = v.get("error") {
            return Err(format!("the server sent an error in the stream: {}", preview(&err.to_string())));
        }
        let choice = v.pointer("/choices/0");
        if let Some(Value::String(piece)) = choice.and_then(|c| c.pointer("/delta/content"))
            && !piece.is_empty()
        {
            self.content.push_str(piece);
            self.pieces += 1;
        }
        if let Some(Value::String(r)) = choice.and_then(|c| c.get("finish_reason")) {
            self.finish_reason = Some(r.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(piece: &str) -> String {
        let v = serde_json::json!({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": null}]});
        format!("data: {v}\n\n")
    }

    #[test]
    fn pieces_split_anywhere_join_into_the_answer() {
        let answer = "{\"actions\": [\"é€\"]}";
        let pieces = ["{\"actions\"", ": [\"é", "€\"]}"];
        // A keep-alive comment, a named event and a role-only delta carry no content.
        let role = serde_json::json!({"choices": [{"delta": {"role": "assistant"}}]});
        let mut stream = format!(": keep-alive\n\nevent: message\ndata: {role}\n\n");
        for p in pieces {
            stream.push_str(&event(p));
        }
        stream.push_str("data: [DONE]\n\n");
        let bytes = stream.as_bytes();
        // Every split point, including inside "data:", inside JSON and inside é and €.
        for cut in 0..bytes.len() {
            let mut d = Decoder::default();
            d.feed(&bytes[..cut]).unwrap();
            d.feed(&bytes[cut..]).unwrap();
            d.finish().unwrap();
            assert_eq!(d.content, answer, "split at {cut}");
            assert_eq!(d.pieces, 3);
            assert!(d.done);
        }
        // Byte by byte, with CRLF line ends.
        let crlf = stream.replace('\n', "\r\n");
        let mut d = Decoder::default();
        for b in crlf.as_bytes() {
            d.feed(std::slice::from_ref(b)).unwrap();
        }
        assert_eq!(d.content, answer);
        assert!(d.done);
    }

    #[test]
    fn garbage_errors_and_cut_streams_are_reported() {
        let mut d = Decoder::default();
        let e = d.feed(b"<html>502 Bad Gateway</html>\n").unwrap_err();
        assert!(e.contains("not a server-sent event"), "{e}");

        let mut d = Decoder::default();
        let e = d.feed(b"data: {\"choices\": [\n\n").unwrap_err();
        assert!(e.contains("not JSON"), "{e}");

        let mut d = Decoder::default();
        let e = d.feed(b"data: {\"error\": {\"message\": \"context too long\"}}\n\n").unwrap_err();
        assert!(e.contains("context too long"), "{e}");

        let mut d = Decoder::default();
        d.feed(event("{\"act").as_bytes()).unwrap();
        let e = d.finish().unwrap_err();
        assert!(e.contains("before [DONE]"), "{e}");
        assert_eq!(d.content, "{\"act");

        // A finish reason without [DONE] (and no final blank line) is a complete answer.
        let mut d = Decoder::default();
        d.feed(event("{}").as_bytes()).unwrap();
        d.feed(br#"data: {"choices":[{"delta":{},"finish_reason":"stop"}]}"#).unwrap();
        d.finish().unwrap();
        assert_eq!((d.content.as_str(), d.finish_reason.as_deref()), ("{}", Some("stop")));
    }
}
