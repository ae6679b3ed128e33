//! A JSON syntax checker and tokeniser with the exact rules of Go 1.19's `encoding/json` scanner.
//!
//! dockerd checks the whole value's syntax before it decodes anything, so this module does the
//! same: it validates one value and records it as a flat tape of tokens. The tape is built
//! without recursion (nesting is bounded by Go's own limit of 10000, not by our stack) and every
//! container token knows where it ends, so a decoder can skip an unknown value in O(1).
//! Strings are unquoted as Go does: `\uXXXX` escapes with surrogate pairs, a lone surrogate and
//! every byte of invalid UTF-8 become U+FFFD.

use std::borrow::Cow;

use super::BodyError;

/// Go's `maxNestingDepth`: a value may hold at most this many nested arrays and objects.
pub const MAX_NESTING_DEPTH: usize = 10_000;

/// One token of a validated JSON value, borrowing from the body wherever it can.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as its literal text (Go parses it only once it knows the target type).
    Number(&'a str),
    /// A string, unquoted: borrowed when the literal has no escape and is valid UTF-8 (then
    /// unquoting changes nothing), owned otherwise.
    String(Cow<'a, str>),
    /// `[`; `end` is the index of the first token after the array.
    Array {
        /// Index of the token following the whole array.
        end: usize,
    },
    /// `{`, followed by key/value token pairs; `end` is the index after the whole object.
    Object {
        /// Index of the token following the whole object.
        end: usize,
    },
}

/// A validated JSON value as a flat list of tokens; index 0 is the value itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tape<'a> {
    pub tokens: Vec<Token<'a>>,
}

impl<'a> Tape<'a> {
    /// The index of the token after the value starting at `at`.
    pub fn next(&self, at: usize) -> usize {
        match self.tokens[at] {
            Token::Array { end } | Token::Object { end } => end,
            _ => at + 1,
        }
    }

    /// Indices of the elements of the array starting at `at`.
    pub fn elements(&self, at: usize) -> impl Iterator<Item = usize> + '_ {
        let end = self.next(at);
        let mut i = at + 1;
        std::iter::from_fn(move || {
            (i < end).then(|| {
                let element = i;
                i = self.next(i);
                element
            })
        })
    }

    /// `(key, value index)` pairs of the object starting at `at`, in body order.
    pub fn members(&self, at: usize) -> impl Iterator<Item = (&str, usize)> + '_ {
        let end = self.next(at);
        let mut i = at + 1;
        std::iter::from_fn(move || {
            (i < end).then(|| {
                let key = match &self.tokens[i] {
                    Token::String(key) => key.as_ref(),
                    // The tokeniser only ever writes a string token in key position.
                    _ => "",
                };
                let value = i + 1;
                i = self.next(value);
                (key, value)
            })
        })
    }
}

/// What a finished value is followed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trailing {
    /// Only whitespace after the value: what every caller wants.
    Refuse,
    /// Anything may follow (dockerd's plugin client reads one value and stops).
    Ignore,
}

/// Validates one JSON value at the start of `input` (after optional whitespace).
pub(crate) fn tokenize(input: &[u8], trailing: Trailing) -> Result<Tape<'_>, BodyError> {
    let mut scanner = Scanner {
        input,
        text: std::str::from_utf8(input).ok(),
        pos: 0,
        // Real bodies hold about one token per ten bytes; one allocation covers most.
        tokens: Vec::with_capacity(input.len() / 8 + 4),
        open: Vec::with_capacity(16),
    };
    scanner.skip_space();
    if scanner.pos == input.len() {
        return Err(syntax(scanner.pos, "empty body (Go: EOF)"));
    }
    scanner.value()?;
    if trailing == Trailing::Refuse {
        scanner.skip_space();
        if scanner.pos < input.len() {
            return Err(BodyError::TrailingContent {
                offset: scanner.pos,
            });
        }
    }
    Ok(Tape {
        tokens: scanner.tokens,
    })
}

fn syntax(offset: usize, reason: &str) -> BodyError {
    BodyError::Syntax {
        offset,
        reason: reason.to_owned(),
    }
}

/// Where the scanner is inside an open container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    /// In an array; the token index of its `[`.
    Array(usize),
    /// In an object; the token index of its `{`.
    Object(usize),
}

