//! The dashboard's terminal over an SSH channel: ratatui's crossterm backend
//! writing into a buffer that goes out as channel data on each flush (one
//! frame, one message), with the size the client's PTY said (`pty-req`,
//! `window-change`) instead of this process's terminal.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use tokio::sync::mpsc;

/// The client's terminal size, shared by the handler (which hears of
/// changes) and the backend (which the dashboard draws with).
#[derive(Debug, Clone)]
pub struct PtySize(Arc<Mutex<Size>>);

impl PtySize {
    pub fn new(width: u16, height: u16) -> PtySize {
        PtySize(Arc::new(Mutex::new(Size::new(width, height))))
    }

    pub fn set(&self, width: u16, height: u16) {
        if let Ok(mut size) = self.0.lock() {
            *size = Size::new(width, height);
        }
    }

    pub fn get(&self) -> Size {
        self.0.lock().map_or(Size::new(80, 24), |s| *s)
    }
}

/// Collects what crossterm writes; each flush sends it as one message. A
/// channel that has gone away swallows output: the session is ending anyway
/// and the UI loop hears of it from the input side.
pub struct ChannelWriter {
    sink: Vec<u8>,
    out: mpsc::UnboundedSender<Vec<u8>>,
}

impl ChannelWriter {
    pub fn new(out: mpsc::UnboundedSender<Vec<u8>>) -> ChannelWriter {
        ChannelWriter {
            sink: Vec::with_capacity(64 * 1024),
            out,
        }
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sink.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.sink.is_empty() {
            let frame = std::mem::replace(&mut self.sink, Vec::with_capacity(64 * 1024));
            let _ = self.out.send(frame);
        }
        Ok(())
    }
}

/// [`CrosstermBackend`] over a [`ChannelWriter`], sized by [`PtySize`].
pub struct SshBackend {
    inner: CrosstermBackend<ChannelWriter>,
    size: PtySize,
}

impl SshBackend {
    pub fn new(writer: ChannelWriter, size: PtySize) -> SshBackend {
        SshBackend {
            inner: CrosstermBackend::new(writer),
            size,
        }
    }
}

impl Write for SshBackend {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Write::flush(&mut self.inner)
    }
}

impl Backend for SshBackend {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.inner.draw(content)
    }

    fn hide_cursor(&mut self) -> io::Result<()> {
        self.inner.hide_cursor()
    }

    fn show_cursor(&mut self) -> io::Result<()> {
        self.inner.show_cursor()
    }

    /// Asking the client would need its answer on the input side; the
    /// dashboard is full-screen and never needs it.
    fn get_cursor_position(&mut self) -> io::Result<Position> {
        Ok(Position::ORIGIN)
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        self.inner.set_cursor_position(position)
    }

    fn clear(&mut self) -> io::Result<()> {
        self.inner.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        self.inner.clear_region(clear_type)
    }

    fn size(&self) -> io::Result<Size> {
        Ok(self.size.get())
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        Ok(WindowSize {
            columns_rows: self.size.get(),
            // The client's pixel size is not used by the dashboard.
            pixels: Size::new(0, 0),
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        Backend::flush(&mut self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::widgets::Paragraph;

    #[test]
    fn frames_go_out_as_channel_data_at_the_pty_size() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let size = PtySize::new(30, 4);
        let mut terminal =
            Terminal::new(SshBackend::new(ChannelWriter::new(tx), size.clone())).expect("term");
        terminal
            .draw(|f| f.render_widget(Paragraph::new("hello over ssh"), f.area()))
            .expect("draw");
        let mut sent = Vec::new();
        while let Ok(message) = rx.try_recv() {
            sent.extend(message);
        }
        let text = String::from_utf8_lossy(&sent);
        // Blank cells are not sent: the words, each at its place.
        assert!(
            text.contains("\x1b[1;1Hhello") && text.contains("\x1b[1;12Hssh"),
            "{text:?}"
        );
        // The client grows: the next draw covers the new size.
        size.set(50, 6);
        let area = terminal
            .draw(|f| f.render_widget(Paragraph::new("wider"), f.area()))
            .expect("draw")
            .area;
        assert_eq!((area.width, area.height), (50, 6));
    }

    #[test]
    fn a_closed_channel_swallows_output() {
        let (tx, rx) = mpsc::unbounded_channel();
        drop(rx);
        let mut w = ChannelWriter::new(tx);
        w.write_all(b"late frame").expect("write");
        w.flush()
            .expect("a flush into a closed channel is not an error");
    }
}
