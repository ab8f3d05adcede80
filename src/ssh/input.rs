//! The SSH client's keystrokes, as bytes on the channel, into the crossterm
//! events the dashboard already understands (crossterm's own parser reads
//! only its process's terminal and is not public; termwiz's would bring a
//! second terminal library for a few dozen lines).
//!
//! What a terminal sends for the keys the dashboard uses, the way crossterm
//! reads them locally: printable characters (UTF-8; an uppercase letter
//! carries SHIFT), Enter (`\r`, `\n`), Tab, Backspace (`DEL` or `BS`),
//! Ctrl-letters, Esc, Alt-key (`ESC` then the key), the arrows, Home/End,
//! PgUp/PgDn, Insert/Delete, F1-F12 (CSI and SS3 forms, with xterm's
//! `;modifier` parameter), BackTab (`CSI Z`) and SGR mouse reports
//! (`CSI < b;x;y M/m`, only sent while the dashboard asks for the mouse).
//! Anything else is dropped, never an error: a client cannot stop a session
//! by typing.
//!
//! A packet that ends inside an escape sequence keeps the part for the next
//! one; a packet that ends with a lone `ESC` is the Esc key (a terminal sends
//! a whole sequence at once, as crossterm also assumes).

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

/// The longest escape sequence kept across packets; anything longer is junk.
const MAX_PENDING: usize = 64;

/// Turns the channel's bytes into events; keeps an unfinished sequence.
#[derive(Debug, Default)]
pub struct InputParser {
    pending: Vec<u8>,
    /// The previous byte was `\r`: a `\n` right after it is the same Enter.
    after_cr: bool,
}

/// What one attempt at the start of the buffer found.
enum Parsed {
    /// An event (or nothing worth one) taking this many bytes.
    Event(Option<Event>, usize),
    /// The buffer ends inside a sequence: wait for more.
    Incomplete,
}

impl InputParser {
    pub fn new() -> InputParser {
        InputParser::default()
    }

    /// The events in `data` (and in what was left from the previous call).
    pub fn feed(&mut self, data: &[u8]) -> Vec<Event> {
        self.pending.extend_from_slice(data);
        let mut events = Vec::new();
        let mut at = 0;
        while at < self.pending.len() {
            let rest = &self.pending[at..];
            match parse(rest) {
                Parsed::Event(event, used) => {
                    let byte = rest[0];
                    let skip = byte == b'\n' && self.after_cr;
                    self.after_cr = byte == b'\r';
                    if let Some(event) = event.filter(|_| !skip) {
                        events.push(event);
                    }
                    at += used.max(1);
                }
                Parsed::Incomplete if rest.len() > MAX_PENDING => {
                    // Not a sequence any terminal sends: drop it.
                    at = self.pending.len();
                }
                Parsed::Incomplete => break,
            }
        }
        self.pending.drain(..at);
        events
    }
}

fn key(code: KeyCode, modifiers: KeyModifiers) -> Option<Event> {
    Some(Event::Key(KeyEvent::new(code, modifiers)))
}

fn plain(code: KeyCode) -> Option<Event> {
    key(code, KeyModifiers::NONE)
}

fn parse(buf: &[u8]) -> Parsed {
    match buf[0] {
        0x1b => parse_escape(buf),
        b'\r' | b'\n' => Parsed::Event(plain(KeyCode::Enter), 1),
        b'\t' => Parsed::Event(plain(KeyCode::Tab), 1),
        0x7f | 0x08 => Parsed::Event(plain(KeyCode::Backspace), 1),
        0 => Parsed::Event(key(KeyCode::Char(' '), KeyModifiers::CONTROL), 1),
        c @ 0x01..=0x1a => Parsed::Event(
            key(KeyCode::Char((c - 1 + b'a') as char), KeyModifiers::CONTROL),
            1,
        ),
        c @ 0x1c..=0x1f => Parsed::Event(
            key(
                KeyCode::Char((c - 0x1c + b'4') as char),
                KeyModifiers::CONTROL,
            ),
            1,
        ),
        _ => parse_char(buf),
    }
}

