//! Looks: colours from a theme file (`assets/themes/*.toml`, built in, or any
//! path), reduced to 16 colours or to none (`NO_COLOR`) as the terminal needs,
//! and the symbol set (Unicode or ASCII, for terminals without UTF-8).

use std::collections::BTreeMap;
use std::str::FromStr;

use figment::Figment;
use figment::providers::{Format, Toml};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;
use serde::Deserialize;

/// The themes shipped in `assets/themes/`, compiled into the binary.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("default", include_str!("../../assets/themes/default.toml")),
    (
        "high-contrast",
        include_str!("../../assets/themes/high-contrast.toml"),
    ),
    ("light", include_str!("../../assets/themes/light.toml")),
];

/// How many colours the terminal can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorMode {
    /// `NO_COLOR`: bold, reverse and underline only.
    None,
    /// The 16 basic ANSI colours.
    Ansi16,
    /// 256 colours or true colour.
    Full,
}

impl ColorMode {
    /// From the environment: `NO_COLOR` (any non-empty value), then `COLORTERM`/`TERM`.
    pub fn detect(env: impl Fn(&str) -> Option<String>) -> ColorMode {
        if env("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return ColorMode::None;
        }
        let colorterm = env("COLORTERM").unwrap_or_default().to_lowercase();
        let term = env("TERM").unwrap_or_default().to_lowercase();
        if colorterm.contains("truecolor") || colorterm.contains("24bit") || term.contains("256") {
            ColorMode::Full
        } else {
            ColorMode::Ansi16
        }
    }
}

/// Whether the locale promises UTF-8 (LC_ALL, then LC_CTYPE, then LANG).
pub fn locale_is_utf8(env: impl Fn(&str) -> Option<String>) -> bool {
    for key in ["LC_ALL", "LC_CTYPE", "LANG"] {
        if let Some(value) = env(key).filter(|v| !v.is_empty()) {
            let v = value.to_lowercase();
            return v.contains("utf-8") || v.contains("utf8");
        }
    }
    false
}

/// Box drawing and markers.
#[derive(Debug, Clone, Copy)]
pub struct Symbols {
    pub border: border::Set<'static>,
    pub focus_border: border::Set<'static>,
    pub select: &'static str,
    pub dot: &'static str,
    pub up: &'static str,
    pub down: &'static str,
    pub sep: &'static str,
    pub flag: &'static str,
}

pub const UNICODE: Symbols = Symbols {
    border: border::ROUNDED,
    focus_border: border::THICK,
    select: "▶ ",
    dot: "●",
    up: "▲",
    down: "▼",
    sep: "│",
    flag: "⚑",
};

pub const ASCII_BORDER: border::Set<'static> = border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

pub const ASCII_FOCUS_BORDER: border::Set<'static> = border::Set {
    top_left: "#",
    top_right: "#",
    bottom_left: "#",
    bottom_right: "#",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "=",
    horizontal_bottom: "=",
};

pub const ASCII: Symbols = Symbols {
    border: ASCII_BORDER,
    focus_border: ASCII_FOCUS_BORDER,
    select: "> ",
    dot: "*",
    up: "^",
    down: "v",
    sep: "|",
    flag: "!",
};

#[derive(Debug, Deserialize)]
struct ThemeFile {
    name: String,
    colors: BTreeMap<String, String>,
}

/// Resolved styles, ready to draw with.
#[derive(Debug, Clone)]
pub struct Theme {
    pub name: String,
    pub mode: ColorMode,
    pub sym: Symbols,
    pub text: Style,
    pub muted: Style,
    pub accent: Style,
    pub title: Style,
    pub border: Style,
    pub border_focus: Style,
    pub selected: Style,
    pub critical: Style,
    /// P0 and critical: impossible to miss (white on red, bold; reversed without colour).
    pub alarm: Style,
    pub warning: Style,
    pub ok: Style,
    pub info: Style,
    pub header: Style,
}

