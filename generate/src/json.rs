//! JSON output: the line writer, string escaping, and hand-written number, UUID, base64 and
//! timestamp formatting.

use super::NS;
use super::entities::{Ip, Oid, Person};

/// Fractional digits of a timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Frac {
    Secs,
    Millis,
    Micros,
    /// Nanoseconds with trailing zeros trimmed (Go's RFC3339Nano: 1–9 digits).
    Nanos,
}

impl Frac {
    /// The step between representable instants, in nanoseconds.
    pub(super) fn grid(self) -> i64 {
        match self {
            Self::Secs => NS,
            Self::Millis => 1_000_000,
            Self::Micros => 1_000,
            Self::Nanos => 1,
        }
    }
}

/// Appends JSON to a line buffer. A comma goes before every member or element unless the
/// previous byte opened an object or array. Keys are trusted literals and are not escaped.
pub(super) struct Json<'a>(pub(super) &'a mut Vec<u8>);

impl Json<'_> {
    fn comma(&mut self) {
        if !matches!(self.0.last(), Some(b'{' | b'[')) {
            self.0.push(b',');
        }
    }

    pub(super) fn key(&mut self, key: &str) -> &mut Self {
        debug_assert!(!key.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20));
        self.comma();
        self.0.push(b'"');
        self.0.extend_from_slice(key.as_bytes());
        self.0.extend_from_slice(b"\":");
        self
    }

    pub(super) fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.parts(key, &[value])
    }

    /// A string member whose value is the concatenation of `parts`.
    pub(super) fn parts(&mut self, key: &str, parts: &[&str]) -> &mut Self {
        self.key(key).0.push(b'"');
        for part in parts {
            escape_into(self.0, part);
        }
        self.0.push(b'"');
        self
    }

    pub(super) fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.key(key).0.extend_from_slice(json.as_bytes());
        self
    }

    pub(super) fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.raw(key, if value { "true" } else { "false" })
    }

    pub(super) fn null(&mut self, key: &str) -> &mut Self {
        self.raw(key, "null")
    }

    pub(super) fn num(&mut self, key: &str, value: u64) -> &mut Self {
        push_u64(self.key(key).0, value);
        self
    }

    pub(super) fn oid(&mut self, key: &str, id: Oid) -> &mut Self {
        self.key(key).0.push(b'"');
        push_hex(self.0, u64::from(id.secs), 8, false);
        push_hex(self.0, id.bits, 16, false);
        self.0.push(b'"');
        self
    }

    pub(super) fn uuid(&mut self, key: &str, hi: u64, lo: u64, upper: bool) -> &mut Self {
        self.key(key).0.push(b'"');
        push_uuid(self.0, hi, lo, upper);
        self.0.push(b'"');
        self
    }

    pub(super) fn ip(&mut self, key: &str, ip: Ip) -> &mut Self {
        self.key(key).0.push(b'"');
        for (i, octet) in ip.addr.into_iter().enumerate() {
            if i > 0 {
                self.0.push(b'.');
            }
            push_u64(self.0, octet.into());
        }
        self.0.push(b'"');
        self
    }

    pub(super) fn obj(&mut self, key: &str) -> &mut Self {
        self.key(key).0.push(b'{');
        self
    }

    pub(super) fn arr(&mut self, key: &str) -> &mut Self {
        self.key(key).0.push(b'[');
        self
    }

    /// Opens an object as an array element.
    pub(super) fn item(&mut self) -> &mut Self {
        self.comma();
        self.0.push(b'{');
        self
    }

    pub(super) fn end(&mut self) -> &mut Self {
        self.0.push(b'}');
        self
    }

    pub(super) fn end_arr(&mut self) -> &mut Self {
        self.0.push(b']');
        self
    }

    /// `"key":"<username>@example<N>.com"`.
    pub(super) fn email(&mut self, key: &str, p: &Person) -> &mut Self {
        self.key(key).0.push(b'"');
        escape_into(self.0, p.username.as_str());
        self.0.extend_from_slice(b"@example");
        push_u64(self.0, p.domain);
        self.0.extend_from_slice(b".com\"");
        self
    }

    /// `"key":{"id","type","username","email"}`; made-up names have no id or e-mail.
    pub(super) fn person(&mut self, key: &str, kind: &str, p: &Person) -> &mut Self {
        self.person_members(key, kind, p);
        if p.id.is_some() {
            self.email("email", p);
        }
        self.end()
    }

    /// `"key":{"id","type","username"}`, the shape of SSO and device sign-ins.
    pub(super) fn user_ref(&mut self, key: &str, kind: &str, p: &Person) -> &mut Self {
        self.person_members(key, kind, p).end()
    }

    /// Opens `key` and writes `id` (if known), `type` and `username`.
    fn person_members(&mut self, key: &str, kind: &str, p: &Person) -> &mut Self {
        self.obj(key);
        if let Some(id) = p.id {
            self.oid("id", id);
        }
        self.str("type", kind).str("username", p.username.as_str())
    }

    /// `"key":{"id","type","email"}`, the shape DI uses for administrators.
    pub(super) fn admin(&mut self, key: &str, kind: &str, p: &Person) -> &mut Self {
        self.obj(key);
        if let Some(id) = p.id {
            self.oid("id", id);
        }
        self.str("type", kind).email("email", p).end()
    }

    /// `"key":{"id","type","name"}`.
    pub(super) fn named(&mut self, key: &str, id: Oid, kind: &str, name: &str) -> &mut Self {
        self.obj(key).oid("id", id).str("type", kind);
        self.str("name", name).end()
    }

    /// `changes` with one string field changed.
    pub(super) fn change(&mut self, field: &str, from: &str, to: &str) -> &mut Self {
        self.arr("changes").item().str("field", field);
        self.str("from", from).str("to", to).end().end_arr()
    }

    /// An array of strings.
    pub(super) fn strs(&mut self, key: &str, items: &[&str]) -> &mut Self {
        self.arr(key);
        for item in items {
            self.comma();
            self.0.push(b'"');
            escape_into(self.0, item);
            self.0.push(b'"');
        }
        self.end_arr()
    }

    /// `success` and, on failure, `error_message`.
    pub(super) fn outcome(&mut self, fail: Option<&str>) -> &mut Self {
        self.bool("success", fail.is_none());
        self.error(fail)
    }

    pub(super) fn error(&mut self, fail: Option<&str>) -> &mut Self {
        if let Some(message) = fail {
            self.str("error_message", message);
        }
        self
    }
}

