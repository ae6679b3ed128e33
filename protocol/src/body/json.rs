//! A pull reader of JSON with the exact syntax rules of Go 1.19's `encoding/json` scanner.
//!
//! dockerd checks the whole value's syntax before it decodes anything. The decoder (`go.rs`)
//! reads the body in one pass instead and keeps reading after a type error, so every syntax
//! error is still found and still wins over type errors. Values the decoder does not want are
//! skipped without recursion (nesting is bounded by Go's own limit of 10000, not by our
//! stack). Strings are unquoted as Go does: `\uXXXX` escapes with surrogate pairs, a lone
//! surrogate and every byte of invalid UTF-8 become U+FFFD.

use std::borrow::Cow;

use super::BodyError;

/// Go's `maxNestingDepth`: a value may hold at most this many nested arrays and objects.
pub const MAX_NESTING_DEPTH: usize = 10_000;

/// What may follow the top-level value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trailing {
    /// Only whitespace after the value: what every caller wants.
    Refuse,
    /// Anything may follow (dockerd's plugin client reads one value and stops).
    Ignore,
}

/// Why reading failed, boxed: the reader's results then fit in registers, which the hot
/// paths feel, and failures are rare.
pub(crate) type Failure = Box<BodyError>;

#[cold]
fn syntax(offset: usize, reason: &str) -> Failure {
    Box::new(BodyError::Syntax {
        offset,
        reason: reason.to_owned(),
    })
}

/// A cursor over one JSON body. The caller reads a value by looking at its first byte
/// ([`Reader::value_start`]) and calling the matching method; containers are walked with
/// [`Reader::enter_object`]/[`Reader::next_member`] and [`Reader::enter_array`]/
/// [`Reader::next_element`], which also keep Go's nesting count.
pub(crate) struct Reader<'a> {
    input: &'a [u8],
    /// The whole input, when it is valid UTF-8 (every real body is): then any slice between
    /// two ASCII bytes is valid UTF-8 too, and literals borrow from it without re-checking.
    text: Option<&'a str>,
    pos: usize,
    /// Arrays and objects open around the current position.
    depth: usize,
    /// While skipping: for each container open inside the skipped value, whether it is an
    /// object. Kept between skips so that only the first deep skip allocates.
    skipping: Vec<bool>,
}