/// One UTF-8 character; an invalid byte is dropped on its own.
fn parse_char(buf: &[u8]) -> Parsed {
    let len = match buf[0] {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return Parsed::Event(None, 1),
    };
    if buf.len() < len {
        // A continuation byte that cannot be one ends the wait at once.
        if buf[1..].iter().any(|b| b & 0xc0 != 0x80) {
            return Parsed::Event(None, 1);
        }
        return Parsed::Incomplete;
    }
    match std::str::from_utf8(&buf[..len])
        .ok()
        .and_then(|s| s.chars().next())
    {
        Some(c) => {
            let modifiers = if c.is_uppercase() {
                KeyModifiers::SHIFT
            } else {
                KeyModifiers::NONE
            };
            Parsed::Event(key(KeyCode::Char(c), modifiers), len)
        }
        None => Parsed::Event(None, 1),
    }
}

fn parse_escape(buf: &[u8]) -> Parsed {
    let Some(&next) = buf.get(1) else {
        // A lone ESC at the end of what arrived: the Esc key.
        return Parsed::Event(plain(KeyCode::Esc), 1);
    };
    match next {
        b'[' => parse_csi(buf),
        b'O' => match buf.get(2) {
            None => Parsed::Incomplete,
            Some(&c) => Parsed::Event(
                final_key(c)
                    .or_else(|| ss3_function(c))
                    .and_then(plain_code),
                3,
            ),
        },
        0x1b => Parsed::Event(plain(KeyCode::Esc), 1),
        _ => {
            // ESC then a key: that key with Alt.
            match parse(&buf[1..]) {
                Parsed::Event(Some(Event::Key(mut k)), used) => {
                    k.modifiers |= KeyModifiers::ALT;
                    Parsed::Event(Some(Event::Key(k)), used + 1)
                }
                Parsed::Event(other, used) => Parsed::Event(other, used + 1),
                Parsed::Incomplete => Parsed::Incomplete,
            }
        }
    }
}

fn plain_code(code: KeyCode) -> Option<Event> {
    plain(code)
}

/// The key of a CSI/SS3 sequence's final byte (`A` Up ... `F` End).
fn final_key(c: u8) -> Option<KeyCode> {
    Some(match c {
        b'A' => KeyCode::Up,
        b'B' => KeyCode::Down,
        b'C' => KeyCode::Right,
        b'D' => KeyCode::Left,
        b'H' => KeyCode::Home,
        b'F' => KeyCode::End,
        _ => return None,
    })
}

fn ss3_function(c: u8) -> Option<KeyCode> {
    match c {
        b'P'..=b'S' => Some(KeyCode::F(1 + c - b'P')),
        _ => None,
    }
}

/// xterm's modifier parameter: 1 + (Shift 1, Alt 2, Ctrl 4).
fn modifiers(param: Option<u16>) -> KeyModifiers {
    let bits = param.unwrap_or(1).saturating_sub(1);
    let mut m = KeyModifiers::NONE;
    if bits & 1 != 0 {
        m |= KeyModifiers::SHIFT;
    }
    if bits & 2 != 0 {
        m |= KeyModifiers::ALT;
    }
    if bits & 4 != 0 {
        m |= KeyModifiers::CONTROL;
    }
    m
}

/// `ESC [` parameters (digits, `;`, `<`, `?`) then one final byte in `@`..`~`.
fn parse_csi(buf: &[u8]) -> Parsed {
    let body = &buf[2..];
    let Some(end) = body.iter().position(|b| (0x40..=0x7e).contains(b)) else {
        return Parsed::Incomplete;
    };
    let used = 2 + end + 1;
    let params = &body[..end];
    let last = body[end];
    if params.iter().any(|b| !(0x20..=0x3f).contains(b)) {
        // Not a CSI sequence after all (a control byte inside): skip ESC [.
        return Parsed::Event(None, 2);
    }
    if params.first() == Some(&b'<') {
        return Parsed::Event(sgr_mouse(&params[1..], last), used);
    }
    let numbers: Vec<Option<u16>> = std::str::from_utf8(params)
        .unwrap_or("")
        .split(';')
        .map(|p| p.parse().ok())
        .collect();
    let first = numbers.first().copied().flatten();
    let mods = modifiers(numbers.get(1).copied().flatten());
    let event = match last {
        b'Z' => key(KeyCode::BackTab, KeyModifiers::SHIFT),
        b'~' => tilde_key(first).and_then(|code| key(code, mods)),
        b'P'..=b'S' => key(KeyCode::F(1 + last - b'P'), mods),
        c => final_key(c).and_then(|code| key(code, mods)),
    };
    Parsed::Event(event, used)
}