impl Theme {
    /// A built-in theme by name, or a theme file by path.
    pub fn load(name_or_path: &str, mode: ColorMode, ascii: bool) -> Result<Theme, String> {
        let text = match BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
            Some((_, text)) => (*text).to_string(),
            None => std::fs::read_to_string(name_or_path).map_err(|e| {
                let names: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
                format!(
                    "[tui] theme: \"{name_or_path}\" is neither a built-in theme ({}) nor a readable file: {e}",
                    names.join(", ")
                )
            })?,
        };
        Self::parse(&text, mode, ascii).map_err(|e| format!("[tui] theme {name_or_path}: {e}"))
    }

    /// The default theme; it is compiled in, so this cannot fail.
    pub fn default_with(mode: ColorMode, ascii: bool) -> Theme {
        Self::parse(BUILT_IN[0].1, mode, ascii).unwrap_or_else(|_| Self::plain(mode, ascii))
    }

    fn plain(mode: ColorMode, ascii: bool) -> Theme {
        let s = Style::new();
        Theme {
            name: "plain".into(),
            mode,
            sym: if ascii { ASCII } else { UNICODE },
            text: s,
            muted: s,
            accent: s,
            title: s.add_modifier(Modifier::BOLD),
            border: s,
            border_focus: s.add_modifier(Modifier::BOLD),
            selected: s.add_modifier(Modifier::REVERSED),
            critical: s.add_modifier(Modifier::BOLD),
            alarm: s.add_modifier(Modifier::BOLD | Modifier::REVERSED),
            warning: s.add_modifier(Modifier::BOLD),
            ok: s,
            info: s,
            header: s,
        }
    }

    pub fn parse(text: &str, mode: ColorMode, ascii: bool) -> Result<Theme, String> {
        let file: ThemeFile = Figment::new()
            .merge(Toml::string(text))
            .extract()
            .map_err(|e| e.to_string())?;
        let color = |key: &str, fallback: Color| -> Result<Color, String> {
            let c = match file.colors.get(key) {
                Some(v) => Color::from_str(v).map_err(|_| {
                    format!("colors.{key} = \"{v}\" is not a colour (a name, #rrggbb or 0-255)")
                })?,
                None => fallback,
            };
            Ok(match mode {
                ColorMode::Full => c,
                ColorMode::Ansi16 => to_ansi16(c),
                ColorMode::None => Color::Reset,
            })
        };
        let mut t = Self::plain(mode, ascii);
        t.name = file.name.clone();
        if mode == ColorMode::None {
            return Ok(t);
        }
        let fg = |key: &str, fallback: Color| color(key, fallback).map(|c| Style::new().fg(c));
        t.text = fg("text", Color::Reset)?;
        t.muted = fg("muted", Color::DarkGray)?;
        t.accent = fg("accent", Color::Cyan)?;
        t.title = fg("title", Color::LightCyan)?.add_modifier(Modifier::BOLD);
        t.border = fg("border", Color::DarkGray)?;
        t.border_focus = fg("border_focus", Color::Cyan)?.add_modifier(Modifier::BOLD);
        t.selected = Style::new()
            .fg(color("selection_fg", Color::Black)?)
            .bg(color("selection_bg", Color::Cyan)?)
            .add_modifier(Modifier::BOLD);
        t.critical = fg("critical", Color::Red)?.add_modifier(Modifier::BOLD);
        t.alarm = Style::new()
            .fg(color("critical_fg", Color::White)?)
            .bg(color("critical_bg", Color::Red)?)
            .add_modifier(Modifier::BOLD);
        t.warning = fg("warning", Color::Yellow)?;
        t.ok = fg("ok", Color::Green)?;
        t.info = fg("info", Color::Blue)?;
        t.header = Style::new().bg(color("header_bg", Color::Reset)?);
        Ok(t)
    }
}

/// The nearest of the 16 basic colours.
pub fn to_ansi16(c: Color) -> Color {
    let (r, g, b) = match c {
        Color::Rgb(r, g, b) => (r, g, b),
        Color::Indexed(i) if i < 16 => {
            return [
                Color::Black,
                Color::Red,
                Color::Green,
                Color::Yellow,
                Color::Blue,
                Color::Magenta,
                Color::Cyan,
                Color::Gray,
                Color::DarkGray,
                Color::LightRed,
                Color::LightGreen,
                Color::LightYellow,
                Color::LightBlue,
                Color::LightMagenta,
                Color::LightCyan,
                Color::White,
            ][usize::from(i)];
        }
        Color::Indexed(i) if i >= 232 => {
            let v = 8 + (i - 232) * 10;
            (v, v, v)
        }
        Color::Indexed(i) => {
            let i = i - 16;
            let level = |x: u8| if x == 0 { 0 } else { 55 + x * 40 };
            (level(i / 36), level(i / 6 % 6), level(i % 6))
        }
        other => return other,
    };
    PALETTE
        .iter()
        .min_by_key(|(_, rgb)| {
            let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).pow(2);
            d(r, rgb.0) + d(g, rgb.1) + d(b, rgb.2)
        })
        .map_or(Color::Reset, |(c, _)| *c)
}