impl<'a> Reader<'a> {
    pub fn new(input: &'a [u8]) -> Reader<'a> {
        Reader {
            input,
            text: std::str::from_utf8(input).ok(),
            pos: 0,
            depth: 0,
            skipping: Vec::new(),
        }
    }

    /// Before the top-level value: Go's decoder reports an empty body as EOF.
    pub fn start(&mut self) -> Result<(), Failure> {
        self.skip_space();
        if self.pos == self.input.len() {
            return Err(syntax(self.pos, "empty body (Go: EOF)"));
        }
        Ok(())
    }

    /// After the top-level value.
    pub fn finish(&mut self, trailing: Trailing) -> Result<(), Failure> {
        if trailing == Trailing::Refuse {
            self.skip_space();
            if self.pos < self.input.len() {
                return Err(Box::new(BodyError::TrailingContent { offset: self.pos }));
            }
        }
        Ok(())
    }

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
    fn expect_space_then(&mut self, what: &str) -> Result<u8, Failure> {
        self.skip_space();
        match self.peek() {
            Some(c) => Ok(c),
            None => Err(self.unexpected_end(what)),
        }
    }

    #[cold]
    fn unexpected_end(&self, what: &str) -> Failure {
        syntax(
            self.pos,
            &format!("unexpected end of JSON input, wanted {what}"),
        )
    }

    /// The first byte of the next value (after whitespace), not consumed.
    #[inline]
    pub fn value_start(&mut self) -> Result<u8, Failure> {
        self.expect_space_then("a value")
    }

    /// Consumes the `{` or `[` at the cursor, counting it against Go's nesting limit.
    #[inline]
    fn open(&mut self) -> Result<(), Failure> {
        if self.depth >= MAX_NESTING_DEPTH {
            return Err(Box::new(BodyError::TooDeep { offset: self.pos }));
        }
        self.depth += 1;
        self.pos += 1;
        Ok(())
    }

    /// Enters the object at the cursor; `true` when a member follows (then read its key).
    #[inline]
    pub fn enter_object(&mut self) -> Result<bool, Failure> {
        self.open()?;
        if self.expect_space_then("a key or '}'")? == b'}' {
            self.pos += 1;
            self.depth -= 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// After a member's value: `true` when another member follows (then read its key),
    /// `false` when the object closed.
    #[inline]
    pub fn next_member(&mut self) -> Result<bool, Failure> {
        match self.expect_space_then("',' or a closing bracket")? {
            b',' => {
                self.pos += 1;
                self.skip_space();
                Ok(true)
            }
            b'}' => {
                self.pos += 1;
                self.depth -= 1;
                Ok(false)
            }
            _ => Err(syntax(
                self.pos,
                "invalid character after object key:value pair",
            )),
        }
    }

    /// Enters the array at the cursor; `true` when an element follows.
    #[inline]
    pub fn enter_array(&mut self) -> Result<bool, Failure> {
        self.open()?;
        if self.expect_space_then("a value or ']'")? == b']' {
            self.pos += 1;
            self.depth -= 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// After an element: `true` when another element follows, `false` when the array closed.
    #[inline]
    pub fn next_element(&mut self) -> Result<bool, Failure> {
        match self.expect_space_then("',' or a closing bracket")? {
            b',' => {
                self.pos += 1;
                Ok(true)
            }
            b']' => {
                self.pos += 1;
                self.depth -= 1;
                Ok(false)
            }
            _ => Err(syntax(self.pos, "invalid character after array element")),
        }
    }

    /// Reads `"key"` and the `:` after it (the cursor is at the key, whitespace skipped).
    #[inline(always)]
    pub fn key(&mut self) -> Result<Cow<'a, str>, Failure> {
        if self.peek() != Some(b'"') {
            return Err(syntax(
                self.pos,
                "invalid character looking for beginning of object key string",
            ));
        }
        let key = self.string()?;
        if self.expect_space_then("':'")? != b':' {
            return Err(syntax(self.pos, "invalid character after object key"));
        }
        self.pos += 1;
        Ok(key)
    }

    /// Reads `"name":` when the key at the cursor (whitespace skipped) is spelt exactly
    /// `name`, a name that needs no escaping; otherwise consumes nothing and says `false`.
    #[inline(always)]
    pub fn exact_key(&mut self, name: &[u8]) -> Result<bool, Failure> {
        let start = self.pos + 1;
        let end = start + name.len();
        let spelt = self.peek() == Some(b'"')
            && self.input.get(end) == Some(&b'"')
            && same_bytes(&self.input[start..end], name);
        if !spelt {
            return Ok(false);
        }
        self.pos = end + 1;
        if self.expect_space_then("':'")? != b':' {
            return Err(syntax(self.pos, "invalid character after object key"));
        }
        self.pos += 1;
        Ok(true)
    }

    /// Consumes the literal (`true`, `false`, `null`) starting at the cursor.
    #[inline]
    pub fn literal(&mut self) -> Result<Literal, Failure> {
        let (len, literal) = match self.peek() {
            Some(b't') if self.next_is(b"true") => (4, Literal::True),
            Some(b'f') if self.next_is(b"false") => (5, Literal::False),
            Some(b'n') if self.next_is(b"null") => (4, Literal::Null),
            _ => return Err(self.bad_literal()),
        };
        self.pos += len;
        Ok(literal)
    }

    /// Whether the input at the cursor starts with `text` (compared as one fixed-size word).
    #[inline(always)]
    fn next_is<const N: usize>(&self, text: &[u8; N]) -> bool {
        self.input
            .get(self.pos..self.pos + N)
            .is_some_and(|bytes| bytes == text)
    }

    /// The error for a literal that is not spelt out: at its first wrong byte.
    #[cold]
    fn bad_literal(&self) -> Failure {
        let text: &[u8] = match self.peek() {
            Some(b't') => b"true",
            Some(b'f') => b"false",
            _ => b"null",
        };
        let wrong = text
            .iter()
            .enumerate()
            .find(|&(i, &want)| self.input.get(self.pos + i) != Some(&want))
            .map_or(self.pos + text.len(), |(i, _)| self.pos + i);
        syntax(wrong, "invalid character in literal")
    }

    /// The error for a byte that cannot start a value.
    #[cold]
    pub fn invalid_value_start(&self) -> Failure {
        syntax(self.pos, "invalid character looking for beginning of value")
    }

    /// Skips one value, checking its syntax; nested containers are tracked without recursion.
    pub fn skip_value(&mut self) -> Result<(), Failure> {
        let base = self.skipping.len();
        loop {
            match self.value_start()? {
                b'{' => {
                    if self.enter_object()? {
                        self.skipping.push(true);
                        self.key()?;
                        continue;
                    }
                }
                b'[' => {
                    if self.enter_array()? {
                        self.skipping.push(false);
                        continue;
                    }
                }
                b'"' => {
                    self.string()?;
                }
                b't' | b'f' | b'n' => {
                    self.literal()?;
                }
                b'-' | b'0'..=b'9' => {
                    self.number()?;
                }
                _ => return Err(self.invalid_value_start()),
            }
            // A value just ended: close every container it ended, up to the next value.
            loop {
                if self.skipping.len() == base {
                    return Ok(());
                }
                let in_object = self.skipping[self.skipping.len() - 1];
                if in_object {
                    if self.next_member()? {
                        self.key()?;
                        break;
                    }
                } else if self.next_element()? {
                    break;
                }
                self.skipping.pop();
            }
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, exactly Go's scanner states.
    #[inline]
    pub fn number(&mut self) -> Result<&'a str, Failure> {
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

    /// Reads the string literal at the cursor (the scanner's rules) and unquotes it (Go's
    /// `unquoteBytes`).
    ///
    /// Go's `unquoteBytes` returns the bytes untouched when they hold no escape and no
    /// invalid UTF-8; that case borrows. Everything else takes the rune-by-rune path.
    #[inline(always)]
    pub fn string(&mut self) -> Result<Cow<'a, str>, Failure> {
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
    #[inline(always)]
    fn text_between(&self, start: usize, end: usize) -> Option<&'a str> {
        match self.text {
            Some(text) => text.get(start..end),
            None => std::str::from_utf8(&self.input[start..end]).ok(),
        }
    }

    /// The rune-by-rune unquoting of a literal with escapes or invalid UTF-8.
    #[cold]
    #[inline(never)]
    fn unquote_slowly(&mut self) -> Result<String, Failure> {
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

    fn escape(&mut self, out: &mut String) -> Result<(), Failure> {
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
    fn hex4(&self, at: usize) -> Result<u32, Failure> {
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

/// `a == b` for a field name and a key, without a library call for names of up to 16 bytes
/// (all of ours but a few): two overlapping 8-byte words cover them.
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    fn word(bytes: &[u8], at: usize) -> u64 {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(word)
    }
    if a.len() != b.len() {
        return false;
    }
    if a.len() < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let last = a.len() - 8;
    word(a, 0) == word(b, 0)
        && word(a, last) == word(b, last)
        && (a.len() <= 16 || a[8..last] == b[8..last])
}

/// How many bytes at the start of `bytes` belong to the plain part of a string literal
/// (up to the first byte of [`ENDS_PLAIN_STRING`], or all of them). Eight bytes at a time:
/// in each word, the lowest byte flagged by the zero-byte test is always a true match (only
/// bytes above a match can be flagged falsely), so the first flagged byte is the answer.
#[inline(always)]
fn plain_len(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    /// The high bit of each byte of `word` that is below `n` (`n` <= 0x80).
    fn bytes_below(word: u64, n: u8) -> u64 {
        word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS
    }
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
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

/// A literal value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Literal {
    True,
    False,
    Null,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads one value as the decoder would and skips it: the syntax check alone.
    fn check(input: &[u8], trailing: Trailing) -> Result<(), BodyError> {
        let mut reader = Reader::new(input);
        let mut read = || {
            reader.start()?;
            reader.skip_value()?;
            reader.finish(trailing)
        };
        read().map_err(|failure| *failure)
    }

    /// The strings of a JSON array of strings, as read.
    fn strings(input: &[u8]) -> Vec<Cow<'_, str>> {
        let mut reader = Reader::new(input);
        let mut out = Vec::new();
        assert_eq!(reader.value_start().unwrap(), b'[');
        let mut more = reader.enter_array().unwrap();
        while more {
            assert_eq!(reader.value_start().unwrap(), b'"');
            out.push(reader.string().unwrap());
            more = reader.next_element().unwrap();
        }
        out
    }

    #[test]
    fn skipping_a_value_stops_right_after_it() {
        let input = br#"{"a":[1,{},"x\"y"],"b":null} 7"#;
        let mut reader = Reader::new(input);
        reader.skip_value().unwrap();
        assert_eq!(reader.value_start().unwrap(), b'7');
        assert_eq!(reader.depth, 0);
    }

    #[test]
    fn each_invalid_utf8_byte_becomes_one_replacement_character() {
        assert_eq!(
            strings(b"[\"a\xF0\x9F\x98b\"]"),
            ["a\u{FFFD}\u{FFFD}\u{FFFD}b"]
        );
    }

    #[test]
    fn literals_without_escapes_borrow_from_the_body_unchanged() {
        let read = strings("[\"plain\",\"héllo\",\"a\\\"b\"]".as_bytes());
        assert!(matches!(&read[0], Cow::Borrowed("plain")));
        assert!(matches!(&read[1], Cow::Borrowed("héllo")));
        assert!(matches!(&read[2], Cow::Owned(s) if s == "a\"b"));
        // Invalid UTF-8 elsewhere in the body does not stop a valid literal from borrowing.
        let read = strings(b"[\"\xFF\",\"ok\"]");
        assert!(matches!(&read[0], Cow::Owned(s) if s == "\u{FFFD}"));
        assert!(matches!(&read[1], Cow::Borrowed("ok")));
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
        assert_eq!(strings(br#"["\ud83d\ude00"]"#), ["😀"]);
        assert_eq!(strings(br#"["\ud800\u0041"]"#), ["\u{FFFD}A"]);
        assert_eq!(strings(br#"["\udc00"]"#), ["\u{FFFD}"]);
    }

    #[test]
    fn a_misspelt_literal_is_refused_at_its_first_wrong_byte() {
        for (bad, offset) in [
            ("tru", 3),
            ("trUe", 2),
            ("nul!", 3),
            ("fals", 4),
            ("[x]", 1),
        ] {
            assert!(
                matches!(
                    check(bad.as_bytes(), Trailing::Refuse),
                    Err(BodyError::Syntax { offset: at, .. }) if at == offset
                ),
                "{bad}"
            );
        }
        for good in ["true", "false", "null", "[true,false,null]"] {
            assert!(check(good.as_bytes(), Trailing::Refuse).is_ok(), "{good}");
        }
    }

    #[test]
    fn go_number_grammar_is_enforced() {
        for bad in ["01", "1.", ".5", "+1", "1e", "-", "0x10", "1.e3"] {
            assert!(check(bad.as_bytes(), Trailing::Refuse).is_err(), "{bad}");
        }
        for good in ["0", "-0", "1.5e+3", "12E-1"] {
            assert!(check(good.as_bytes(), Trailing::Refuse).is_ok(), "{good}");
        }
    }

    #[test]
    fn nesting_deeper_than_go_allows_is_refused_without_recursion() {
        let ok = "[".repeat(MAX_NESTING_DEPTH) + &"]".repeat(MAX_NESTING_DEPTH);
        assert!(check(ok.as_bytes(), Trailing::Refuse).is_ok());
        let deep = "[".repeat(MAX_NESTING_DEPTH + 1) + &"]".repeat(MAX_NESTING_DEPTH + 1);
        assert!(matches!(
            check(deep.as_bytes(), Trailing::Refuse),
            Err(BodyError::TooDeep { .. })
        ));
    }

    #[test]
    fn trailing_content_is_refused_or_ignored_as_asked() {
        assert!(matches!(
            check(b"{} }", Trailing::Refuse),
            Err(BodyError::TrailingContent { offset: 3 })
        ));
        assert!(check(b"{} \n", Trailing::Refuse).is_ok());
        assert!(check(b"{}garbage", Trailing::Ignore).is_ok());
        // Go's Decoder stops right after a top-level literal too: `null}` is `null`.
        assert!(check(b"null}", Trailing::Ignore).is_ok());
    }

    #[test]
    fn control_characters_and_bad_escapes_in_strings_are_syntax_errors() {
        for bad in ["\"a\u{1}\"", r#""\x""#, r#""\'""#, r#""\u12g4""#, "\"abc"] {
            assert!(check(bad.as_bytes(), Trailing::Refuse).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn empty_and_blank_bodies_are_syntax_errors() {
        for blank in ["", " \n\t"] {
            assert!(matches!(
                check(blank.as_bytes(), Trailing::Refuse),
                Err(BodyError::Syntax { .. })
            ));
        }
    }
}