/// `CSI n ~`: the editing keypad and F5-F12.
fn tilde_key(n: Option<u16>) -> Option<KeyCode> {
    Some(match n? {
        1 | 7 => KeyCode::Home,
        2 => KeyCode::Insert,
        3 => KeyCode::Delete,
        4 | 8 => KeyCode::End,
        5 => KeyCode::PageUp,
        6 => KeyCode::PageDown,
        n @ 11..=15 => KeyCode::F((n - 10) as u8),
        n @ 17..=21 => KeyCode::F((n - 11) as u8),
        n @ 23..=24 => KeyCode::F((n - 12) as u8),
        _ => return None,
    })
}

/// `CSI < b ; x ; y M` (press, `m` release), coordinates from 1.
fn sgr_mouse(params: &[u8], last: u8) -> Option<Event> {
    let text = std::str::from_utf8(params).ok()?;
    let mut it = text.split(';').map(|p| p.parse::<u16>().ok());
    let (b, x, y) = (it.next()??, it.next()??, it.next()??);
    let mut modifiers = KeyModifiers::NONE;
    if b & 4 != 0 {
        modifiers |= KeyModifiers::SHIFT;
    }
    if b & 8 != 0 {
        modifiers |= KeyModifiers::ALT;
    }
    if b & 16 != 0 {
        modifiers |= KeyModifiers::CONTROL;
    }
    let button = match b & 3 {
        0 => MouseButton::Left,
        1 => MouseButton::Middle,
        _ => MouseButton::Right,
    };
    let kind = if b & 64 != 0 {
        match b & 3 {
            0 => MouseEventKind::ScrollUp,
            1 => MouseEventKind::ScrollDown,
            2 => MouseEventKind::ScrollLeft,
            _ => MouseEventKind::ScrollRight,
        }
    } else if b & 32 != 0 {
        if b & 3 == 3 {
            MouseEventKind::Moved
        } else {
            MouseEventKind::Drag(button)
        }
    } else if last == b'm' {
        MouseEventKind::Up(button)
    } else if last == b'M' {
        MouseEventKind::Down(button)
    } else {
        return None;
    };
    Some(Event::Mouse(MouseEvent {
        kind,
        column: x.saturating_sub(1),
        row: y.saturating_sub(1),
        modifiers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(bytes: &[u8]) -> Vec<(KeyCode, KeyModifiers)> {
        InputParser::new()
            .feed(bytes)
            .into_iter()
            .map(|e| match e {
                Event::Key(k) => (k.code, k.modifiers),
                other => panic!("not a key: {other:?}"),
            })
            .collect()
    }

    const N: KeyModifiers = KeyModifiers::NONE;

    #[test]
    fn printable_characters_utf8_and_shift() {
        assert_eq!(
            keys("aZ/?é€".as_bytes()),
            vec![
                (KeyCode::Char('a'), N),
                (KeyCode::Char('Z'), KeyModifiers::SHIFT),
                (KeyCode::Char('/'), N),
                (KeyCode::Char('?'), N),
                (KeyCode::Char('é'), N),
                (KeyCode::Char('€'), N),
            ]
        );
    }

    #[test]
    fn control_keys() {
        assert_eq!(
            keys(b"\r\t\x7f\x08\x03\x15"),
            vec![
                (KeyCode::Enter, N),
                (KeyCode::Tab, N),
                (KeyCode::Backspace, N),
                (KeyCode::Backspace, N),
                (KeyCode::Char('c'), KeyModifiers::CONTROL),
                (KeyCode::Char('u'), KeyModifiers::CONTROL),
            ]
        );
    }

    #[test]
    fn cr_lf_is_one_enter_and_lf_alone_is_enter() {
        assert_eq!(keys(b"\r\n"), vec![(KeyCode::Enter, N)]);
        assert_eq!(keys(b"\n\n"), vec![(KeyCode::Enter, N); 2]);
    }

    #[test]
    fn escape_alone_and_alt() {
        assert_eq!(keys(b"\x1b"), vec![(KeyCode::Esc, N)]);
        assert_eq!(
            keys(b"\x1bx"),
            vec![(KeyCode::Char('x'), KeyModifiers::ALT)]
        );
        assert_eq!(
            keys(b"\x1b\x1b[A"),
            vec![(KeyCode::Esc, N), (KeyCode::Up, N)]
        );
    }

    #[test]
    fn arrows_home_end_pages_in_both_forms() {
        assert_eq!(
            keys(b"\x1b[A\x1b[B\x1b[C\x1b[D\x1bOA\x1bOD\x1b[H\x1b[F\x1bOH\x1b[1~\x1b[4~"),
            vec![
                (KeyCode::Up, N),
                (KeyCode::Down, N),
                (KeyCode::Right, N),
                (KeyCode::Left, N),
                (KeyCode::Up, N),
                (KeyCode::Left, N),
                (KeyCode::Home, N),
                (KeyCode::End, N),
                (KeyCode::Home, N),
                (KeyCode::Home, N),
                (KeyCode::End, N),
            ]
        );
        assert_eq!(
            keys(b"\x1b[5~\x1b[6~\x1b[3~\x1b[2~"),
            vec![
                (KeyCode::PageUp, N),
                (KeyCode::PageDown, N),
                (KeyCode::Delete, N),
                (KeyCode::Insert, N),
            ]
        );
    }

    #[test]
    fn backtab_function_keys_and_modifiers() {
        assert_eq!(
            keys(b"\x1b[Z"),
            vec![(KeyCode::BackTab, KeyModifiers::SHIFT)]
        );
        assert_eq!(
            keys(b"\x1bOP\x1b[15~\x1b[24~"),
            vec![(KeyCode::F(1), N), (KeyCode::F(5), N), (KeyCode::F(12), N)]
        );
        assert_eq!(
            keys(b"\x1b[1;5A\x1b[1;2D\x1b[5;3~"),
            vec![
                (KeyCode::Up, KeyModifiers::CONTROL),
                (KeyCode::Left, KeyModifiers::SHIFT),
                (KeyCode::PageUp, KeyModifiers::ALT),
            ]
        );
    }

    #[test]
    fn a_sequence_split_across_packets_is_kept() {
        let mut p = InputParser::new();
        assert!(p.feed(b"\x1b[").is_empty());
        assert!(p.feed(b"1;5").is_empty());
        let got = p.feed(b"Bq");
        assert_eq!(got.len(), 2);
        assert!(matches!(got[0], Event::Key(k) if k.code == KeyCode::Down));
        let mut p = InputParser::new();
        assert!(p.feed(&[0xe2, 0x82]).is_empty());
        let got = p.feed(&[0xac]);
        assert!(matches!(got[..], [Event::Key(k)] if k.code == KeyCode::Char('€')));
    }

    #[test]
    fn sgr_mouse_reports() {
        let got = InputParser::new().feed(b"\x1b[<0;10;5M\x1b[<65;3;4M\x1b[<0;10;5m");
        let kinds: Vec<_> = got
            .iter()
            .map(|e| match e {
                Event::Mouse(m) => (m.kind, m.column, m.row),
                other => panic!("not a mouse event: {other:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                (MouseEventKind::Down(MouseButton::Left), 9, 4),
                (MouseEventKind::ScrollDown, 2, 3),
                (MouseEventKind::Up(MouseButton::Left), 9, 4),
            ]
        );
    }

    #[test]
    fn junk_is_dropped_never_an_error() {
        // Unknown final bytes, invalid UTF-8, focus reports, an endless sequence.
        assert_eq!(keys(b"\x1b[99~\xff\x1b[Ia"), vec![(KeyCode::Char('a'), N)]);
        let mut p = InputParser::new();
        let mut long = b"\x1b[".to_vec();
        long.extend(std::iter::repeat_n(b'1', 100));
        assert!(p.feed(&long).is_empty());
        assert_eq!(
            p.feed(b"q")
                .iter()
                .filter(|e| matches!(e, Event::Key(_)))
                .count(),
            1
        );
    }

    /// Every byte string parses without panicking, whatever the split.
    #[test]
    fn any_bytes_any_split_never_panic() {
        use proptest::prelude::*;
        proptest!(|(bytes in proptest::collection::vec(any::<u8>(), 0..64), split in 0usize..64)| {
            let mut p = InputParser::new();
            let at = split.min(bytes.len());
            let _ = p.feed(&bytes[..at]);
            let _ = p.feed(&bytes[at..]);
        });
    }
}