/// The 16 basic colours as xterm shows them by default.
const PALETTE: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

/// A colour's RGB (basic colours as xterm shows them); `None` for the
/// terminal's own default.
pub fn rgb(c: Color) -> Option<(u8, u8, u8)> {
    match c {
        Color::Rgb(r, g, b) => Some((r, g, b)),
        Color::Reset => None,
        other => PALETTE
            .iter()
            .find(|(p, _)| *p == other)
            .map(|(_, v)| *v)
            .or_else(|| rgb(to_ansi16(other)).filter(|_| to_ansi16(other) != other)),
    }
}

/// WCAG 2 contrast ratio of two colours (1 to 21).
pub fn contrast(a: (u8, u8, u8), b: (u8, u8, u8)) -> f64 {
    let lum = |(r, g, b): (u8, u8, u8)| {
        let ch = |v: u8| {
            let v = f64::from(v) / 255.0;
            if v <= 0.039_28 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b)
    };
    let (x, y) = (lum(a), lum(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn every_built_in_theme_parses_in_every_mode() {
        for (name, _) in BUILT_IN {
            for mode in [ColorMode::Full, ColorMode::Ansi16, ColorMode::None] {
                let t = Theme::load(name, mode, false).expect(name);
                assert_eq!(&t.name, name);
            }
        }
    }

    #[test]
    fn no_color_means_no_colour_at_all() {
        assert_eq!(
            ColorMode::detect(env(&[("NO_COLOR", "1"), ("COLORTERM", "truecolor")])),
            ColorMode::None
        );
        let t = Theme::load("default", ColorMode::None, false).expect("default");
        for s in [t.critical, t.alarm, t.selected, t.warning, t.ok] {
            assert_eq!(s.fg, None);
            assert_eq!(s.bg, None);
        }
        assert!(t.alarm.add_modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn sixteen_colour_fallback_maps_rgb_to_basic() {
        assert_eq!(
            ColorMode::detect(env(&[("TERM", "xterm")])),
            ColorMode::Ansi16
        );
        assert_eq!(
            ColorMode::detect(env(&[("TERM", "screen-256color")])),
            ColorMode::Full
        );
        assert_eq!(to_ansi16(Color::Rgb(255, 95, 95)), Color::LightRed);
        assert_eq!(to_ansi16(Color::Rgb(10, 10, 10)), Color::Black);
        let t = Theme::load("default", ColorMode::Ansi16, false).expect("default");
        assert!(!matches!(t.selected.bg, Some(Color::Rgb(..))));
    }

    #[test]
    fn locale_decides_unicode() {
        assert!(locale_is_utf8(env(&[("LANG", "en_US.UTF-8")])));
        assert!(!locale_is_utf8(env(&[("LANG", "C")])));
        assert!(!locale_is_utf8(env(&[
            ("LC_ALL", "POSIX"),
            ("LANG", "en_US.UTF-8")
        ])));
        assert!(!locale_is_utf8(env(&[])));
    }

    #[test]
    fn unknown_theme_names_the_choices() {
        let err = Theme::load("nope", ColorMode::Full, false).unwrap_err();
        assert!(err.contains("default, high-contrast, light"), "{err}");
    }

    /// The light theme on a light (white) terminal background: every text
    /// colour reads at 4.5:1 or more, borders at 3:1 (WCAG 2).
    #[test]
    fn the_light_theme_reads_on_a_light_background() {
        let white = (255, 255, 255);
        let t = Theme::load("light", ColorMode::Full, false).expect("light");
        for (name, style, min) in [
            ("muted", t.muted, 4.5),
            ("accent", t.accent, 4.5),
            ("title", t.title, 4.5),
            ("critical", t.critical, 4.5),
            ("warning", t.warning, 4.5),
            ("ok", t.ok, 4.5),
            ("info", t.info, 4.5),
            ("border", t.border, 3.0),
            ("border_focus", t.border_focus, 3.0),
        ] {
            let fg = style.fg.and_then(rgb).expect("a colour");
            let c = contrast(fg, white);
            assert!(c >= min, "light theme {name}: contrast {c:.2} < {min}");
        }
        // The selection and the alarm: their own background, readable text.
        for (name, style) in [("selected", t.selected), ("alarm", t.alarm)] {
            let fg = style.fg.and_then(rgb).expect("fg");
            let bg = style.bg.and_then(rgb).expect("bg");
            let c = contrast(fg, bg);
            assert!(c >= 4.5, "light theme {name}: contrast {c:.2}");
        }
    }
}
