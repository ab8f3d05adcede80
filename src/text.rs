//! One rule for outside text that we write down: at most [`MAX_SHOWN`] bytes
//! of any one value reach a log line, a stored error, an alert's details or
//! the screen, with the original length noted (issue 18: a 600 KB Twilio
//! `RoomName` once filled the log, the stored error and the alert).
//!
//! Use [`clip`] wherever a value that came from outside (a provider's payload,
//! a header, an error built from them) is formatted into one of those places.

use std::borrow::Cow;

/// Most bytes of one value written to a log, a stored error, an alert or the screen.
pub const MAX_SHOWN: usize = 1024;

/// `value` unchanged when it is at most [`MAX_SHOWN`] bytes, else its first
/// bytes (cut at a character boundary) and `… [truncated, N bytes in all]`.
pub fn clip(value: &str) -> Cow<'_, str> {
    clip_to(value, MAX_SHOWN)
}

/// [`clip`] with another limit (for places with less room, e.g. one line).
pub fn clip_to(value: &str, max: usize) -> Cow<'_, str> {
    if value.len() <= max {
        return Cow::Borrowed(value);
    }
    let mut cut = max;
    while !value.is_char_boundary(cut) {
        cut -= 1;
    }
    Cow::Owned(format!(
        "{}… [truncated, {} bytes in all]",
        &value[..cut],
        value.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_pass_and_long_ones_are_cut_with_their_length() {
        assert_eq!(clip("RM0001"), "RM0001");
        let long = "x".repeat(600_000);
        let shown = clip(&long);
        assert!(shown.len() < MAX_SHOWN + 64, "{}", shown.len());
        assert!(shown.ends_with("… [truncated, 600000 bytes in all]"));
        // Never inside a character.
        let wide = "é".repeat(1000);
        let shown = clip_to(&wide, 5);
        assert!(shown.starts_with("éé…"), "{shown}");
    }
}