struct Scanner<'a> {
    input: &'a [u8],
    /// The whole input, when it is valid UTF-8 (every real body is): then any slice between
    /// two ASCII bytes is valid UTF-8 too, and literals borrow from it without re-checking.
    text: Option<&'a str>,
    pos: usize,
    tokens: Vec<Token<'a>>,
    open: Vec<Open>,
}

impl<'a> Scanner<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    #[inline]
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    #[inline]
    fn expect_space_then(&mut self, what: &str) -> Result<u8, BodyError> {
        self.skip_space();
        match self.peek() {
            Some(c) => Ok(c),
            None => Err(self.unexpected_end(what)),
        }
    }

    #[cold]
    fn unexpected_end(&self, what: &str) -> BodyError {
        syntax(
            self.pos,
            &format!("unexpected end of JSON input, wanted {what}"),
        )
    }

    /// Reads one complete value; containers are handled with an explicit stack.
    fn value(&mut self) -> Result<(), BodyError> {
        // Each turn reads the start of a value, then closes whatever containers end after it.
        loop {
            let c = self.expect_space_then("a value")?;
            match c {
                b'{' | b'[' => {
                    if self.open.len() >= MAX_NESTING_DEPTH {
                        return Err(BodyError::TooDeep { offset: self.pos });
                    }
                    self.pos += 1;
                    let index = self.tokens.len();
                    if c == b'{' {
                        self.tokens.push(Token::Object { end: 0 });
                        self.open.push(Open::Object(index));
                        let next = self.expect_space_then("a key or '}'")?;
                        if next == b'}' {
                            self.pos += 1;
                            self.close()?;
                        } else {
                            self.key()?;
                            continue;
                        }
                    } else {
                        self.tokens.push(Token::Array { end: 0 });
                        self.open.push(Open::Array(index));
                        let next = self.expect_space_then("a value or ']'")?;
                        if next == b']' {
                            self.pos += 1;
                            self.close()?;
                        } else {
                            continue;
                        }
                    }
                }
                b'"' => {
                    let s = self.string()?;
                    self.tokens.push(Token::String(s));
                }
                b't' => self.literal(b"true", Token::Bool(true))?,
                b'f' => self.literal(b"false", Token::Bool(false))?,
                b'n' => self.literal(b"null", Token::Null)?,
                b'-' | b'0'..=b'9' => {
                    let n = self.number()?;
                    self.tokens.push(Token::Number(n));
                }
                _ => {
                    return Err(syntax(
                        self.pos,
                        "invalid character looking for beginning of value",
                    ))
                }
            }
            // A value just ended: decide what follows in the enclosing container.
            if !self.after_value()? {
                return Ok(());
            }
        }
    }

    /// After a complete value: consumes `,` (returns true: another value follows) or closing
    /// brackets (closing containers) until the top level is done (returns false).
    fn after_value(&mut self) -> Result<bool, BodyError> {
        loop {
            let Some(&open) = self.open.last() else {
                return Ok(false);
            };
            let c = self.expect_space_then("',' or a closing bracket")?;
            match (open, c) {
                (Open::Array(_), b',') => {
                    self.pos += 1;
                    return Ok(true);
                }
                (Open::Object(_), b',') => {
                    self.pos += 1;
                    let c = self.expect_space_then("a key")?;
                    if c != b'"' {
                        return Err(syntax(
                            self.pos,
                            "invalid character looking for beginning of object key string",
                        ));
                    }
                    self.key()?;
                    return Ok(true);
                }
                (Open::Array(_), b']') | (Open::Object(_), b'}') => {
                    self.pos += 1;
                    self.close()?;
                }
                (Open::Array(_), _) => {
                    return Err(syntax(self.pos, "invalid character after array element"))
                }
                (Open::Object(_), _) => {
                    return Err(syntax(
                        self.pos,
                        "invalid character after object key:value pair",
                    ))
                }
            }
        }
    }

    /// Reads `"key"` and the `:` after it.
    fn key(&mut self) -> Result<(), BodyError> {
        if self.peek() != Some(b'"') {
            return Err(syntax(
                self.pos,
                "invalid character looking for beginning of object key string",
            ));
        }
        let key = self.string()?;
        self.tokens.push(Token::String(key));
        let c = self.expect_space_then("':'")?;
        if c != b':' {
            return Err(syntax(self.pos, "invalid character after object key"));
        }
        self.pos += 1;
        Ok(())
    }

    /// Closes the innermost container, recording where it ends.
    fn close(&mut self) -> Result<(), BodyError> {
        let end = self.tokens.len();
        match self.open.pop() {
            Some(Open::Array(index)) | Some(Open::Object(index)) => {
                match &mut self.tokens[index] {
                    Token::Array { end: e } | Token::Object { end: e } => *e = end,
                    _ => return Err(syntax(self.pos, "internal: container index")),
                }
                Ok(())
            }
            None => Err(syntax(self.pos, "internal: close without open")),
        }
    }

    fn literal(&mut self, text: &[u8], token: Token<'a>) -> Result<(), BodyError> {
        for (i, &want) in text.iter().enumerate() {
            if self.input.get(self.pos + i) != Some(&want) {
                return Err(syntax(self.pos + i, "invalid character in literal"));
            }
        }
        self.pos += text.len();
        self.tokens.push(token);
        Ok(())
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, exactly Go's scanner states.
    fn number(&mut self) -> Result<&'a str, BodyError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(syntax(self.pos, "invalid character in numeric literal")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(syntax(
                    self.pos,
                    "invalid character after decimal point in numeric literal",
                ));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(syntax(
                    self.pos,
                    "invalid character in exponent of numeric literal",
                ));
            }
            self.digits();
        }
        // The literal is ASCII by construction, so this never fails.
        self.text_between(start, self.pos)
            .ok_or_else(|| syntax(start, "internal: non-ASCII number"))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    /// Reads a string literal (the scanner's rules) and unquotes it (Go's `unquoteBytes`).
    ///
    /// Go's `unquoteBytes` returns the bytes untouched when they hold no escape and no
    /// invalid UTF-8; that case borrows. Everything else takes the rune-by-rune path.
    fn string(&mut self) -> Result<Cow<'a, str>, BodyError> {
        let start = self.pos + 1; // after the opening quote
        let end = start + plain_len(&self.input[start..]);
        if self.input.get(end) == Some(&b'"') {
            if let Some(text) = self.text_between(start, end) {
                self.pos = end + 1;
                return Ok(Cow::Borrowed(text));
            }
        }
        self.unquote_slowly().map(Cow::Owned)
    }

    /// `input[start..end]` as text, when it is valid UTF-8; both ends must be ASCII bytes
    /// (or the end of input) for the whole-input shortcut to apply.
    fn text_between(&self, start: usize, end: usize) -> Option<&'a str> {
        match self.text {
            Some(text) => text.get(start..end),
            None => std::str::from_utf8(&self.input[start..end]).ok(),
        }
    }

    /// The rune-by-rune unquoting of a literal with escapes or invalid UTF-8.
    fn unquote_slowly(&mut self) -> Result<String, BodyError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(syntax(
                    self.pos,
                    "unexpected end of JSON input in string literal",
                ));
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => self.escape(&mut out)?,
                0..=0x1f => return Err(syntax(self.pos, "invalid character in string literal")),
                0x20..=0x7f => {
                    out.push(char::from(c));
                    self.pos += 1;
                }
                _ => {
                    // Go's utf8.DecodeRune: a valid sequence is one rune, anything else is
                    // U+FFFD for exactly one byte.
                    let width = utf8_width(c);
                    let end = self.pos + width;
                    match self.input.get(self.pos..end).map(std::str::from_utf8) {
                        Some(Ok(text)) if width > 0 => {
                            out.push_str(text);
                            self.pos = end;
                        }
                        _ => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pos += 1;
                        }
                    }
                }
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), BodyError> {
        let Some(c) = self.input.get(self.pos + 1).copied() else {
            return Err(syntax(
                self.pos,
                "unexpected end of JSON input in string escape",
            ));
        };
        let simple = match c {
            b'"' => Some('"'),
            b'\\' => Some('\\'),
            b'/' => Some('/'),
            b'b' => Some('\u{8}'),
            b'f' => Some('\u{c}'),
            b'n' => Some('\n'),
            b'r' => Some('\r'),
            b't' => Some('\t'),
            b'u' => None,
            _ => {
                return Err(syntax(
                    self.pos + 1,
                    "invalid character in string escape code",
                ))
            }
        };
        if let Some(ch) = simple {
            out.push(ch);
            self.pos += 2;
            return Ok(());
        }
        let first = self.hex4(self.pos + 2)?;
        self.pos += 6;
        if (0xD800..0xE000).contains(&first) {
            // A high surrogate followed by `\u` + a low surrogate is one rune; any other
            // surrogate stands alone and becomes U+FFFD (the next escape is read on its own).
            let second = if self.input.get(self.pos..self.pos + 2) == Some(b"\\u") {
                self.hex4(self.pos + 2).ok()
            } else {
                None
            };
            if let Some(low) = second {
                if (0xD800..0xDC00).contains(&first) && (0xDC00..0xE000).contains(&low) {
                    let code = 0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00);
                    out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                    self.pos += 6;
                    return Ok(());
                }
            }
            out.push(char::REPLACEMENT_CHARACTER);
            return Ok(());
        }
        out.push(char::from_u32(first).unwrap_or(char::REPLACEMENT_CHARACTER));
        Ok(())
    }

    /// Four hex digits at `at`, as the scanner requires after `\u`.
    fn hex4(&self, at: usize) -> Result<u32, BodyError> {
        let mut value = 0u32;
        for i in 0..4 {
            let digit = self
                .input
                .get(at + i)
                .and_then(|&b| char::from(b).to_digit(16))
                .ok_or_else(|| {
                    syntax(
                        at + i,
                        "invalid character in \\u hexadecimal character escape",
                    )
                })?;
            value = value * 16 + digit;
        }
        Ok(value)
    }
}