/// Appends `s` with JSON string escaping (without quotes).
pub(super) fn escape_into(b: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if !bytes.iter().any(|&c| c == b'"' || c == b'\\' || c < 0x20) {
        b.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &c) in bytes.iter().enumerate() {
        let short: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1F => b"",
            _ => continue,
        };
        b.extend_from_slice(&bytes[start..i]);
        if short.is_empty() {
            b.extend_from_slice(b"\\u00");
            push_hex(b, u64::from(c), 2, false);
        } else {
            b.extend_from_slice(short);
        }
        start = i + 1;
    }
    b.extend_from_slice(&bytes[start..]);
}

fn push_u64(b: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    b.extend_from_slice(&digits[i..]);
}

/// Appends `v` as exactly `width` decimal digits (zero-padded, high digits cut).
fn push_padded(b: &mut Vec<u8>, mut v: u64, width: usize) {
    let at = b.len();
    b.resize(at + width, b'0');
    for slot in b[at..].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

fn push_hex(b: &mut Vec<u8>, v: u64, digits: u32, upper: bool) {
    let alphabet = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    for i in (0..digits).rev() {
        b.push(alphabet[((v >> (i * 4)) & 0xF) as usize]);
    }
}

fn push_uuid(b: &mut Vec<u8>, hi: u64, lo: u64, upper: bool) {
    push_hex(b, hi >> 32, 8, upper);
    b.push(b'-');
    push_hex(b, hi >> 16, 4, upper);
    b.push(b'-');
    push_hex(b, hi, 4, upper);
    b.push(b'-');
    push_hex(b, lo >> 48, 4, upper);
    b.push(b'-');
    push_hex(b, lo, 12, upper);
}

pub(super) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            let digit = ALPHABET[(n >> (18 - 6 * i) & 63) as usize];
            out.push(if i <= chunk.len() {
                char::from(digit)
            } else {
                '='
            });
        }
    }
    out
}

/// Appends `YYYY-MM-DDTHH:MM:SS` for seconds since the Unix epoch (proleptic Gregorian).
fn push_datetime(b: &mut Vec<u8>, secs: i64) {
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let fields = [
        (year, 4),
        (month, 2),
        (day, 2),
        (sod / 3600, 2),
        (sod / 60 % 60, 2),
    ];
    for ((value, width), separator) in fields.into_iter().zip(*b"--T::") {
        push_padded(b, value.unsigned_abs(), width);
        b.push(separator);
    }
    push_padded(b, (sod % 60) as u64, 2);
}

/// Appends an RFC 3339 UTC timestamp with the given fractional digits.
pub(super) fn push_timestamp(b: &mut Vec<u8>, ns: i64, frac: Frac) {
    push_datetime(b, ns.div_euclid(NS));
    let sub = ns.rem_euclid(NS) as u64;
    let (mut value, mut width) = match frac {
        Frac::Secs => (0, 0),
        Frac::Millis => (sub / 1_000_000, 3),
        Frac::Micros => (sub / 1_000, 6),
        Frac::Nanos => (sub, 9),
    };
    if frac == Frac::Nanos {
        while width > 0 && value % 10 == 0 {
            value /= 10;
            width -= 1;
        }
    }
    if width > 0 {
        b.push(b'.');
        push_padded(b, value, width);
    }
    b.push(b'Z');
}

/// Appends `"YYYY-MM-DDTHH:MM:SS+hh:mm"`, a device's local clock.
pub(super) fn push_local_time(b: &mut Vec<u8>, secs: i64, offset_minutes: i32) {
    b.push(b'"');
    push_datetime(b, secs + i64::from(offset_minutes) * 60);
    b.push(if offset_minutes < 0 { b'-' } else { b'+' });
    let offset = offset_minutes.unsigned_abs();
    push_padded(b, u64::from(offset / 60), 2);
    b.push(b':');
    push_padded(b, u64::from(offset % 60), 2);
    b.push(b'"');
}
