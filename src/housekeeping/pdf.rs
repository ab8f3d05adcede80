//! A text document as a PDF: lines set in Helvetica on A4 pages, long lines
//! wrapped, page numbers in the footer. Used for the dispute evidence pack;
//! `pdftotext` gives the text back. Built with `pdf-writer`.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 56.0;
const SIZE: f32 = 10.0;
const LEADING: f32 = 14.0;
/// Characters per line at this size and width (Helvetica averages ~0.5 em).
const WRAP: usize = 92;

/// A line in the PDF's font encoding (WinAnsi): Latin-1 as is, anything
/// else a question mark, so every reader shows the same text.
fn win_ansi(line: &str) -> Vec<u8> {
    line.chars()
        .map(|c| match c as u32 {
            0x20..=0x7e | 0xa0..=0xff => c as u32 as u8,
            0x2018 | 0x2019 => b'\'',
            0x201c | 0x201d => b'"',
            0x2013 | 0x2014 => b'-',
            0x2192 => b'>',
            0x09 => b' ',
            _ => b'?',
        })
        .collect()
}

/// Splits a line at spaces (or hard, for a long word) to `width` characters,
/// keeping its indentation on the continuation lines.
pub fn wrap(line: &str, width: usize) -> Vec<String> {
    if line.chars().count() <= width {
        return vec![line.to_string()];
    }
    let indent: String = line.chars().take_while(|c| *c == ' ').collect();
    let mut out = Vec::new();
    let mut current = String::new();
    for word in line.split_whitespace() {
        let fits = current.chars().count() + 1 + word.chars().count() <= width;
        if !current.is_empty() && !fits {
            out.push(std::mem::take(&mut current));
        }
        if current.is_empty() {
            current.push_str(&indent);
            if !out.is_empty() {
                current.push_str("  ");
            }
        } else {
            current.push(' ');
        }
        let mut rest = word;
        while current.chars().count() + rest.chars().count() > width && !rest.is_empty() {
            let room = width.saturating_sub(current.chars().count()).max(1);
            let split = rest.char_indices().nth(room).map_or(rest.len(), |(i, _)| i);
            current.push_str(&rest[..split]);
            out.push(std::mem::take(&mut current));
            current.push_str(&indent);
            current.push_str("  ");
            rest = &rest[split..];
        }
        current.push_str(rest);
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

/// The document: `title` in the PDF's metadata, `lines` on as many pages as
/// they need.
pub fn render(title: &str, lines: &[String]) -> Vec<u8> {
    let wrapped: Vec<String> = lines.iter().flat_map(|l| wrap(l, WRAP)).collect();
    let per_page = ((PAGE_H - 2.0 * MARGIN) / LEADING) as usize - 2;
    let pages: Vec<&[String]> = if wrapped.is_empty() {
        vec![&[]]
    } else {
        wrapped.chunks(per_page.max(1)).collect()
    };
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let font = Ref::new(3);
    let info = Ref::new(4);
    let font_name = Name(b"F1");
    let page_ids: Vec<Ref> = (0..pages.len())
        .map(|i| Ref::new(5 + 2 * i as i32))
        .collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(pages.len() as i32);
    pdf.type1_font(font)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.document_info(info)
        .title(pdf_writer::TextStr(title))
        .producer(pdf_writer::TextStr("lsn-ops"));
    for (n, (chunk, id)) in pages.iter().zip(&page_ids).enumerate() {
        let content_id = Ref::new(id.get() + 1);
        let mut page = pdf.page(*id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
        page.parent(tree);
        page.contents(content_id);
        page.resources().fonts().pair(font_name, font);
        page.finish();
        let mut content = Content::new();
        content.begin_text();
        content.set_font(font_name, SIZE);
        content.set_leading(LEADING);
        content.next_line(MARGIN, PAGE_H - MARGIN);
        for line in chunk.iter() {
            content.show(Str(&win_ansi(line)));
            content.next_line_using_leading();
        }
        content.end_text();
        content.begin_text();
        content.set_font(font_name, 8.0);
        content.next_line(MARGIN, MARGIN / 2.0);
        let footer = format!("{title} - page {} of {}", n + 1, pages.len());
        content.show(Str(&win_ansi(&footer)));
        content.end_text();
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces_and_keeps_the_indent() {
        let line = format!("   {}", "word ".repeat(40));
        let out = wrap(&line, 30);
        assert!(out.len() > 1);
        assert!(out.iter().all(|l| l.chars().count() <= 30), "{out:?}");
        assert!(out.iter().all(|l| l.starts_with("   ")));
        let long = "x".repeat(70);
        let out = wrap(&long, 30);
        assert_eq!(out.concat().replace(' ', ""), long);
        assert_eq!(wrap("short", 30), vec!["short".to_string()]);
    }

    #[test]
    fn a_pdf_with_pages_for_every_line() {
        let lines: Vec<String> = (0..200).map(|i| format!("line {i}")).collect();
        let pdf = render("Pack PP-D-1", &lines);
        assert!(pdf.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/Count 4"), "200 lines need 4 pages");
        assert!(text.contains("(line 199)"));
        assert!(text.contains("page 4 of 4"));
        assert_eq!(win_ansi("é✓ – x"), vec![0xe9, b'?', b' ', b'-', b' ', b'x']);
    }
}