/// The bytes that end the plain part of a string literal: the closing quote, a backslash
/// (an escape follows) and the control characters Go refuses.
static ENDS_PLAIN_STRING: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// How many bytes at the start of `bytes` belong to the plain part of a string literal
/// (up to the first byte of [`ENDS_PLAIN_STRING`], or all of them). Eight bytes at a time:
/// in each word, the lowest byte flagged by the zero-byte test is always a true match (only
/// bytes above a match can be flagged falsely), so the first flagged byte is the answer.
fn plain_len(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    /// The high bit of each byte of `word` that is below `n` (`n` <= 0x80).
    fn bytes_below(word: u64, n: u8) -> u64 {
        word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS
    }
    let mut at = 0;
    for chunk in bytes.chunks_exact(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let hits = bytes_below(word ^ (ONES * u64::from(b'"')), 1)
            | bytes_below(word ^ (ONES * u64::from(b'\\')), 1)
            | bytes_below(word, 0x20);
        if hits != 0 {
            return at + (hits.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + bytes[at..]
        .iter()
        .position(|&b| ENDS_PLAIN_STRING[usize::from(b)])
        .unwrap_or(bytes.len() - at)
}

/// The length a UTF-8 sequence starting with `lead` claims; 0 for a byte that cannot lead.
fn utf8_width(lead: u8) -> usize {
    match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(input: &str) -> Vec<Token<'_>> {
        tokenize(input.as_bytes(), Trailing::Refuse).unwrap().tokens
    }

    #[test]
    fn container_tokens_record_where_they_end() {
        assert_eq!(
            tokens(r#"{"a":[1,{}],"b":null}"#),
            vec![
                Token::Object { end: 7 },
                Token::String("a".into()),
                Token::Array { end: 5 },
                Token::Number("1"),
                Token::Object { end: 5 },
                Token::String("b".into()),
                Token::Null,
            ]
        );
    }

    #[test]
    fn each_invalid_utf8_byte_becomes_one_replacement_character() {
        let tape = tokenize(b"\"a\xF0\x9F\x98b\"", Trailing::Refuse).unwrap();
        assert_eq!(
            tape.tokens,
            vec![Token::String("a\u{FFFD}\u{FFFD}\u{FFFD}b".into())]
        );
    }

    #[test]
    fn literals_without_escapes_borrow_from_the_body_unchanged() {
        let tape = tokenize(
            "[\"plain\",\"héllo\",\"a\\\"b\"]".as_bytes(),
            Trailing::Refuse,
        )
        .unwrap();
        assert!(matches!(
            &tape.tokens[1],
            Token::String(Cow::Borrowed("plain"))
        ));
        assert!(matches!(
            &tape.tokens[2],
            Token::String(Cow::Borrowed("héllo"))
        ));
        assert!(matches!(&tape.tokens[3], Token::String(Cow::Owned(s)) if s == "a\"b"));
        // Invalid UTF-8 elsewhere in the body does not stop a valid literal from borrowing.
        let tape = tokenize(b"[\"\xFF\",\"ok\"]", Trailing::Refuse).unwrap();
        assert!(matches!(&tape.tokens[1], Token::String(Cow::Owned(s)) if s == "\u{FFFD}"));
        assert!(matches!(
            &tape.tokens[2],
            Token::String(Cow::Borrowed("ok"))
        ));
    }

    #[test]
    fn plain_prefix_ends_at_the_first_quote_backslash_or_control_byte() {
        let by_table = |bytes: &[u8]| {
            bytes
                .iter()
                .position(|&b| ENDS_PLAIN_STRING[usize::from(b)])
                .unwrap_or(bytes.len())
        };
        let fillers: [u8; 6] = [b'a', b' ', 0x7f, 0x80, 0xff, b'!'];
        let stops: [u8; 5] = [b'"', b'\\', 0x00, 0x1f, b'\n'];
        for len in 0..20 {
            for &filler in &fillers {
                let mut bytes = vec![filler; len];
                assert_eq!(plain_len(&bytes), len);
                for at in 0..len {
                    for &stop in &stops {
                        bytes[at] = stop;
                        // A second stop later on must not change the answer.
                        if at + 3 < len {
                            bytes[at + 3] = b'"';
                        }
                        assert_eq!(plain_len(&bytes), by_table(&bytes), "{bytes:?}");
                        assert_eq!(plain_len(&bytes), at);
                        bytes = vec![filler; len];
                    }
                }
            }
        }
    }

    #[test]
    fn surrogate_pairs_join_and_lone_surrogates_are_replaced() {
        assert_eq!(
            tokens(r#""\ud83d\ude00""#),
            vec![Token::String("😀".into())]
        );
        assert_eq!(
            tokens(r#""\ud800\u0041""#),
            vec![Token::String("\u{FFFD}A".into())]
        );
        assert_eq!(
            tokens(r#""\udc00""#),
            vec![Token::String("\u{FFFD}".into())]
        );
    }

    #[test]
    fn go_number_grammar_is_enforced() {
        for bad in ["01", "1.", ".5", "+1", "1e", "-", "0x10", "1.e3"] {
            assert!(tokenize(bad.as_bytes(), Trailing::Refuse).is_err(), "{bad}");
        }
        for good in ["0", "-0", "1.5e+3", "12E-1"] {
            assert!(
                tokenize(good.as_bytes(), Trailing::Refuse).is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn nesting_deeper_than_go_allows_is_refused_without_recursion() {
        let ok = "[".repeat(MAX_NESTING_DEPTH) + &"]".repeat(MAX_NESTING_DEPTH);
        assert!(tokenize(ok.as_bytes(), Trailing::Refuse).is_ok());
        let deep = "[".repeat(MAX_NESTING_DEPTH + 1) + &"]".repeat(MAX_NESTING_DEPTH + 1);
        assert!(matches!(
            tokenize(deep.as_bytes(), Trailing::Refuse),
            Err(BodyError::TooDeep { .. })
        ));
    }

    #[test]
    fn trailing_content_is_refused_or_ignored_as_asked() {
        assert!(matches!(
            tokenize(b"{} }", Trailing::Refuse),
            Err(BodyError::TrailingContent { offset: 3 })
        ));
        assert!(tokenize(b"{} \n", Trailing::Refuse).is_ok());
        assert!(tokenize(b"{}garbage", Trailing::Ignore).is_ok());
        // Go's Decoder stops right after a top-level literal too: `null}` is `null`.
        assert!(tokenize(b"null}", Trailing::Ignore).is_ok());
    }

    #[test]
    fn control_characters_and_bad_escapes_in_strings_are_syntax_errors() {
        for bad in ["\"a\u{1}\"", r#""\x""#, r#""\'""#, r#""\u12g4""#, "\"abc"] {
            assert!(
                tokenize(bad.as_bytes(), Trailing::Refuse).is_err(),
                "{bad:?}"
            );
        }
    }
}
